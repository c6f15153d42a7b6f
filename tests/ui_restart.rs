//! A page left open while frametap is restarted on the same port, in a real headless Chromium with the real binary.
//! The new run has a new access token, so the page's stream is refused (401) however often it retries. And the other
//! refusals a page can meet there, told apart: another program on the port, a frametap that refuses the address.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

// Unix only: it stops frametap with SIGTERM (or SIGKILL), which Windows cannot send to a child process.
#![cfg(unix)]

mod cdp;
mod common;

use std::time::Duration;

use cdp::read::{a_connection_shown, browser};
use common::binary::RunningProxy;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// A page of a frametap that was then killed (no 1001 to the page: a crash, `kill -9`, a laptop asleep through the
/// stop), showing one connection with a frame, counting every stream it opens from then on (`window.attempts`), and
/// reading "disconnected". Returns the page and the UI's port, now free.
async fn a_page_whose_frametap_was_killed(browser: &cdp::Browser) -> (cdp::Page, u16) {
    let mut first = RunningProxy::start(&["--no-capture", "--ui", "127.0.0.1:0"]).await;
    let url = first.banner.ui.clone().expect("the first run's web UI");
    let port = url.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap().parse().unwrap();

    let page = browser.new_page().await.unwrap();
    page.goto(&url).await.unwrap();
    page.bring_to_front().await.unwrap();
    page.wait_for("window.frametap.state.live", WAIT).await.unwrap();
    // A connection through the proxy (the built-in simulator answers), with one frame: what the page shows.
    let ws = a_connection_shown(&page, &first.banner.url).await;
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
    (page, port)
}

/// Waits until the banner says `says` and the status reads `status`; then checks the page stops reconnecting and
/// keeps the connection and frames it showed.
async fn refused_and_stopped(page: &cdp::Page, says: &str, status: &str) -> String {
    let said = format!("document.getElementById('banner-text').textContent.includes({})", json!(says));
    if let Err(e) = page.wait_for(&said, WAIT).await {
        let seen = page
            .eval(
                "[document.getElementById('status').textContent, document.getElementById('banner-text').textContent, \
                  window.attempts]",
            )
            .await;
        panic!("{e:#}\nstatus, banner, reconnects: {seen:?}");
    }
    assert_eq!(page.eval("document.getElementById('status').textContent").await.unwrap(), json!(status));
    // It stops: no attempt in longer than the longest wait between retries (5 s).
    let attempts = page.eval("window.attempts").await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(page.eval("window.attempts").await.unwrap(), attempts, "the page kept reconnecting");
    // What it showed is still there.
    let kept = "[document.querySelectorAll('#conn-list li').length, window.frametap.table.length >= 1, \
                document.querySelectorAll('#frame-rows tr').length >= 1]";
    assert_eq!(page.eval(kept).await.unwrap(), json!([1, true, true]));
    page.eval("document.getElementById('banner-text').textContent").await.unwrap().as_str().unwrap().to_owned()
}

/// frametap killed and started again on the same UI port: once its stream is refused, the page says its access token
/// is no longer valid and to open the URL frametap printed, stops reconnecting, and keeps the connection and frames
/// it shows. Before, it said "disconnected · retrying" and retried every 5 s, forever, each time refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_frametap_was_restarted_says_its_token_is_refused_and_stops_retrying() {
    let browser = browser().await;
    let (page, port) = a_page_whose_frametap_was_killed(&browser).await;
    let second = RunningProxy::start(&["--no-capture", "--ui", &format!("127.0.0.1:{port}")]).await;
    let second_url = second.banner.ui.clone().expect("the second run's web UI, on the same port");
    assert!(second_url.starts_with(&format!("http://127.0.0.1:{port}/")), "{second_url}");

    let banner = refused_and_stopped(
        &page,
        "frametap was restarted, or this page's access token is no longer valid (the server answered HTTP 401)",
        "access refused",
    )
    .await;
    assert!(banner.contains("open the URL frametap printed"), "{banner}");
    // The new URL works.
    let fresh = browser.new_page().await.unwrap();
    fresh.goto(&second_url).await.unwrap();
    fresh.bring_to_front().await.unwrap();
    fresh.wait_for("window.frametap.state.live", WAIT).await.unwrap();
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    second.stop().await;
}

/// Another program takes the killed frametap's port and answers 403 to everything: the page says another program
/// answers there, not frametap, and stops; it does not say its access token was refused. Before, any 401 or 403 read
/// "frametap was restarted, or this page's access token is no longer valid".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_port_another_program_took_says_so() {
    let browser = browser().await;
    let (page, port) = a_page_whose_frametap_was_killed(&browser).await;
    let other = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let forbidden = axum::Router::new().fallback(|| async { (axum::http::StatusCode::FORBIDDEN, "Forbidden\n") });
    tokio::spawn(async move { axum::serve(other, forbidden).await });

    let banner = refused_and_stopped(
        &page,
        &format!("Another program now answers at 127.0.0.1:{port} (HTTP 403), not frametap"),
        "not frametap",
    )
    .await;
    assert!(!banner.contains("access token"), "{banner}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
}

/// The killed frametap's port now forwards (as `ssh -L` or a container's published port would) to a frametap on
/// another port, which refuses the page's `Host`: the page says frametap refuses its address, in frametap's own words
/// (which address, which are accepted), and stops; not that its access token was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_address_frametap_refuses_says_so_in_frametaps_words() {
    let browser = browser().await;
    let (page, port) = a_page_whose_frametap_was_killed(&browser).await;
    let second = RunningProxy::start(&["--no-capture", "--ui", "127.0.0.1:0"]).await;
    let second_ui = second.banner.ui.clone().expect("the second run's web UI");
    let second_addr = second_ui.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let forward = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut incoming, _)) = forward.accept().await {
            let target = second_addr.clone();
            tokio::spawn(async move {
                let mut outgoing = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut incoming, &mut outgoing).await;
            });
        }
    });

    let banner = refused_and_stopped(
        &page,
        &format!(
            "frametap answers at 127.0.0.1:{port} but refuses this page's address (HTTP 403: Host \"127.0.0.1:{port}\" \
             is not this UI's address"
        ),
        "address refused",
    )
    .await;
    assert!(banner.contains("Open the URL frametap printed when it started"), "{banner}");
    assert!(!banner.contains("access token"), "{banner}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    second.stop().await;
}
