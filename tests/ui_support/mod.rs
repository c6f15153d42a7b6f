//! What the web UI tests share: a GET with the UI's cookie, a page opened on a live UI in Chromium, a JavaScript
//! condition read as a boolean, and `frametap ui FILE` started as a user runs it.
#![allow(dead_code)] // each test file uses a different part of it

use std::net::SocketAddr;
use std::time::Duration;

use crate::cdp::fixtures::UiServer;
use crate::cdp::{Browser, Page};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::{HeaderMap, StatusCode};
use hyper_util::rt::TokioIo;

pub const WAIT: Duration = Duration::from_secs(10);

/// A GET with the given headers (Host defaults to the server's address).
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    request(addr, hyper::Method::GET, path, headers).await
}

/// A request without a body, with the given headers (Host defaults to the server's address).
pub async fn request(
    addr: SocketAddr,
    method: hyper::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let mut request = hyper::Request::builder().method(method).uri(path);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        request = request.header("host", addr.to_string());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender.send_request(request.body(Empty::<Bytes>::new()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
}

pub fn cookie(ui: &UiServer) -> String {
    format!("frametap_ui_{}={}", ui.addr.port(), ui.token)
}
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
