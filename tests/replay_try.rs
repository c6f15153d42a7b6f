//! `replay serve`'s try-it page in a real headless Chromium: it is filled in with the deploymentId of the recorded
//! connection's URL, so the replayed session can be tried without copying the id from the capture.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod common;

mod cdp;

use std::process::Stdio;
use std::time::Duration;

use cdp::{Browser, Page};
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};

const WAIT: Duration = Duration::from_secs(10);
/// The deploymentId in the seed story's recorded request path (`/v1?deploymentId=…`).
const RECORDED_DEPLOYMENT: &str = "4b1d6c2e-0000-4000-8000-000000000001";

async fn wait(page: &Page, expression: &str) {
    if let Err(e) = page.wait_for(expression, WAIT).await {
        let body = page.eval("document.body.innerText").await.unwrap_or_default();
        panic!("{e:#}\npage text:\n{}", body.as_str().unwrap_or(""));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_try_it_page_of_replay_serve_fills_in_the_recorded_deployment_id() {
    let home = tempfile::tempdir().unwrap();
    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-story.jsonl");
    let mut child = tokio::process::Command::from(common::binary::frametap_command())
        .args(["replay", "serve", capture.to_str().unwrap(), "--listen", "127.0.0.1:0", "--ui", "127.0.0.1:0"])
        .arg("--no-capture")
        .env("FRAMETAP_HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let ui = tokio::time::timeout(WAIT, async {
        loop {
            let line = stderr.next_line().await.unwrap().unwrap_or_else(|| panic!("frametap exited: {seen:?}"));
            if let Some(url) = line.split("web UI").nth(1) {
                return url.trim().to_string();
            }
            seen.push(line);
        }
    })
    .await
    .expect("frametap printed its UI's URL in time");
    // Keep draining stderr so frametap never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });

    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let page = browser.new_page().await.unwrap();
    // The UI's URL first: its access token becomes the cookie that lets the try page in.
    page.goto(&ui).await.unwrap();
    wait(&page, "document.getElementById('status').textContent === 'live'").await;
    page.goto(&format!("{}/try", ui.split("/?").next().unwrap())).await.unwrap();
    wait(&page, "document.body.dataset.ready === 'yes'").await;
    assert_eq!(page.eval("document.getElementById('deployment').value").await.unwrap(), json!(RECORDED_DEPLOYMENT));
    // The page reaches the replay with it.
    page.click("#connect").await.unwrap();
    wait(&page, "document.getElementById('conn-state').textContent === 'connected'").await;
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    child.kill().await.unwrap();
}
