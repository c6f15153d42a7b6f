//! A page left open while frametap is restarted on the same port, in a real headless Chromium with the real binary.
//! The new run has a new access token, so the page's stream is refused (401) however often it retries.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod cdp;
mod common;

use std::time::Duration;

use cdp::read::browser;
use common::binary::RunningProxy;
use futures_util::SinkExt;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// frametap killed (no 1001 to the page: a crash, `kill -9`, a laptop asleep through the stop) and started again on
/// the same UI port: once its stream is refused, the page says its access token is no longer valid and to open the
/// URL frametap printed, stops reconnecting, and keeps the connection and frames it shows. Before, it said
/// "disconnected · retrying" and retried every 5 s, forever, each time refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_frametap_was_restarted_says_its_token_is_refused_and_stops_retrying() {
    let browser = browser().await;
    let mut first = RunningProxy::start(&["--no-capture", "--ui", "127.0.0.1:0"]).await;
    let url = first.banner.ui.clone().expect("the first run's web UI");
    let port = url.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap().to_owned();

    let page = browser.new_page().await.unwrap();
    page.goto(&url).await.unwrap();
    page.bring_to_front().await.unwrap();
    page.wait_for("window.frametap.state.live", WAIT).await.unwrap();
    // A connection through the proxy (the built-in simulator answers), with one frame: what the page shows.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/v1?deploymentId=x", first.banner.url)).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text(r#"{"action":"echo","message":"hello"}"#)).await.unwrap();
    page.wait_for(
        "window.frametap.table?.length >= 1 && document.querySelectorAll('#conn-list li').length === 1",
        WAIT,
    )
    .await
    .unwrap();
    // Every stream the page opens from here on, counted.
    page.eval(
        "window.attempts = 0; const Native = window.WebSocket; \
         window.WebSocket = function (...args) { window.attempts++; return new Native(...args); }; \
         window.WebSocket.prototype = Native.prototype; true",
    )
    .await
    .unwrap();

    first.child.start_kill().unwrap();
    first.child.wait().await.unwrap();
    drop(ws);
    page.wait_for("document.getElementById('status').textContent.startsWith('disconnected')", WAIT).await.unwrap();
    let second = RunningProxy::start(&["--no-capture", "--ui", &format!("127.0.0.1:{port}")]).await;
    let second_url = second.banner.ui.clone().expect("the second run's web UI, on the same port");
    assert!(second_url.starts_with(&format!("http://127.0.0.1:{port}/")), "{second_url}");

    let refused =
        "document.getElementById('banner-text').textContent.includes(\"frametap was restarted, or this page's \
                   access token is no longer valid\")";
    if let Err(e) = page.wait_for(refused, WAIT).await {
        let seen = page
            .eval(
                "[document.getElementById('status').textContent, document.getElementById('banner-text').textContent, \
                  window.attempts]",
            )
            .await;
        panic!("{e:#}\nstatus, banner, reconnects: {seen:?}");
    }
    let banner = page.eval("document.getElementById('banner-text').textContent").await.unwrap();
    assert!(banner.as_str().unwrap().contains("open the URL frametap printed"), "{banner}");
    assert_eq!(page.eval("document.getElementById('status').textContent").await.unwrap(), json!("access refused"));
    // It stops: no attempt in longer than the longest wait between retries (5 s).
    let attempts = page.eval("window.attempts").await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(page.eval("window.attempts").await.unwrap(), attempts, "the page kept reconnecting");
    // What it showed is still there.
    let kept = "[document.querySelectorAll('#conn-list li').length, window.frametap.table.length >= 1, \
                document.querySelectorAll('#frame-rows tr').length >= 1]";
    assert_eq!(page.eval(kept).await.unwrap(), json!([1, true, true]));
    // The new URL works.
    let fresh = browser.new_page().await.unwrap();
    fresh.goto(&second_url).await.unwrap();
    fresh.bring_to_front().await.unwrap();
    fresh.wait_for("window.frametap.state.live", WAIT).await.unwrap();
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    second.stop().await;
}
