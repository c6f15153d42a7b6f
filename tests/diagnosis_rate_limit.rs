//! `rate-limit` against who ended the connection, end to end: a real client, the real proxy with the analyzer in
//! its pipeline, and an upstream that answers every message with the Guest API's rate-limit answer, all on
//! 127.0.0.1:0. Only the server ends a connection over its own rate limit: a client that then drops TCP (its
//! process or network went away) makes it a possible cause, not a likely one.

mod common;
#[path = "fixtures/live.rs"]
mod live;

use futures_util::{SinkExt, StreamExt};
use live::*;
use serde_json::json;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// An upstream that answers each text with a `TooManyRequestsErrorMessage` (then closes with 1000 when the text
/// asks for it), and reports on `gone` when the connection's end reaches it.
async fn rate_limiting_upstream() -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (gone_tx, gone) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let gone_tx = gone_tx.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = ws.next().await {
                    let Message::Text(text) = message else { continue };
                    let limited = json!({"type":"response","class":"TooManyRequestsErrorMessage","code":429,
                        "body":{"retryAfter":3,"errorCode":4029,"errorMessage":"Message rate too high for this session"}});
                    let _ = ws.send(Message::text(limited.to_string())).await;
                    if text.contains("then-close") {
                        let _ = ws.close(None).await;
                    }
                }
                gone_tx.send(()).ok();
            });
        }
    });
    (addr, gone)
}

/// The `rate-limit` cause's confidence and message, and whether `inspect` recomputed the same rules.
async fn rate_limited_then(client_drops: bool) -> (String, String) {
    let (upstream, mut gone) = rate_limiting_upstream().await;
    let proxy = start_analysing_proxy(upstream).await;
    let mut ws = connect(&proxy, &[]).await;
    send(&mut ws, on_message(if client_drops { "hello" } else { "hello then-close" })).await;
    let answer = ws.next().await.unwrap().unwrap();
    assert!(answer.to_text().unwrap().contains("TooManyRequestsErrorMessage"), "{answer:?}");
    if client_drops {
        drop(ws);
    } else {
        drain(ws).await;
    }
    gone.recv().await.expect("the relay passed the end on");
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    assert_eq!(rules(&d), offline);
    let expected = if client_drops { ("client", false) } else { ("server", true) };
    assert_eq!((d.details["initiator"].as_str(), d.details["clean"].as_bool()), (Some(expected.0), Some(expected.1)));
    let limit = cause(&d, "rate-limit");
    (limit["confidence"].as_str().unwrap().to_owned(), limit["message"].as_str().unwrap().to_owned())
}

/// The client dropped TCP right after the rate limit: possible, and the message says a rate limit does not make a
/// client do that (it used to read "likely: the close likely followed from it").
#[tokio::test]
async fn a_client_that_drops_tcp_after_a_rate_limit_was_not_closed_over_it() {
    let (confidence, message) = rate_limited_then(true).await;
    assert_eq!(confidence, "possible", "{message}");
    assert!(
        message.contains("then the client dropped TCP itself, which a rate limit does not make a client do"),
        "{message}"
    );
}

/// Near miss: the server closed right after its rate limit: likely.
#[tokio::test]
async fn a_server_that_closes_after_its_rate_limit_likely_closed_over_it() {
    let (confidence, message) = rate_limited_then(false).await;
    assert_eq!(confidence, "likely", "{message}");
    assert!(message.ends_with("the close likely followed from it"), "{message}");
}
