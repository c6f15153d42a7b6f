//! Handshakes that never finish time out, on both legs, with a named cause.

mod common;

use common::{start_proxy, test_config};
use frametap::capture::CaptureFile;
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

/// A TCP server that accepts connections and never says anything: its address, and the task holding them.
async fn silent_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    (silent_addr, holder)
}

/// An upgrade through the proxy to a silent server at `scheme`://…, with a 300 ms handshake timeout: the 502's
/// body, and the capture.
async fn refused_by_a_silent_upstream(scheme: &str) -> (String, CaptureFile) {
    let (silent_addr, holder) = silent_server().await;
    let mut config = test_config(&format!("{scheme}://{silent_addr}"));
    config.handshake_timeout = Duration::from_millis(300);
    let proxy = start_proxy(config).await;
    let (head, ws, body) = common::raw::connect(proxy.addr, "/v1", &[]).await;
    assert!(ws.is_none());
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    let capture = proxy.stop().await;
    holder.abort();
    (String::from_utf8_lossy(&body).into_owned(), capture)
}

#[tokio::test]
async fn an_upstream_that_never_answers_gets_a_502_naming_the_timeout() {
    let (body, _) = refused_by_a_silent_upstream("ws").await;
    assert!(body.contains("timed out") && body.contains("handshake response"), "{body}");
}

#[tokio::test]
async fn a_wss_upstream_that_answers_no_tls_gets_a_502_saying_to_try_ws() {
    // A plain server waits for a request, so the TLS client hello gets no answer at all.
    let (body, capture) = refused_by_a_silent_upstream("wss").await;
    assert!(body.contains("timed out") && body.contains("TLS handshake") && body.contains("use ws://"), "{body}");
    assert!(common::open_of(&capture, 1).error.as_deref().is_some_and(|e| e.contains("use ws://")));
}

#[tokio::test]
async fn a_connection_still_waiting_for_its_upstream_at_shutdown_is_recorded_and_answered() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let (reached, upstream_reached) = tokio::sync::oneshot::channel();
    let holder = tokio::spawn(async move {
        let (stream, _) = silent.accept().await.unwrap();
        reached.send(()).unwrap();
        stream
    });
    let mut config = test_config(&format!("ws://{silent_addr}"));
    // Only the shutdown can end the wait.
    config.handshake_timeout = Duration::from_secs(600);
    let proxy = start_proxy(config).await;
    let client = tokio::spawn(common::raw::connect(proxy.addr, "/v1?deploymentId=x", &[]));
    upstream_reached.await.unwrap();
    let capture = tokio::time::timeout(Duration::from_secs(20), proxy.stop()).await.expect("the proxy stopped in time");
    let open = common::open_of(&capture, 1);
    assert!(
        open.error.as_deref().is_some_and(|e| e.contains("stopped (Ctrl-C) before the upstream answered")),
        "{open:?}"
    );
    let (head, ws, body) =
        tokio::time::timeout(Duration::from_secs(20), client).await.expect("the client got an answer").unwrap();
    assert!(ws.is_none());
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("stopped"), "{}", String::from_utf8_lossy(&body));
    holder.abort();
}
