//! A HAR that `frametap convert` wrote, imported into the real Chrome DevTools of headless Chromium as a user imports
//! one: DevTools (devtools://devtools/bundled/devtools_app.html, the frontend Chromium ships) open in a tab, its
//! Network tab clicked, the HAR given to the panel's "Import HAR file" input. Then each WebSocket's Messages tab, as
//! DevTools draws it, holds every message: direction, text, binary as "Binary message" with its size, times to the
//! millisecond, and for an upgrade that failed the red error row saying why. What DevTools requires field by field:
//! har_devtools.rs.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod cdp;
mod common;

use std::time::Duration;

use anyhow::Context as _;
use cdp::{Browser, Page};
use common::binary::frametap_command;
use common::har::{capture_with_failures, write_capture};
use serde_json::{json, Value};

/// How long DevTools gets to start, take the HAR and draw a tab, on a busy two-core machine.
const WAIT: Duration = Duration::from_secs(60);

/// An expression finding the first element matching `selector` through every shadow root (DevTools draws its panels
/// in shadow DOM).
fn deep(selector: &str) -> String {
    format!(
        "(() => {{ const walk = (root) => {{ for (const e of root.querySelectorAll('*')) {{ \
           if (e.matches({sel})) return e; if (e.shadowRoot) {{ const f = walk(e.shadowRoot); if (f) return f; }} }} \
           return null; }}; return walk(document); }})()",
        sel = serde_json::to_string(selector).unwrap()
    )
}

/// Loads DevTools' own modules into the page's globals, as `window.devtools.<name>` (the same module instances the
/// frontend runs).
async fn load_modules(devtools: &Page) -> anyhow::Result<()> {
    let modules = [
        ("logs", "models/logs/logs.js"),
        ("common", "core/common/common.js"),
        ("forward", "panels/network/forward/forward.js"),
    ];
    let loads: Vec<String> = modules
        .iter()
        .map(|(name, path)| format!("{name}: await import('devtools://devtools/bundled/{path}')"))
        .collect();
    devtools.eval(&format!("(async () => {{ window.devtools = {{ {} }}; return true; }})()", loads.join(", "))).await?;
    Ok(())
}

/// Opens DevTools in a tab and its Network panel with a click on its tab, as a user does.
async fn open_network_panel(browser: &Browser) -> anyhow::Result<Page> {
    let devtools = browser.new_page().await?;
    // DevTools shows message times in local time: UTC here, whatever the machine's zone.
    devtools.call("Emulation.setTimezoneOverride", json!({"timezoneId": "UTC"})).await?;
    devtools.goto("devtools://devtools/bundled/devtools_app.html").await?;
    devtools.bring_to_front().await?;
    devtools.wait_for(&deep("#tab-network"), WAIT).await.context("DevTools drew no Network tab")?;
    let centre = devtools
        .eval(&format!("(() => {{ const r = {}.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()", deep("#tab-network")))
        .await?;
    let (x, y) = (centre[0].as_f64().context("no x")?, centre[1].as_f64().context("no y")?);
    devtools.mouse("mousePressed", x, y).await?;
    devtools.mouse("mouseReleased", x, y).await?;
    load_modules(&devtools).await?;
    Ok(devtools)
}

/// Gives `har` to the Network panel's "Import HAR file" input (the file chooser its toolbar button opens) and waits
/// until DevTools lists `entries` requests from it; an error with DevTools' own words when it refuses the file.
async fn import_har(devtools: &Page, har: &std::path::Path, entries: usize) -> anyhow::Result<()> {
    let input = deep("input[type=file]");
    devtools.wait_for(&input, WAIT).await.context("the Network panel has no file input")?;
    let found = devtools.call("Runtime.evaluate", json!({"expression": input})).await?;
    let object = found["result"]["objectId"].as_str().context("no file input object")?;
    devtools.call("DOM.setFileInputFiles", json!({"files": [har.display().to_string()], "objectId": object})).await?;
    let imported =
        "devtools.logs.NetworkLog.NetworkLog.instance().requests().filter(r => r.requestId().startsWith('har-'))";
    let refused = "devtools.common.Console.Console.instance().messages().map(m => m.text).filter(t => /HAR/.test(t))";
    let done = devtools.wait_for(&format!("{imported}.length >= {entries} || {refused}.length > 0"), WAIT).await;
    let said = devtools.eval(refused).await?;
    anyhow::ensure!(said == json!([]), "DevTools refused the HAR: {said}");
    done.context("DevTools listed no request from the HAR")?;
    Ok(())
}

/// The rows of the Messages tab of the `index`th WebSocket DevTools lists (it sorts them by start), once it drew
/// `rows` of them: `[direction, data, length, time]`, the direction being the row's class (send, receive, error).
async fn messages_tab(devtools: &Page, index: usize, rows: usize) -> anyhow::Result<Vec<[String; 4]>> {
    devtools
        .eval(&format!(
            "(async () => {{ const r = devtools.logs.NetworkLog.NetworkLog.instance().requests()\
               .filter(r => r.requestId().startsWith('har-') && r.resourceType().name() === 'websocket')[{index}]; \
             const F = devtools.forward.UIRequestLocation; \
             await devtools.common.Revealer.reveal(F.UIRequestLocation.tab(r, F.UIRequestTabs.WS_FRAMES)); \
             return true; }})()"
        ))
        .await?;
    let read = "(() => { const out = []; const walk = (root) => { \
                  for (const tr of root.querySelectorAll('tr')) { \
                    const kind = /resource-chunk-view-row-(\\w+)/.exec(tr.className); \
                    if (kind && tr.checkVisibility()) out.push([kind[1], ...[...tr.querySelectorAll('td')].slice(0, 3).map(td => td.textContent.trim())]); } \
                  for (const e of root.querySelectorAll('*')) if (e.shadowRoot) walk(e.shadowRoot); }; \
                walk(document); return out; })()";
    let drawn = devtools.wait_for(&format!("{read}.length === {rows} && {read}"), WAIT).await;
    let shown = devtools.eval(read).await?;
    drawn.with_context(|| format!("request {index}: the Messages tab shows {shown}, not {rows} rows"))?;
    Ok(serde_json::from_value(shown)?)
}

/// `[direction, data, length, time]` of a row of the Messages tab.
fn row(kind: &str, data: &str, length: &str, time: &str) -> [String; 4] {
    [kind, data, length, time].map(str::to_owned)
}

/// `frametap convert IN OUT`, which must succeed.
fn convert(input: &std::path::Path, output: &std::path::Path) {
    let converted = frametap_command().arg("convert").arg(input).arg(output).output().unwrap();
    assert!(converted.status.success(), "{}", String::from_utf8_lossy(&converted.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chrome_devtools_imports_a_frametap_har_and_shows_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("session.jsonl");
    let har = dir.path().join("session.har");
    write_capture(&capture, &capture_with_failures());
    convert(&capture, &har);

    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let devtools = open_network_panel(&browser).await.unwrap_or_else(|e| panic!("{e:#}"));
    import_har(&devtools, &har, 5).await.unwrap_or_else(|e| panic!("{e:#}"));

    // What DevTools made of each entry: every one a WebSocket (so it has a Messages tab), in capture order.
    let listed: Value = devtools
        .eval(
            "devtools.logs.NetworkLog.NetworkLog.instance().requests().filter(r => r.requestId().startsWith('har-'))\
               .map(r => [r.url(), r.resourceType().name(), r.statusCode, r.requestHeaders().length, r.frames().length])",
        )
        .await
        .unwrap();
    let url = "wss://example.com/v1?deploymentId=6c1b2f0e";
    assert_eq!(
        listed,
        json!([
            [format!("{url}&application=a%20b"), "websocket", 101, 7, 7],
            ["ws://localhost/", "websocket", 403, 0, 1],
            ["ws://unknown/", "websocket", 0, 0, 1],
            [url, "websocket", 0, 1, 1],
            [url, "websocket", 101, 1, 1],
        ])
    );

    // The Messages tab as drawn: text as sent (a message sent in fragments whole, "café 😀" split mid-character
    // included), binary as "Binary message" with its size (a no-break space before the unit), an empty text; each
    // at its time to the millisecond.
    let connection = messages_tab(&devtools, 0, 7).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        connection,
        [
            row("send", r#"{"action":"configureSession","token":"t"}"#, "41", "11:06:41.234"),
            row("receive", "{\"body\":\"caf\u{e9} \u{1f600}\"}", "18", "11:06:47.407"),
            row("send", "Binary message", "5\u{a0}B", "11:06:48.641"),
            row("send", "", "0", "11:06:51.111"),
            row("send", "Binary message", "7\u{a0}B", "11:06:56.049"),
            row("receive", "Binary message", "4\u{a0}B", "11:06:57.283"),
            row("receive", "Binary message", "4\u{a0}B", "11:06:58.518"),
        ]
    );
    // Each upgrade that failed: the red error row saying why, when it failed.
    let failures = [
        (1, "Error during WebSocket handshake: Unexpected response code: 403", "11:06:40.005"),
        (3, "could not connect to example.com:443: Connection refused", "11:06:44.001"),
        (4, "the upstream's Sec-WebSocket-Accept is wrong", "11:06:45.002"),
    ];
    for (index, why, when) in failures {
        let rows = messages_tab(&devtools, index, 1).await.unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(rows, [row("error", why, "N/A", when)], "request {index}");
    }
    assert_eq!(browser.page_errors(), Vec::<String>::new());
}

/// Chromium 156's own HAR export (tests/fixtures/har/chrome156-sim.har: a talking WebSocket, one refused by the
/// network, one refused by the server), through frametap (`convert` to a capture, then back to a HAR), shows in
/// DevTools as Chrome's own HAR does: each WebSocket's Messages tab row for row, error rows included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chrome_har_through_frametap_shows_in_devtools_as_chrome_s_own() {
    let dir = tempfile::tempdir().unwrap();
    let chrome = common::har::fixture("chrome156-sim.har");
    let capture = dir.path().join("session.jsonl");
    let again = dir.path().join("again.har");
    convert(&chrome, &capture);
    convert(&capture, &again);

    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    // Chrome's HAR also holds a plain HTTP request, which frametap leaves out: 4 requests, 3 of them WebSockets.
    let mut shown = Vec::new();
    for (har, requests) in [(&chrome, 4), (&again, 3)] {
        let devtools = open_network_panel(&browser).await.unwrap_or_else(|e| panic!("{e:#}"));
        import_har(&devtools, har, requests).await.unwrap_or_else(|e| panic!("{e:#}"));
        let mut tabs = Vec::new();
        for (index, rows) in [(0, 1), (1, 3), (2, 1)] {
            tabs.push(
                messages_tab(&devtools, index, rows).await.unwrap_or_else(|e| panic!("{}: {e:#}", har.display())),
            );
        }
        shown.push(tabs);
    }
    assert_eq!(shown[1], shown[0], "frametap's HAR shows as Chrome's");
    assert_eq!(shown[0][0][0][..2], ["error", "Error in connection establishment: net::ERR_CONNECTION_REFUSED"]);
    let kinds: Vec<&str> = shown[0][1].iter().map(|row| row[0].as_str()).collect();
    assert_eq!(kinds, ["send", "receive", "send"]);
    assert_eq!(shown[0][1][2][1..3], ["Binary message", "5\u{a0}B"]);
    assert_eq!(shown[0][2][0][..2], ["error", "Error during WebSocket handshake: Unexpected response code: 400"]);
}
