//! Handshakes that never finish time out, on both legs, with a named cause.

mod common;

use common::{start_proxy, test_config};
use std::time::Duration;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn a_client_that_never_sends_its_request_is_disconnected() {
    let mut config = test_config("ws://127.0.0.1:1");
    config.handshake_timeout = Duration::from_millis(200);
    let proxy = start_proxy(config).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "frametap must drop a silent client after its handshake timeout");
    proxy.stop().await;
}

#[tokio::test]
async fn an_upstream_that_never_answers_gets_a_502_naming_the_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let mut config = test_config(&format!("ws://{silent_addr}"));
    config.handshake_timeout = Duration::from_millis(300);
    let proxy = start_proxy(config).await;
    let (head, ws, body) = common::raw::connect(proxy.addr, "/v1", &[]).await;
    assert!(ws.is_none());
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("timed out") && body.contains("handshake response"), "{body}");
    proxy.stop().await;
    holder.abort();
}
