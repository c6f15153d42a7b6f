//! The README's first run, end to end in a real headless Chromium: `frametap proxy` with no `--upstream`
//! (the built-in Genesys simulator, the analysis, the web UI), its printed URLs, the try-it page, and the
//! main UI showing frames, annotations, tokens, the close card and the diagnosis as they happen.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.
//! `FRAMETAP_UPDATE_SCREENSHOT=1 cargo test --test ui_sim` also rewrites docs/ui-screenshot.png from this run.

// Unix only: it stops frametap with SIGTERM (or SIGKILL), which Windows cannot send to a child process.
#![cfg(unix)]

mod common;

mod cdp;

use std::process::Stdio;
use std::time::Duration;

use cdp::{Browser, Page};
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};

const WAIT: Duration = Duration::from_secs(10);

/// `frametap proxy` as a user runs it, on ephemeral ports, with what it printed.
struct Frametap {
    child: tokio::process::Child,
    /// `ws://127.0.0.1:PORT`
    proxy: String,
    /// The deploymentId of the example URL the proxy printed.
    deployment: String,
    /// The web UI's URL, access token included.
    ui: String,
    capture: std::path::PathBuf,
    _home: tempfile::TempDir,
}

async fn start_frametap() -> Frametap {
    start_frametap_with(&[]).await
}

/// [`start_frametap`] with more arguments to `frametap proxy`.
async fn start_frametap_with(args: &[&str]) -> Frametap {
    let home = tempfile::tempdir().unwrap();
    let capture = home.path().join("session.jsonl");
    let mut child = tokio::process::Command::from(crate::common::binary::frametap_command())
        .args(["proxy", "--listen", "127.0.0.1:0", "--ui", "127.0.0.1:0", "--capture"])
        .arg(&capture)
        .args(args)
        .env("FRAMETAP_HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut example, mut ui) = (None, None);
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, async {
        while ui.is_none() || example.is_none() {
            let line = stderr.next_line().await.unwrap().unwrap_or_else(|| panic!("frametap exited: {seen:?}"));
            if let Some(url) = line.split("point your WebSocket client at").nth(1) {
                example = Some(url.trim().to_string());
            }
            if let Some(url) = line.split("web UI").nth(1) {
                ui = Some(url.trim().to_string());
            }
            seen.push(line);
        }
    })
    .await
    .expect("frametap printed its URLs in time");
    // Keep draining stderr so frametap never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    let example = example.unwrap();
    let (proxy, deployment) = example.split_once("/v1?deploymentId=").expect("an example URL with a deploymentId");
    assert!(proxy.starts_with("ws://127.0.0.1:"), "{example}");
    let ui = ui.unwrap();
    assert!(ui.starts_with("http://127.0.0.1:") && ui.contains("/?token="), "{ui}");
    Frametap { child, proxy: proxy.into(), deployment: deployment.into(), ui, capture, _home: home }
}

async fn text(page: &Page, selector: &str) -> String {
    let sel = serde_json::to_string(selector).unwrap();
    page.eval(&format!("document.querySelector({sel})?.textContent ?? ''")).await.unwrap().as_str().unwrap().to_string()
}

async fn wait(page: &Page, expression: &str) {
    if let Err(e) = page.wait_for(expression, WAIT).await {
        let body = page.eval("document.body.innerText").await.unwrap_or_default();
        panic!("{e:#}\npage text:\n{}", body.as_str().unwrap_or(""));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_try_it_page_against_the_simulator_shows_frames_close_card_and_diagnosis_live() {
    let frametap = start_frametap().await;
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));

    // The UI is open before anything connects: everything below arrives live.
    let watch = browser.new_page().await.unwrap();
    watch.set_viewport(1600, 1000).await.unwrap();
    watch.goto(&frametap.ui).await.unwrap();
    wait(&watch, "document.getElementById('status').textContent === 'live'").await;
    assert_eq!(watch.eval("document.querySelectorAll('#conn-list li').length").await.unwrap(), json!(0));

    // The try-it page (the cookie from the first load lets it in) points at the proxy.
    let ui_origin = frametap.ui.split("/?").next().unwrap();
    let chat = browser.new_page().await.unwrap();
    chat.goto(&format!("{ui_origin}/try")).await.unwrap();
    wait(&chat, "document.body.dataset.ready === 'yes'").await;
    assert_eq!(
        chat.eval("document.getElementById('endpoint').value").await.unwrap(),
        json!(format!("{}/v1", frametap.proxy))
    );
    // Before Connect, the buttons that need a connection are disabled, and look it.
    let look = |id: &str| {
        format!("(s => s.color + ' ' + s.borderTopStyle)(getComputedStyle(document.getElementById('{id}')))")
    };
    let (idle, ready) = (chat.eval(&look("configure")).await.unwrap(), chat.eval(&look("connect")).await.unwrap());
    assert!(
        idle.as_str().unwrap().ends_with(" dashed") && ready.as_str().unwrap().ends_with(" solid"),
        "{idle} {ready}"
    );
    assert_ne!(idle.as_str().unwrap().split(" dashed").next(), ready.as_str().unwrap().split(" solid").next());
    // Its deploymentId is the one in the URL the banner printed.
    assert_eq!(chat.eval("document.getElementById('deployment').value").await.unwrap(), json!(frametap.deployment));

    // A healthy session: configure, a message, the simulated agent's answer, a client disconnect.
    chat.click("#connect").await.unwrap();
    wait(&chat, "document.getElementById('conn-state').textContent === 'connected'").await;
    chat.click("#configure").await.unwrap();
    wait(&chat, "document.getElementById('log').textContent.includes('SessionResponse')").await;
    chat.type_into("#text", "hello").await.unwrap();
    chat.click("#send").await.unwrap();
    wait(&chat, "document.getElementById('log').textContent.includes('You are talking to the frametap simulator')")
        .await;
    chat.click("#disconnect").await.unwrap();
    wait(&chat, "document.getElementById('conn-state').textContent.startsWith('closed 1000')").await;

    // The seed story on a new connection: the broken first message, and the server closes.
    chat.click("#connect").await.unwrap();
    wait(&chat, "document.getElementById('conn-state').textContent === 'connected'").await;
    chat.click("#broken").await.unwrap();
    wait(&chat, "document.getElementById('conn-state').textContent.startsWith('closed 1000')").await;
    assert!(text(&chat, "#log").await.contains("Hello from custom UI"));

    // The main UI saw both connections live.
    watch.bring_to_front().await.unwrap();
    wait(
        &watch,
        "document.querySelector('#conn-list li[data-conn=\"2\"] .close-info')?.textContent === '1000 by server'",
    )
    .await;
    wait(&watch, "document.querySelector('#conn-list li[data-conn=\"2\"] .diag-marker.flagged')").await;
    let first = text(&watch, "#conn-list li[data-conn=\"1\"]").await;
    assert!(first.contains("1000 by client") && first.contains("sim:genesys"), "{first}");
    assert_eq!(
        watch.eval("document.querySelector('#conn-list li[data-conn=\"1\"] .diag-marker.flagged')").await.unwrap(),
        json!(null),
        "a client close is no alarm"
    );

    // Connection 1: the Genesys annotations and the session token, shown as opaque.
    watch.click("#conn-list li[data-conn=\"1\"]").await.unwrap();
    watch.click("#tabs [data-tab=\"frame\"]").await.unwrap();
    wait(&watch, "document.querySelector('#frame-2 .c-ann')?.textContent.includes('SessionResponse')").await;
    assert_eq!(text(&watch, "#frame-1 .c-ann").await, "configureSession");
    assert!(text(&watch, "#frame-1 .c-preview").await.contains("configureSession"));
    assert_eq!(text(&watch, "#frame-2 .c-dir").await, "server → client");
    assert!(text(&watch, "#frame-table").await.contains("onMessage"));
    watch.click("#tabs [data-tab=\"tokens\"]").await.unwrap();
    wait(&watch, "document.querySelector('.token')").await;
    let token = text(&watch, ".token").await;
    assert!(token.contains("frame:token") && token.contains("opaque") && token.contains("session token"), "{token}");

    // Connection 2: the close card flags the broken frame and the diagnosis names what is missing.
    watch.click("#conn-list li[data-conn=\"2\"]").await.unwrap();
    watch.click("#tabs [data-tab=\"close\"]").await.unwrap();
    wait(&watch, "document.querySelector('#close-card .cause')").await;
    let card = text(&watch, "#close-card").await;
    for expected in [
        "Close 1000",
        "Normal Closure",
        "none given",
        "clean close handshake",
        "⚑ Preceding frame",
        "Hello from custom UI",
        "protocol-lint",
        "no `action`",
        "configureSession",
        "Ruled out",
    ] {
        assert!(card.contains(expected), "the close card lacks {expected:?}: {card}");
    }
    // The round trip is the kernel's measure of the TCP connection to the simulator: on loopback a few
    // microseconds, shown as such rather than as 0.0 ms.
    let round_trip = watch
        .eval("[...document.querySelectorAll('#close-card table.kv tr')].find(tr => tr.firstChild.textContent === 'round trip')?.lastChild.textContent")
        .await
        .unwrap();
    let round_trip = round_trip.as_str().unwrap_or_default();
    assert!(round_trip.contains(" ms (from the kernel's TCP measure; handshake "), "{round_trip}");
    assert!(!round_trip.starts_with("0.0 ms") && !round_trip.starts_with("0.000 ms"), "{round_trip}");
    assert_eq!(
        watch.eval("document.getElementById('frame-1').classList.contains('preceding')").await.unwrap(),
        json!(true)
    );
    assert!(text(&watch, "#frame-1 .c-ann").await.contains("request without action"));
    watch.click("#close-card .preceding.flagged a.frame-link").await.unwrap();
    wait(&watch, "document.querySelector('#detail-body h3')?.textContent === 'Frame #1'").await;
    assert!(text(&watch, "#detail-body").await.contains("Hello from custom UI"));

    // The connection downloads as a HAR from the page.
    let har = watch.eval("fetch('/api/conn/2/har').then(r => r.json())").await.unwrap();
    assert_eq!(har["log"]["entries"][0]["_resourceType"], "websocket", "{har}");

    // The story as the screenshot shows it: the broken frame flagged, its close card open.
    watch.click("#tabs [data-tab=\"close\"]").await.unwrap();
    watch.click("#jump-latest").await.unwrap();
    wait(&watch, "document.querySelector('#close-card .cause') && document.getElementById('jump-latest').hidden").await;
    let dir = tempfile::tempdir().unwrap();
    let path = if std::env::var_os("FRAMETAP_UPDATE_SCREENSHOT").is_some() {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ui-screenshot.png")
    } else {
        dir.path().join("ui.png")
    };
    watch.screenshot(&path).await.unwrap();
    let png = std::fs::read(&path).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "not a real screenshot: {} bytes", png.len());
    assert_eq!(browser.page_errors(), Vec::<String>::new());

    // Ctrl-C (SIGTERM here) saves the capture, diagnosis included.
    let mut child = frametap.child;
    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let status = tokio::time::timeout(WAIT, child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
    let saved = std::fs::read_to_string(&frametap.capture).unwrap();
    assert!(saved.contains("\"kind\":\"diagnosis\"") && saved.contains("\"kind\":\"end\""));
}

/// `frametap proxy --deployment-id ID`: the simulator refuses any other deploymentId, and the banner prints the first
/// one given. The try-it page fills in that one too (it used to fill in the sample id, which the simulator then
/// refused with 403, so a user had to copy the id from the banner), and a session configures with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_try_it_page_fills_in_the_deployment_id_the_simulator_was_given() {
    let configured = "3f2a9c1e-0b7d-4e55-a1c4-6d8e2f0b9a77";
    let mut frametap = start_frametap_with(&["--deployment-id", configured, "--deployment-id", "a-second-one"]).await;
    assert_eq!(frametap.deployment, configured, "the banner prints the first --deployment-id");
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let page = browser.new_page().await.unwrap();
    // The UI's URL first: its access token becomes the cookie that lets the try page in.
    page.goto(&frametap.ui).await.unwrap();
    wait(&page, "document.getElementById('status').textContent === 'live'").await;
    page.goto(&format!("{}/try", frametap.ui.split("/?").next().unwrap())).await.unwrap();
    wait(&page, "document.body.dataset.ready === 'yes'").await;
    assert_eq!(page.eval("document.getElementById('deployment').value").await.unwrap(), json!(configured));
    page.click("#connect").await.unwrap();
    wait(&page, "document.getElementById('conn-state').textContent === 'connected'").await;
    page.click("#configure").await.unwrap();
    wait(&page, "document.getElementById('log').textContent.includes('SessionResponse')").await;
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    frametap.child.kill().await.unwrap();
}
