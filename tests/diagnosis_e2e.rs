//! Diagnoses end to end: a real client, the real proxy with the analyzer in its pipeline, and a scripted
//! Guest-API-like upstream, all on 127.0.0.1:0. Each live diagnosis is checked, and `inspect` on the
//! capture must reach the same causes.

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
    let exp = chrono::Utc::now().timestamp() + 1;
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

/// The message of the first note with this code.
fn note_of(capture: &frametap::capture::CaptureFile, code: &str) -> Option<String> {
    capture.records.iter().find_map(|r| match r {
        Record::Note(n) if n.code == code => Some(n.message.clone()),
        _ => None,
    })
}

#[tokio::test]
async fn a_subprotocol_the_upstream_did_not_choose_is_why_the_client_dropped_the_connection() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    // The upstream ignores the client's subprotocols: its 101 has no Sec-WebSocket-Protocol. It then waits
    // for the client to go away, and says so.
    let (gone_tx, mut gone) = mpsc::unbounded_channel();
    let (upstream, _heads) = common::raw::start_raw_server(common::raw::upgrade_all, move |mut ws| {
        let gone_tx = gone_tx.clone();
        async move {
            while let common::raw::Received::Frame(_) = ws.recv().await {}
            let _ = gone_tx.send(());
        }
    })
    .await;
    let proxy = start_analysing_proxy(upstream).await;
    // tungstenite, like a browser, fails a handshake whose answer lacks the subprotocol it asked for.
    let mut request = format!("ws://{}/chat", proxy.addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "v1.chat".parse().unwrap());
    tokio_tungstenite::connect_async(request).await.expect_err("the client fails the handshake");
    gone.recv().await.expect("the relay passed the client's end on");
    let (capture, file, _dir) = proxy.stop().await;
    let note = note_of(&capture, "handshake-mismatch").expect("a live warning at the handshake");
    assert!(note.contains(r#"offered the subprotocols "v1.chat" and the upstream chose none"#), "{note}");
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    let mismatch = cause(&d, "handshake-mismatch");
    assert_eq!(mismatch["confidence"], "likely", "{mismatch}");
    assert!(mismatch["evidence"][0].as_str().unwrap().contains("chose none"), "{mismatch}");
    let drop = cause(&d, "tcp-drop")["message"].as_str().unwrap();
    assert!(drop.contains("see handshake-mismatch") && !drop.contains("laptop"), "{drop}");
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn an_extension_the_upstream_accepted_unasked_is_warned_about_and_explains_its_rsv1_frame() {
    use frametap::event::Opcode;
    let decide =
        |_: &str| common::raw::Answer::Upgrade(vec![("Sec-WebSocket-Extensions".into(), "permessage-deflate".into())]);
    let (gone_tx, mut gone) = mpsc::unbounded_channel();
    let (upstream, _heads) = common::raw::start_raw_server(decide, move |mut ws| {
        let gone_tx = gone_tx.clone();
        async move {
            // A "compressed" frame: RSV1 set on a text frame.
            let mut bytes =
                frametap::wire::encode_frame(true, Opcode::Text, b"\xf2\x48\xcd\xc9\xc9\x07\x00", None).to_vec();
            bytes[0] |= 0x40;
            ws.send_raw(&bytes).await;
            while let common::raw::Received::Frame(_) = ws.recv().await {}
            let _ = gone_tx.send(());
        }
    })
    .await;
    let proxy = start_analysing_proxy(upstream).await;
    let mut ws = connect(&proxy, &[]).await;
    // tungstenite, like a browser, fails the connection on RSV bits it did not negotiate.
    assert!(matches!(ws.next().await, Some(Err(_))), "the client fails the connection");
    drop(ws);
    gone.recv().await.expect("the relay passed the client's end on");
    let (capture, file, _dir) = proxy.stop().await;
    let note = note_of(&capture, "handshake-mismatch").expect("a live warning at the handshake");
    assert!(note.contains("accepted the extension permessage-deflate though none was offered"), "{note}");
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    let violation = cause(&d, "ws-violation");
    assert_eq!(violation["confidence"], "likely", "{violation}");
    assert!(violation["evidence"].to_string().contains("accepted the extension permessage-deflate"), "{violation}");
    assert!(
        !rules(&d).contains(&"handshake-mismatch".to_owned()),
        "the client never saw the extension header: {:?}",
        rules(&d)
    );
    assert_eq!(rules(&d), offline);
}

/// An upstream that accepts TCP and never answers: the upgrade fails at the handshake timeout. The `open`
/// records when that was (it used to carry only the request's time, and the diagnosis a duration of 0), and the
/// request frametap sent, which went unanswered (it used to keep none); the notes about the request come before
/// the diagnosis (they used to follow it).
#[tokio::test]
async fn an_upstream_that_never_answers_is_diagnosed_when_the_handshake_timed_out() {
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let proxy = start_analysing_proxy(upstream).await;
    let offer = [("Sec-WebSocket-Extensions", "permessage-deflate")];
    let (head, ws, _) = common::raw::connect(proxy.addr, "/chat", &offer).await;
    assert!(head.starts_with("HTTP/1.1 502") && ws.is_none(), "{head}");
    let (capture, _file, _dir) = proxy.stop().await;
    holder.abort();
    let kinds: Vec<&str> = capture.records.iter().filter(|r| r.conn() == Some(1)).map(|r| r.kind()).collect();
    assert_eq!(kinds, ["open", "note", "diagnosis"]);
    let Some(Record::Open(open)) = capture.records.iter().find(|r| r.kind() == "open") else { unreachable!() };
    let failed_ms = open.failed_ms.expect("a failed upgrade says when it failed");
    assert!(failed_ms >= common::TEST_TIMEOUT.as_secs_f64() * 1000.0, "{open:?}");
    let sent = open.upstream_request.as_ref().expect("the request frametap sent, though no answer came");
    assert_eq!(sent.path, "/chat");
    assert!(frametap::event::header(&sent.headers, "sec-websocket-key").is_some(), "{sent:?}");
    // frametap removed the client's compression offer, as on every upgrade it relays.
    assert!(frametap::event::header(&sent.headers, "sec-websocket-extensions").is_none(), "{sent:?}");
    let Some(Record::Diagnosis(d)) = capture.records.iter().find(|r| r.kind() == "diagnosis") else { unreachable!() };
    assert_eq!(Some(d.ts), open.failed_at(), "dated when the upgrade failed, not when it was asked for");
    assert_eq!(d.details["duration_ms"], json!(failed_ms));
    assert!(cause(d, "upgrade-refused")["message"].as_str().unwrap().contains("timed out"), "{d:?}");
}

/// An upstream that authenticates the upgrade by cookie refuses it through frametap, which drops the
/// browser's cookies by default: the diagnosis says so (it used to give only the generic 403 hint, and the
/// `cookies-dropped` note did not connect the two).
#[tokio::test]
async fn a_refusal_from_an_upstream_that_wanted_the_cookies_frametap_dropped_says_so() {
    let decide = |head: &str| {
        if head.to_ascii_lowercase().contains("\r\ncookie:") {
            common::raw::Answer::Upgrade(Vec::new())
        } else {
            common::raw::Answer::Refuse(403, Vec::new(), b"no session".to_vec())
        }
    };
    let (upstream, _heads) = common::raw::start_raw_server(decide, |_| async {}).await;
    let proxy = start_analysing_proxy(upstream).await;
    let (head, ws, _) = common::raw::connect(proxy.addr, "/socket", &[("Cookie", "session=abc")]).await;
    assert!(head.starts_with("HTTP/1.1 403") && ws.is_none(), "{head}");
    // Without cookies the same refusal says nothing about them.
    let (head, _, _) = common::raw::connect(proxy.addr, "/socket", &[]).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, _) = diagnosis_and_inspect(&capture, &file, 1);
    let evidence = cause(&d, "upgrade-refused")["evidence"].to_string();
    assert!(evidence.contains("the client sent 1 Cookie header that frametap did not forward"), "{evidence}");
    assert!(evidence.contains("--forward-cookies"), "{evidence}");
    let (d, _) = diagnosis_and_inspect(&capture, &file, 2);
    assert!(!cause(&d, "upgrade-refused")["evidence"].to_string().contains("Cookie"), "{d:?}");
}

/// Browsers send `Accept-Encoding: gzip, …` on the upgrade and frametap passes it on, so a gateway may refuse it
/// with a gzipped page; another may answer in Latin-1. Either body is not UTF-8, and the diagnosis used to leave
/// out what the upstream said: it now quotes the page decompressed, or read with `�` for the odd byte.
#[tokio::test]
async fn a_refusal_page_that_is_gzipped_or_not_utf8_is_still_quoted_in_the_diagnosis() {
    use std::io::Write as _;
    let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzipped.write_all(b"<h1>403</h1> blocked by WAF rule 942100: origin not allowed").unwrap();
    let gzipped = gzipped.finish().unwrap();
    let decide = move |head: &str| {
        let gzip = vec![("Content-Encoding".to_owned(), "gzip".to_owned())];
        if head.starts_with("GET /gzip ") {
            common::raw::Answer::Refuse(403, gzip, gzipped.clone())
        } else {
            common::raw::Answer::Refuse(403, Vec::new(), b"Zugriff verweigert f\xfcr diese Origin".to_vec())
        }
    };
    let (upstream, _heads) = common::raw::start_raw_server(decide, |_| async {}).await;
    let proxy = start_analysing_proxy(upstream).await;
    for path in ["/gzip", "/latin1"] {
        let (head, ws, _) = common::raw::connect(proxy.addr, path, &[("Accept-Encoding", "gzip, deflate, br")]).await;
        assert!(head.starts_with("HTTP/1.1 403") && ws.is_none(), "{head}");
    }
    let (capture, file, _dir) = proxy.stop().await;
    let (d, _) = diagnosis_and_inspect(&capture, &file, 1);
    let evidence = cause(&d, "upgrade-refused")["evidence"].to_string();
    assert!(
        evidence.contains("the upstream said: <h1>403</h1> blocked by WAF rule 942100: origin not allowed"),
        "{evidence}"
    );
    let (d, _) = diagnosis_and_inspect(&capture, &file, 2);
    let evidence = cause(&d, "upgrade-refused")["evidence"].to_string();
    assert!(evidence.contains("the upstream said: Zugriff verweigert f\u{fffd}r diese Origin"), "{evidence}");
    // The record keeps the bytes as they came.
    let gzip_open = common::open_of(&capture, 1).response.clone().unwrap();
    assert!(gzip_open.body.is_none() && gzip_open.body_base64.is_some());
}

/// An upstream that is reached and answers, but not as a WebSocket server (a 101 with a wrong or no
/// `Sec-WebSocket-Accept`): the diagnosis says the connection failed and why, not that the upstream "could not be
/// reached" (it was), and quotes the header as sent, not as Rust's `Some("…")`. The `open` keeps the request sent
/// and the 101 as it came (it used to keep no `response`), while saying the upgrade failed.
#[tokio::test]
async fn a_101_with_a_wrong_accept_is_not_called_unreachable() {
    use tokio::io::AsyncWriteExt as _;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for accept in ["Sec-WebSocket-Accept: AAAA\r\n", ""] {
            let (mut stream, _) = listener.accept().await.unwrap();
            common::raw::read_head(&mut stream).await;
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{accept}\r\n"
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    let proxy = start_analysing_proxy(upstream).await;
    for _ in 0..2 {
        let (head, ws, _) = common::raw::connect(proxy.addr, "/chat", &[]).await;
        assert!(head.starts_with("HTTP/1.1 502") && ws.is_none(), "{head}");
    }
    let (capture, file, _dir) = proxy.stop().await;
    for (conn, problem, accept) in [
        (1, "with Sec-WebSocket-Accept \"AAAA\", not the \"", Some("AAAA")),
        (2, "without a Sec-WebSocket-Accept header", None),
    ] {
        let open = common::open_of(&capture, conn);
        assert!(open.error.is_some() && open.upstream_request.is_some(), "{open:?}");
        let response = open.response.as_ref().expect("the 101 as it came");
        assert_eq!(response.status, 101);
        assert_eq!(frametap::event::header(&response.headers, "sec-websocket-accept"), accept, "{response:?}");
        assert_eq!(frametap::event::header(&response.headers, "upgrade"), Some("websocket"), "{response:?}");
        let (d, _) = diagnosis_and_inspect(&capture, &file, conn);
        assert_eq!(d.details["opened"], false, "{d:?}");
        let message = cause(&d, "upgrade-refused")["message"].as_str().unwrap().to_owned();
        assert!(message.contains("the connection to the upstream failed: the upgrade request to"), "{message}");
        assert!(message.contains(&format!("the upstream answered 101 {problem}")), "{message}");
        assert!(message.ends_with(": not a WebSocket server"), "{message}");
        assert!(!message.contains("could not be reached") && !message.contains("Some("), "{message}");
    }
}
