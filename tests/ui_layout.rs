//! The web UI in a real headless Chromium, on what exploratory testing found: markers and downloads that
//! ran off screen, a banner that pushed the table down, durations of upgrades that never opened, keyboard
//! focus lost to the list's live refresh, the 5,000-row note, payloads re-serialised, and a stopped frametap.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod cdp;
mod common;

use std::time::Duration;

use cdp::fixtures::{self, publish, start_ui};
use cdp::{Browser, Page};
use frametap::event::{Opcode, Peer};
use frametap::ui::{Hub, HubOptions};

const WAIT: Duration = Duration::from_secs(10);

async fn open_page(browser: &Browser, url: &str) -> Page {
    let page = browser.new_page().await.unwrap();
    page.set_viewport(1400, 900).await.unwrap();
    page.goto(url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    page
}

async fn truth(page: &Page, expression: &str) -> bool {
    page.eval(expression).await.unwrap().as_bool().unwrap_or_else(|| panic!("not a boolean: {expression}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_downloads_and_the_table_stay_on_screen_and_focus_stays_put() {
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 2);
    publish(&hub, fixtures::open(3, &format!("/v1?deploymentId=abc&access_token={}", "x".repeat(1500))));
    let as_sent = r#"{"n": 12345678901234567890123, "a": 1, "a": 2}"#;
    publish(&hub, fixtures::frame(3, 1, Peer::Client, Opcode::Text, as_sent.as_bytes(), 10));
    fixtures::publish_refused(&hub, 4);
    let ui = start_ui(hub, None).await;
    let page = open_page(&browser, &ui.url).await;

    // The diagnosis marker fits in the connection list.
    let marker = "document.querySelector('#conn-list li[data-conn=\"2\"] .diag-marker')";
    page.wait_for(marker, WAIT).await.unwrap();
    let fits = format!(
        "(() => {{ const m = {marker}.getBoundingClientRect(), l = document.getElementById('conn-list').getBoundingClientRect(); return m.width > 0 && m.right <= l.right; }})()"
    );
    assert!(truth(&page, &fits).await, "the ⚑ diagnosis marker is cut off by the list's edge");

    // A refused upgrade shows how long it took to fail (not its handshake round trip), and does not count up.
    assert!(truth(&page, "document.querySelector('#conn-list li[data-conn=\"4\"] [data-since]') === null").await);
    let refused = page.eval("document.querySelector('#conn-list li[data-conn=\"4\"]').textContent").await.unwrap();
    let refused = refused.as_str().unwrap_or_default();
    assert!(refused.contains("2.5 s") && !refused.contains("42 ms"), "{refused}");

    // A long path: the downloads stay reachable, the page does not scroll sideways; the payload is shown as sent.
    page.click("#conn-list li[data-conn=\"3\"]").await.unwrap();
    page.wait_for(
        "document.querySelector('#conn-header strong')?.textContent === '#3 ' && document.querySelectorAll('#frame-rows tr').length === 1",
        WAIT,
    )
    .await
    .unwrap();
    let reachable = "(() => { const b = [...document.querySelectorAll('#conn-header .button')].pop().getBoundingClientRect(); return b.right <= innerWidth && document.documentElement.scrollWidth <= innerWidth; })()";
    assert!(truth(&page, reachable).await, "the download buttons ran off screen");
    let preview = page.eval("document.querySelector('#frame-1 .c-preview').textContent").await.unwrap();
    assert_eq!(preview, as_sent, "the preview is the payload as sent, not re-serialised");

    // From the keyboard: arrow keys in the frame table select frames; toggles and tabs say their state.
    page.click("#conn-list li[data-conn=\"2\"]").await.unwrap();
    page.wait_for("document.querySelectorAll('#frame-rows tr').length === 6", WAIT).await.unwrap();
    let arrow_down = "document.getElementById('table-scroll').dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowDown', bubbles: true}))";
    page.eval(arrow_down).await.unwrap();
    page.wait_for("document.querySelector('#detail-body h3')?.textContent === 'Frame #1'", WAIT).await.unwrap();
    page.eval(arrow_down).await.unwrap();
    page.wait_for("document.querySelector('#detail-body h3')?.textContent === 'Frame #2'", WAIT).await.unwrap();
    assert!(
        truth(&page, "document.querySelector('#tabs [data-tab=\"frame\"]').getAttribute('aria-selected') === 'true'")
            .await
    );
    page.click("[data-op=\"close\"]").await.unwrap();
    assert!(
        truth(&page, "document.querySelector('[data-op=\"close\"]').getAttribute('aria-pressed') === 'false'").await
    );
    page.click("[data-op=\"close\"]").await.unwrap();
    assert!(
        truth(&page, "document.querySelector('[data-op=\"close\"]').getAttribute('aria-pressed') === 'true'").await
    );

    // Keyboard focus on a connection survives the list being rebuilt (a new connection arrives).
    page.eval("document.querySelector('#conn-list li[data-conn=\"2\"]').focus()").await.unwrap();
    publish(&ui.hub, fixtures::open(5, "/later"));
    page.wait_for("document.querySelector('#conn-list li[data-conn=\"5\"]')", WAIT).await.unwrap();
    assert!(truth(&page, "document.activeElement?.dataset?.conn === '2'").await, "focus left the list");

    // A banner does not push the table below the window.
    page.click("#clear").await.unwrap();
    page.wait_for("!document.getElementById('banner').hidden", WAIT).await.unwrap();
    assert!(truth(&page, "document.documentElement.scrollHeight <= innerHeight").await, "the page overflows");

    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_5000_live_frames_the_table_says_so_and_a_stopped_frametap_is_not_retried() {
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let page = open_page(&browser, &ui.url).await;
    publish(&ui.hub, fixtures::meta());
    publish(&ui.hub, fixtures::open(1, "/chat"));
    for seq in 1..=5001 {
        publish(&ui.hub, fixtures::frame(1, seq, Peer::Server, Opcode::Text, b"tick", seq as i64));
    }
    page.wait_for("document.getElementById('frame-5001')", WAIT).await.unwrap();
    page.wait_for(
        "document.getElementById('table-note').textContent === 'Showing the last 5000 of 5001 matching frames.'",
        WAIT,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));

    ui.stop().await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'stopped'", WAIT).await.unwrap();
    let banner = page.eval("document.getElementById('banner-text').textContent").await.unwrap();
    assert!(banner.as_str().unwrap().contains("open the new URL it prints"), "{banner}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
}

/// `frametap ui FILE` as a user runs it: the URL it prints on stdout, and the child to stop.
async fn frametap_ui(path: &std::path::Path) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_frametap"))
        .args(["ui", path.to_str().unwrap(), "--ui", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, stdout.next_line()).await.unwrap().unwrap().unwrap();
    let url = first.rsplit(": ").next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.contains("/?token="), "{first}");
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    (child, url)
}

/// A capture from a frametap that was killed (kill -9: no `close`, no `end`) and a Chrome HAR (Chrome records no
/// close) hold connections without a close. Opened with `frametap ui FILE`, such a connection is not `open`: the
/// page says it shows a file, the connection has no close recorded, its duration is fixed (it does not tick with
/// the wall clock), and the Close tab says the capture holds no close for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_file_shows_a_connection_without_a_close_as_such_not_as_open() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("killed.jsonl");

    // `frametap proxy` (the built-in simulator), a client that configures a session, then kill -9.
    let mut proxy = tokio::process::Command::new(env!("CARGO_BIN_EXE_frametap"))
        .args(["proxy", "--no-ui", "--listen", "127.0.0.1:0", "--capture"])
        .arg(&capture)
        .env("FRAMETAP_HOME", dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(proxy.stderr.take().unwrap()).lines();
    let example = tokio::time::timeout(WAIT, async {
        loop {
            let line = stderr.next_line().await.unwrap().expect("frametap proxy exited before printing its address");
            if let Some(url) = line.split("point your WebSocket client at").nth(1) {
                return url.trim().to_string();
            }
        }
    })
    .await
    .expect("frametap proxy printed its address in time");
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    let deployment = example.split("deploymentId=").nth(1).unwrap().to_string();
    let (mut client, _) = tokio_tungstenite::connect_async(example.as_str()).await.unwrap();
    let configure = serde_json::json!({"action": "configureSession", "deploymentId": deployment,
        "token": "5b1f0c7e-7a43-4ad5-9d1a-0f2b7d7f1c11", "tracingId": "t1"});
    client.send(tokio_tungstenite::tungstenite::Message::Text(configure.to_string().into())).await.unwrap();
    let answer = tokio::time::timeout(WAIT, client.next()).await.unwrap().unwrap().unwrap();
    assert!(answer.to_text().unwrap().contains("SessionResponse"), "{answer:?}");
    // The capture is flushed batch by batch: wait until the answer is on disk, then kill frametap as a crash would.
    tokio::time::timeout(WAIT, async {
        while !std::fs::read_to_string(&capture).unwrap_or_default().contains("SessionResponse") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the capture holds the server's answer");
    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(proxy.id().unwrap() as i32, libc::SIGKILL) };
    proxy.wait().await.unwrap();
    let saved = std::fs::read_to_string(&capture).unwrap();
    assert!(!saved.contains("\"kind\":\"close\"") && !saved.contains("\"kind\":\"end\""), "{saved}");

    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let (mut ui, url) = frametap_ui(&capture).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&url).await.unwrap();
    // The status chip says the page shows a file, not a live stream.
    if let Err(e) = page.wait_for("document.getElementById('status').textContent === 'file'", WAIT).await {
        panic!("{e:#}: status {:?}", page.eval("document.getElementById('status').textContent").await);
    }
    let item = "#conn-list li[data-conn=\"1\"]";
    page.wait_for(&format!("document.querySelector('{item}')"), WAIT).await.unwrap();
    let state = page.eval(&format!("document.querySelector('{item} .state').textContent")).await.unwrap();
    assert_eq!(state, "no close recorded");
    // Its duration is what the file shows (open to its last record), and it does not count with the wall clock.
    assert!(truth(&page, &format!("document.querySelector('{item} [data-since]') === null")).await, "it ticks");
    let shown = "[...document.querySelectorAll('#conn-list li[data-conn=\"1\"] .conn-line.muted span')].map(s => s.textContent).join('|')";
    let before = page.eval(shown).await.unwrap();
    assert!(before.as_str().unwrap().contains("≥ "), "{before}");
    page.eval("new Promise(resolve => setTimeout(resolve, 1300))").await.unwrap();
    assert_eq!(page.eval(shown).await.unwrap(), before, "the duration of a connection in a file changed");
    // The Close tab says the capture holds no close for it, and why.
    page.click(item).await.unwrap();
    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    page.wait_for("document.getElementById('close-card')", WAIT).await.unwrap();
    let card = page.eval("document.getElementById('close-card').textContent").await.unwrap();
    let card = card.as_str().unwrap();
    for expected in ["No close recorded", "The capture holds no close for this connection", "no end record", "at least"]
    {
        assert!(card.contains(expected), "the close card lacks {expected:?}: {card}");
    }
    assert!(!card.contains("still open"), "{card}");
    let notes = page.eval("document.getElementById('session-notes').textContent").await.unwrap();
    assert!(notes.as_str().unwrap().contains("capture-cut-short"), "{notes}");
    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(ui.id().unwrap() as i32, libc::SIGTERM) };
    ui.wait().await.unwrap();

    // A Chrome HAR: its WebSocket entry has messages but no close.
    let har = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har/chrome-genesys.har");
    let (mut ui, url) = frametap_ui(&har).await;
    page.goto(&url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'file'", WAIT).await.unwrap();
    page.wait_for(&format!("document.querySelector('{item} .state')?.textContent === 'no close recorded'"), WAIT)
        .await
        .unwrap();
    assert!(truth(&page, "document.querySelector('#conn-list [data-since]') === null").await, "it ticks");
    page.click(item).await.unwrap();
    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    page.wait_for("document.getElementById('close-card')?.textContent.includes('No close recorded')", WAIT)
        .await
        .unwrap();
    let card = page.eval("document.getElementById('close-card').textContent").await.unwrap();
    assert!(card.as_str().unwrap().contains("the HAR it was imported from records no close for it"), "{card}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(ui.id().unwrap() as i32, libc::SIGTERM) };
    ui.wait().await.unwrap();
}
