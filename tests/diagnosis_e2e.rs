//! Diagnoses end to end: a real client, the real proxy with the analyzer in its pipeline, and a scripted
//! Guest-API-like upstream, all on 127.0.0.1:0. Each live diagnosis is checked, and `inspect` on the
//! capture must reach the same causes. The upgrade's failures: tests/diagnosis_e2e_upgrade.rs.

mod common;
#[path = "fixtures/live.rs"]
mod live;

use frametap::event::Record;
use futures_util::{SinkExt, StreamExt};
use live::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// The scripted upstream's message limit: a longer text gets a 1009 close.
const TOO_BIG: usize = 4096;

/// Sessions by token, so a second connection with the same token can close the first (a second tab).
type Sessions = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<()>>>>;

/// An upstream that answers like the Guest API for the cases under test: a request without `action` gets a
/// 1000 close; `configureSession` a SessionResponse; `onMessage` texts `expire`, `expire-later` (the close comes
/// `ANNOUNCED_CLOSE_MS` + 0.4 s after the announcement), `agent-leaves`, `flood`,
/// `check-token` and `drop` trigger their lifecycle; a second session with the same token closes the first.
async fn start_scripted_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sessions: Sessions = Arc::default();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sessions = sessions.clone();
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                    serve_session(ws, sessions).await;
                }
            });
        }
    });
    addr
}

async fn serve_session(mut ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, sessions: Sessions) {
    let (kick_tx, mut kicked) = mpsc::unbounded_channel::<()>();
    let close = |code: CloseCode, reason: &str| Some(CloseFrame { code, reason: reason.to_owned().into() });
    loop {
        let message = tokio::select! {
            m = ws.next() => m,
            Some(()) = kicked.recv() => {
                let event = json!({"type":"message","class":"ConnectionClosedEvent","code":200,"body":{}});
                let _ = ws.send(Message::text(event.to_string())).await;
                let _ = ws.close(close(CloseCode::Normal, "")).await;
                continue;
            }
        };
        let Some(Ok(Message::Text(text))) = message else {
            if matches!(message, Some(Ok(_))) {
                continue;
            }
            return;
        };
        // Past its message limit the upstream closes with 1009 (first saying so, when the text asks for it).
        if text.len() > TOO_BIG {
            if text.contains("answer-first") {
                let refused = json!({"type":"response","class":"string","code":4011,"body":"message too long"});
                let _ = ws.send(Message::text(refused.to_string())).await;
            }
            let _ = ws.close(close(CloseCode::Size, "message too big")).await;
            continue;
        }
        let request: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
        let tracing = request.get("tracingId").cloned().unwrap_or(Value::Null);
        let reply = |v: Value| Message::text(v.to_string());
        match request.get("action").and_then(Value::as_str) {
            None => {
                // A real server's think time, so the close comes well after the handshake round trip.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                let _ = ws.close(close(CloseCode::Normal, "")).await;
            }
            Some("configureSession") => {
                let token = request["token"].as_str().unwrap_or_default().to_owned();
                if let Some(previous) = sessions.lock().unwrap().insert(token, kick_tx.clone()) {
                    let _ = previous.send(());
                }
                let body = json!({"connected":true,"newSession":true,"durationSeconds":600});
                let _ = ws
                    .send(reply(
                        json!({"type":"response","class":"SessionResponse","code":200,"body":body,"tracingId":tracing}),
                    ))
                    .await;
            }
            Some("onMessage") => match request.pointer("/message/text").and_then(Value::as_str) {
                Some("expire") => {
                    let _ = ws
                        .send(reply(json!({"type":"message","class":"SessionExpiredEvent","code":200,"body":{}})))
                        .await;
                    let _ = ws.close(close(CloseCode::Normal, "")).await;
                }
                Some("expire-later") => {
                    let _ = ws
                        .send(reply(json!({"type":"message","class":"SessionExpiredEvent","code":200,"body":{}})))
                        .await;
                    // Past the time a server takes to end a connection over its own announcement.
                    let later = frametap::inspect::ANNOUNCED_CLOSE_MS as u64 + 400;
                    tokio::time::sleep(std::time::Duration::from_millis(later)).await;
                    let _ = ws.close(close(CloseCode::Normal, "")).await;
                }
                Some("agent-leaves") => {
                    let body = json!({"direction":"Outbound","type":"Event","events":[{"eventType":"Presence","presence":{"type":"Disconnect"}}],"metadata":{"readOnly":"true"}});
                    let _ = ws
                        .send(reply(json!({"type":"message","class":"StructuredMessage","code":200,"body":body})))
                        .await;
                    let _ = ws.close(close(CloseCode::Normal, "")).await;
                }
                Some("flood") => {
                    let body = json!({"retryAfter":3,"errorCode":4029,"errorMessage":"Message rate too high for this session"});
                    let _ = ws.send(reply(json!({"type":"response","class":"TooManyRequestsErrorMessage","code":429,"body":body,"tracingId":tracing}))).await;
                    let _ = ws.close(close(CloseCode::Policy, "")).await;
                }
                Some("check-token") => {
                    let _ = ws.close(close(CloseCode::Policy, "token expired")).await;
                }
                Some("drop") => return,
                _ => {
                    let body = json!({"direction":"Inbound","type":"Text","text":request.pointer("/message/text")});
                    let _ = ws.send(reply(json!({"type":"message","class":"StructuredMessage","code":200,"body":body,"tracingId":tracing}))).await;
                }
            },
            Some(_) => {}
        }
    }
}

#[tokio::test]
async fn seed_story_end_to_end() {
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut ws = connect(&proxy, &[]).await;
    send(&mut ws, json!({"type":"message","content":"Hello from custom UI","timestamp":1764064800120u64})).await;
    assert!(drain(ws).await.is_empty());
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    assert_seed_story_diagnosis(&d, &offline);
}

#[tokio::test]
async fn session_expired_event_end_to_end() {
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut ws = connect(&proxy, &[]).await;
    configure(&mut ws, "tok-1").await;
    send(&mut ws, on_message("expire")).await;
    drain(ws).await;
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    let announced = cause(&d, "server-announced");
    assert!(announced["message"].as_str().unwrap().contains("SessionExpiredEvent"), "{announced}");
    assert_eq!(announced["confidence"], "likely", "the server closed right after announcing it: {announced}");
    assert_eq!(rules(&d), offline);
    let annotations = capture.records.iter().filter(|r| matches!(r, Record::Annotation(_))).count();
    assert!(annotations >= 3, "the live pipeline annotates Genesys frames");
}

/// The server announces the session's end, then lets the connection stand with nothing in between and closes
/// it much later: the announcement is then only a possible cause, worded by its timing.
#[tokio::test]
async fn a_server_close_long_after_its_announcement_end_to_end() {
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut ws = connect(&proxy, &[]).await;
    configure(&mut ws, "tok-1").await;
    send(&mut ws, on_message("expire-later")).await;
    // The close comes past `drain`'s patience: read until the connection ends, within a bound of its own.
    let ended =
        tokio::time::timeout(std::time::Duration::from_secs(30), async { while let Some(Ok(_)) = ws.next().await {} });
    ended.await.expect("the server closes in time");
    drop(ws);
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    assert_eq!(d.details["initiator"], "server");
    let announced = cause(&d, "server-announced");
    assert_eq!(announced["confidence"], "possible", "{announced}");
    let message = announced["message"].as_str().unwrap();
    assert!(
        message.contains("after it, with no data frame in between") && message.contains("possibly not"),
        "{message}"
    );
    assert_eq!(rules(&d), offline);
}

/// A message past the upstream's limit gets a 1009 close: the diagnosis names that message (seq, size,
/// direction), points at it, and says whether it is the preceding frame, which it is unless the server said
/// something in between.
#[tokio::test]
async fn message_too_big_names_the_frame_end_to_end() {
    for answer_first in [false, true] {
        let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
        let mut ws = connect(&proxy, &[]).await;
        configure(&mut ws, "tok-1").await;
        send(&mut ws, on_message("hello")).await;
        ws.next().await.unwrap().unwrap();
        let text = if answer_first { "answer-first " } else { "" }.to_owned() + &"x".repeat(TOO_BIG);
        send(&mut ws, on_message(&text)).await;
        drain(ws).await;
        let (capture, path, _dir) = proxy.stop().await;
        let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
        let big = capture
            .records
            .iter()
            .find_map(|r| match r {
                Record::Frame(f) if f.len as usize > TOO_BIG => Some((f.seq, f.len)),
                _ => None,
            })
            .expect("the big frame was relayed and captured");
        assert_eq!((d.details["initiator"].as_str(), d.details["code"].as_u64()), (Some("server"), Some(1009)));
        let code = cause(&d, "close-code");
        assert_eq!(code["seq"], big.0, "{code}");
        let message = code["message"].as_str().unwrap();
        let named = format!(
            "the server closed with 1009 Message Too Big: client frame #{} ({} B), the last and largest client frame before the close",
            big.0, big.1
        );
        assert!(message.starts_with(&named), "{message}");
        if answer_first {
            assert_eq!(d.details["preceding"]["from"], "server");
            let answer = d.details["preceding"]["seq"].as_u64().unwrap();
            assert!(
                message.contains(&format!("(the preceding frame is the server's #{answer}, sent after it)")),
                "{message}"
            );
        } else {
            assert_eq!(d.details["preceding"]["seq"], big.0);
            assert!(message.contains("(the preceding frame), most likely went past its size limit"), "{message}");
        }
        assert_eq!(rules(&d), offline);
    }
}

#[tokio::test]
async fn rate_limit_end_to_end() {
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut ws = connect(&proxy, &[]).await;
    configure(&mut ws, "tok-1").await;
    send(&mut ws, on_message("flood")).await;
    drain(ws).await;
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    assert_eq!(cause(&d, "rate-limit")["confidence"], "likely");
    assert_eq!(d.details["code"], 1008);
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn agent_disconnect_end_to_end() {
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut ws = connect(&proxy, &[]).await;
    configure(&mut ws, "tok-1").await;
    send(&mut ws, on_message("agent-leaves")).await;
    drain(ws).await;
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    assert!(cause(&d, "server-announced")["message"].as_str().unwrap().contains("agent ended the conversation"));
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn second_tab_with_the_same_token_end_to_end() {
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut first = connect(&proxy, &[]).await;
    configure(&mut first, "shared-token").await;
    let mut second = connect(&proxy, &[]).await;
    configure(&mut second, "shared-token").await;
    let texts = drain(first).await;
    assert!(texts.iter().any(|t| t.contains("ConnectionClosedEvent")), "{texts:?}");
    second.close(None).await.unwrap();
    drain(second).await;
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    let message = cause(&d, "server-announced")["message"].as_str().unwrap().to_owned();
    assert!(message.contains("another tab"), "{message}");
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn tcp_drop_end_to_end() {
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut ws = connect(&proxy, &[]).await;
    configure(&mut ws, "tok-1").await;
    send(&mut ws, on_message("drop")).await;
    drain(ws).await;
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    assert_eq!(d.details["clean"], false);
    assert_eq!(d.details["initiator"], "server");
    assert_eq!(cause(&d, "tcp-drop")["confidence"], "certain");
    assert_eq!(d.details["preceding"]["from"], "client");
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn client_initiated_close_end_to_end() {
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut ws = connect(&proxy, &[]).await;
    configure(&mut ws, "tok-1").await;
    ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "Guest client disconnect".into() })).await.unwrap();
    drain(ws).await;
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    assert_eq!(d.details["initiator"], "client");
    assert!(cause(&d, "client-closed")["message"].as_str().unwrap().contains("Guest client disconnect"));
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn jwt_expiring_mid_session_end_to_end() {
    // `exp` is a whole second: at least a second away, so the session is answered before it (on a slow machine,
    // or under Wine, an answer after the expiry makes it only a possible cause).
    let exp = chrono::Utc::now().timestamp() + 2;
    let part = |v: Value| frametap::inspect::jwt::encode_part(v.to_string().as_bytes());
    let jwt = format!("{}.{}.c2ln", part(json!({"alg":"RS256","typ":"JWT"})), part(json!({"sub":"guest","exp":exp})));
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut ws = connect(&proxy, &[("authorization", format!("Bearer {jwt}"))]).await;
    configure(&mut ws, "tok-1").await;
    // The token's lifetime has to pass in real time: wait until its `exp` second is over.
    let wait = (exp + 1) * 1000 - chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(std::time::Duration::from_millis(wait.max(0) as u64)).await;
    send(&mut ws, on_message("check-token")).await;
    drain(ws).await;
    let (capture, path, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    let expired = cause(&d, "token-expired");
    assert_eq!(expired["confidence"], "likely");
    assert!(expired["message"].as_str().unwrap().contains("header:authorization"), "{expired}");
    assert_eq!(rules(&d), offline);
}

/// Token records must read back from the capture like every other record.
#[tokio::test]
async fn token_records_read_back_from_the_capture() {
    let part = |v: Value| frametap::inspect::jwt::encode_part(v.to_string().as_bytes());
    let jwt = format!(
        "{}.{}.c2ln",
        part(json!({"alg":"RS256","typ":"JWT"})),
        part(json!({"sub":"guest","exp":4102444800i64}))
    );
    let proxy = start_analysing_proxy(start_scripted_upstream().await).await;
    let mut ws = connect(&proxy, &[("authorization", format!("Bearer {jwt}"))]).await;
    configure(&mut ws, "tok-1").await;
    ws.close(None).await.unwrap();
    drain(ws).await;
    let (capture, _, _dir) = proxy.stop().await;
    assert!(capture.problems.is_empty(), "{:?}", capture.problems);
    assert!(capture.records.iter().any(|r| matches!(r, Record::Token(t) if t.source == "header:authorization")));
}
