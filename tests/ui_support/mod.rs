//! What the web UI tests in Chromium share: a page opened on a live UI, a JavaScript condition read as a boolean,
//! and `frametap ui FILE` started as a user runs it.
#![allow(dead_code)] // each test file uses a different part of it

use std::time::Duration;

use crate::cdp::{Browser, Page};

pub const WAIT: Duration = Duration::from_secs(10);

pub async fn open_page(browser: &Browser, url: &str) -> Page {
    let page = browser.new_page().await.unwrap();
    page.set_viewport(1400, 900).await.unwrap();
    page.goto(url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    page
}

pub async fn truth(page: &Page, expression: &str) -> bool {
    page.eval(expression).await.unwrap().as_bool().unwrap_or_else(|| panic!("not a boolean: {expression}"))
}

/// `frametap ui FILE` as a user runs it: the URL it prints on stdout, and the child to stop.
pub async fn frametap_ui(path: &std::path::Path) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::from(crate::common::binary::frametap_command())
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
