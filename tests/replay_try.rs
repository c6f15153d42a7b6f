//! `replay serve`'s try-it page in a real headless Chromium: it is filled in with the recorded connection's URL and
//! its deploymentId, so the replayed session can be tried without copying either from the capture.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod common;

mod cdp;

use std::process::Stdio;
use std::time::Duration;

use cdp::Browser;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);
/// The deploymentId in the seed story's recorded request path (`/v1?deploymentId=…`).
const RECORDED_DEPLOYMENT: &str = "4b1d6c2e-0000-4000-8000-000000000001";

/// The page connects to the recorded path and query (here not the Guest API's `/v1`, with the deploymentId not
/// first), exactly as recorded; it used to connect to `/v1?deploymentId=…` whatever the recording was of. Another
/// deploymentId typed in takes the recorded one's place in the query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_try_it_page_of_replay_serve_fills_in_the_recorded_url_and_deployment_id() {
    let home = tempfile::tempdir().unwrap();
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-story.jsonl");
    let recorded_path = format!("/guest/v1?lang=en&deploymentId={RECORDED_DEPLOYMENT}");
    let text = std::fs::read_to_string(seed).unwrap();
    let capture = home.path().join("elsewhere.jsonl");
    std::fs::write(&capture, text.replace(&format!("/v1?deploymentId={RECORDED_DEPLOYMENT}"), &recorded_path)).unwrap();
    let mut child = common::binary::frametap()
        .args(["replay", "serve", capture.to_str().unwrap(), "--listen", "127.0.0.1:0", "--ui", "127.0.0.1:0"])
        .arg("--no-capture")
        .env("FRAMETAP_HOME", home.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let banner = tokio::time::timeout(WAIT, common::binary::read_banner(child.stderr.take().unwrap()))
        .await
        .expect("frametap printed its banner in time");
    let ui = banner.ui.expect("the banner names the web UI");
    // Keep draining stderr so frametap never blocks on a full pipe.
    let mut stderr = banner.stderr.unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });

    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let page = browser.new_page().await.unwrap();
    // The UI's URL first: its access token becomes the cookie that lets the try page in.
    page.goto(&ui).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    page.goto(&format!("{}/try", ui.split("/?").next().unwrap())).await.unwrap();
    page.wait_for("document.body.dataset.ready === 'yes'", WAIT).await.unwrap();
    assert_eq!(page.eval("document.getElementById('deployment').value").await.unwrap(), json!(RECORDED_DEPLOYMENT));
    assert!(banner.url.ends_with(&recorded_path), "{}", banner.url);
    assert_eq!(page.eval("document.getElementById('endpoint').value").await.unwrap(), json!(banner.url));
    // The page reaches the replay with them, asking for the very URL recorded.
    page.click("#connect").await.unwrap();
    page.wait_for("document.getElementById('conn-state').textContent === 'connected'", WAIT).await.unwrap();
    // Each log line without its time (`12:25:54.545 `).
    let log = "[...document.querySelectorAll('#log div')].map(line => line.textContent.slice(13))";
    let said = page.eval(log).await.unwrap();
    assert_eq!(said[0], json!(format!("connecting to {}", banner.url)), "{said}");
    // Another deploymentId takes the recorded one's place.
    page.click("#disconnect").await.unwrap();
    page.wait_for("document.getElementById('conn-state').textContent.startsWith('closed')", WAIT).await.unwrap();
    page.eval("document.getElementById('deployment').value = 'other id'").await.unwrap();
    page.click("#connect").await.unwrap();
    page.wait_for("document.getElementById('conn-state').textContent === 'connected'", WAIT).await.unwrap();
    let said = page.eval(log).await.unwrap();
    let other = banner.url.replace(RECORDED_DEPLOYMENT, "other%20id");
    assert!(said.as_array().unwrap().contains(&json!(format!("connecting to {other}"))), "{said}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    child.kill().await.unwrap();
}
