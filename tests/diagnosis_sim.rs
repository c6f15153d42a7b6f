//! Diagnoses end to end through the real proxy and frametap's Genesys simulator, both on 127.0.0.1:0: each
//! scenario the simulator reproduces (chosen per connection with `sim-*` query parameters) must be
//! diagnosed live, and `inspect` on the capture must recompute the same causes. Authenticated sessions:
//! tests/diagnosis_sim_auth.rs.

mod common;
mod common_sim;
#[path = "fixtures/live.rs"]
mod live;
#[path = "diagnosis_sim_support/mod.rs"]
mod support;

use frametap::event::Diagnosis;
use live::*;
use serde_json::{json, Value};
use support::{configure_as, path, read_text, start_simulator, SIM};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

fn message(token: &str, text: &str) -> Value {
    json!({"action":"onMessage","token":token,"tracingId":text,"message":{"type":"Text","text":text}})
}

/// A guest through the proxy in front of the simulator: connected to `path(scenario)`, configured as `token`.
async fn guest_session(scenario: &str, token: &str) -> (Proxy, Client) {
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path(scenario), &[]).await;
    configure_as(&mut ws, token).await;
    (proxy, ws)
}

/// A message under a token the simulator knows no session for: it answers 4007 (session not found).
async fn get_session_not_found(ws: &mut Client) {
    send(ws, message("00000000-1111-4000-8000-000000000000", "hello")).await;
    assert_eq!(read_text(ws).await["code"], 4007);
}

/// The guest closes with `close`; then the proxy stops. Connection 1's live diagnosis, and the rules `inspect`
/// finds in the capture.
async fn close_and_diagnose(proxy: Proxy, mut ws: Client, close: Option<CloseFrame>) -> (Diagnosis, Vec<String>) {
    ws.close(close).await.unwrap();
    drain(ws).await;
    let (capture, file, _dir) = proxy.stop().await;
    diagnosis_and_inspect(&capture, &file, 1)
}

/// How the Genesys SDKs close: 1000 "Guest client disconnect".
fn guest_disconnect() -> Option<CloseFrame> {
    Some(CloseFrame { code: CloseCode::Normal, reason: "Guest client disconnect".into() })
}

#[tokio::test]
async fn seed_story_through_the_simulator() {
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path(""), &[]).await;
    send(&mut ws, json!({"type":"message","content":"Hello from custom UI","timestamp":1764064800120u64})).await;
    assert!(drain(ws).await.is_empty(), "the simulator closes without an error frame");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_seed_story_diagnosis(&d, &offline);
    assert_eq!(d.details["profile"], "genesys");
    assert!(
        d.details["findings"].as_array().unwrap().iter().all(|f| f["seq"] == 1),
        "the simulator is a Guest API upstream"
    );
    for c in d.details["causes"].as_array().unwrap() {
        let text = c["message"].as_str().unwrap();
        assert!(!text.contains("expired"), "{text}");
    }
}

#[tokio::test]
async fn session_expiry_through_the_simulator() {
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path("&sim-expire-after=0.3"), &[]).await;
    assert_eq!(configure_as(&mut ws, "3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11").await["class"], "SessionResponse");
    let texts = drain(ws).await;
    assert!(texts.iter().any(|t| t.contains("SessionExpiredEvent")), "{texts:?}");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert!(cause(&d, "server-announced")["message"].as_str().unwrap().contains("SessionExpiredEvent"));
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn rate_limit_through_the_simulator() {
    let token = "5a0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a12";
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path("&sim-rate-limit=1"), &[]).await;
    configure_as(&mut ws, token).await;
    for text in ["one", "two", "three"] {
        send(&mut ws, message(token, text)).await;
    }
    let mut limited = false;
    for _ in 0..8 {
        if read_text(&mut ws).await["class"] == "TooManyRequestsErrorMessage" {
            limited = true;
            break;
        }
    }
    assert!(limited, "the simulator rate-limited the third message");
    ws.close(None).await.unwrap();
    drain(ws).await;
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!(d.details["initiator"], "client");
    let limit = cause(&d, "rate-limit");
    assert!(
        limit["evidence"][0].as_str().unwrap().contains("4029")
            || limit["evidence"][0].as_str().unwrap().contains("429")
    );
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn agent_disconnect_through_the_simulator() {
    let token = "6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a13";
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path("&sim-agent-disconnect-after=1"), &[]).await;
    configure_as(&mut ws, token).await;
    send(&mut ws, message(token, "hello")).await;
    let mut left = false;
    for _ in 0..8 {
        let frame = read_text(&mut ws).await;
        if frame.to_string().contains("Disconnect") {
            left = true;
            break;
        }
    }
    assert!(left, "the agent left");
    ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "Guest client disconnect".into() })).await.unwrap();
    drain(ws).await;
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert!(cause(&d, "server-announced")["message"].as_str().unwrap().contains("agent ended the conversation"));
    assert!(cause(&d, "client-closed")["message"].as_str().unwrap().contains("Guest client disconnect"));
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn second_tab_through_the_simulator() {
    let token = "7c0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a14";
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut first = connect_to(&proxy, &path(""), &[]).await;
    configure_as(&mut first, token).await;
    let mut second = connect_to(&proxy, &path(""), &[]).await;
    assert_eq!(configure_as(&mut second, token).await["body"]["newSession"], false);
    let texts = drain(first).await;
    assert!(texts.iter().any(|t| t.contains("ConnectionClosedEvent")), "{texts:?}");
    second.close(None).await.unwrap();
    drain(second).await;
    let (capture, file, dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert!(cause(&d, "server-announced")["message"].as_str().unwrap().contains("another tab"));
    assert_eq!(rules(&d), offline);
    // Shared after `frametap redact`, the capture gives the same diagnosis, without the session token.
    let redacted = dir.path().join("shared.jsonl");
    frametap::redact::run_redact(frametap::redact::RedactCommand { input: file.clone(), output: redacted.clone() })
        .unwrap();
    assert!(!std::fs::read_to_string(&redacted).unwrap().contains(token));
    let shared = frametap::capture::read_capture(&redacted).unwrap();
    let (_, after_redaction) = diagnosis_and_inspect(&shared, &redacted, 1);
    assert_eq!(after_redaction, offline);
}

#[tokio::test]
async fn tcp_drop_through_the_simulator() {
    let token = "8d0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a15";
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path("&sim-drop-after=2"), &[]).await;
    configure_as(&mut ws, token).await;
    send(&mut ws, message(token, "lost")).await;
    drain(ws).await;
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!((d.details["initiator"].as_str(), d.details["clean"].as_bool()), (Some("server"), Some(false)));
    assert_eq!(cause(&d, "tcp-drop")["confidence"], "certain");
    assert_eq!(d.details["preceding"]["seq"], 3);
    assert_eq!(rules(&d), offline);
}

/// The simulator answers 4007 (session not found) to a message under another token; the client goes on with
/// its own token, and `sim-drop-after` drops TCP on that frame, unanswered. The server left the connection open
/// after its 4007 and ended it only once the client's next frame had reached it: the 4007 is only a possible
/// reason (it used to read as the likely one, heading the summary), and nothing claims more than the timing shows.
#[tokio::test]
async fn a_drop_after_the_client_went_on_past_a_4007_is_not_blamed_on_the_4007_through_the_simulator() {
    let token = "8d0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a1b";
    let (proxy, mut ws) = guest_session("&sim-drop-after=3", token).await;
    get_session_not_found(&mut ws).await;
    send(&mut ws, message(token, "after the 4007")).await;
    drain(ws).await;
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!((d.details["initiator"].as_str(), d.details["clean"].as_bool()), (Some("server"), Some(false)));
    assert_eq!(d.details["preceding"]["seq"], 5);
    let announced = cause(&d, "server-announced");
    assert_eq!(announced["confidence"], "possible", "{announced}");
    let message = announced["message"].as_str().unwrap();
    assert!(message.contains("the client sent frame #5 after it"), "{message}");
    let summary = d.details["summary"].as_str().unwrap();
    assert!(!summary.contains("likely: the server said the session was not found"), "{summary}");
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn rest_only_jwt_expiry_is_ruled_out_through_the_simulator() {
    let token = "9e0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a16";
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path("&sim-jwt-ttl=0"), &[]).await;
    configure_as(&mut ws, token).await;
    send(&mut ws, json!({"action":"getJwt","token":token,"tracingId":"j-1"})).await;
    assert_eq!(read_text(&mut ws).await["class"], "JwtResponse");
    ws.close(None).await.unwrap();
    drain(ws).await;
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert!(!rules(&d).contains(&"token-expired".to_string()), "{:?}", rules(&d));
    let ruled = d.details["ruled_out"][0]["message"].as_str().unwrap();
    assert!(ruled.contains("only authorises REST calls"), "{ruled}");
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn refused_origin_through_the_simulator() {
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let url = format!("ws://{}{}", proxy.addr, path("&sim-allowed-origin=https://shop.example"));
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("origin", "https://elsewhere.example".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await.expect_err("the simulator refuses this Origin");
    assert!(refused.to_string().contains("403"), "{refused}");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!((d.details["opened"].as_bool(), d.details["status"].as_u64()), (Some(false), Some(403)));
    let message = cause(&d, "upgrade-refused")["message"].as_str().unwrap().to_owned();
    assert!(message.contains("HTTP 403") && message.contains("allowed domains"), "{message}");
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn a_request_sent_in_fragments_is_read_whole_through_the_simulator() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::Message;
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path(""), &[]).await;
    // The seed story's message in three fragments: the simulator (tungstenite) reads it whole, and so must
    // the analysis.
    let parts: [&[u8]; 3] = [br#"{"type":"message","#, br#""content":"Hello from custom UI","#, br#""timestamp":1}"#];
    for (i, part) in parts.iter().enumerate() {
        let opcode = if i == 0 { OpCode::Data(Data::Text) } else { OpCode::Data(Data::Continue) };
        ws.send(Message::Frame(Frame::message(part.to_vec(), opcode, i == 2))).await.unwrap();
    }
    assert!(drain(ws).await.is_empty(), "the simulator closes without an error frame");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!((d.details["initiator"].as_str(), d.details["code"].as_u64()), (Some("server"), Some(1000)));
    let lint = cause(&d, "protocol-lint")["message"].as_str().unwrap().to_owned();
    assert!(lint.contains("frame #3") && lint.contains("no `action`") && lint.contains("configureSession"), "{lint}");
    assert_eq!(rules(&d), offline);
}

/// The agent leaves (Presence Disconnect, read-only), then the guest's tab closes: the browser sends 1001. The
/// server ended nothing here; the agent leaving is context, and the page going away is the likely cause.
#[tokio::test]
async fn an_agent_leaving_is_context_when_the_guests_tab_then_closes_through_the_simulator() {
    let token = "6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a17";
    let (proxy, mut ws) = guest_session("&sim-agent-disconnect-after=1", token).await;
    send(&mut ws, message(token, "hello")).await;
    while !read_text(&mut ws).await.to_string().contains("Disconnect") {}
    let tab_closed = Some(CloseFrame { code: CloseCode::Away, reason: "".into() });
    let (d, offline) = close_and_diagnose(proxy, ws, tab_closed).await;
    let announced = cause(&d, "server-announced");
    assert_eq!(announced["confidence"], "possible", "{announced}");
    let message = announced["message"].as_str().unwrap();
    assert!(message.contains("agent ended the conversation") && message.contains("read-only"), "{message}");
    assert!(message.contains("not why this connection closed") && message.contains("1001"), "{message}");
    let summary = d.details["summary"].as_str().unwrap();
    assert!(summary.contains("likely: the client closed with 1001") && summary.contains("page"), "{summary}");
    assert_eq!(rules(&d), offline);
}

/// The server says the session is gone (4007) and the client closes at once, sending nothing else: its
/// reaction, so the announcement explains the close.
#[tokio::test]
async fn a_client_closing_right_after_session_not_found_reacted_to_it_through_the_simulator() {
    let (proxy, mut ws) = guest_session("", "6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a18").await;
    get_session_not_found(&mut ws).await;
    let (d, offline) = close_and_diagnose(proxy, ws, guest_disconnect()).await;
    let announced = cause(&d, "server-announced");
    assert_eq!(announced["confidence"], "likely", "{announced}");
    assert!(announced["message"].as_str().unwrap().contains("likely closed in reaction to it"), "{announced}");
    assert_eq!(rules(&d), offline);
}

/// The server says the session is gone (4007), but the client goes on (its next request is answered) and
/// closes later: it closed for its own reasons, not over the 4007.
#[tokio::test]
async fn a_client_that_went_on_after_session_not_found_closed_for_its_own_reasons_through_the_simulator() {
    let token = "6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a19";
    let (proxy, mut ws) = guest_session("", token).await;
    get_session_not_found(&mut ws).await;
    send(&mut ws, message(token, "again")).await;
    assert_eq!(read_text(&mut ws).await["class"], "StructuredMessage");
    let (d, offline) = close_and_diagnose(proxy, ws, guest_disconnect()).await;
    let announced = cause(&d, "server-announced");
    assert_eq!(announced["confidence"], "possible", "{announced}");
    let message = announced["message"].as_str().unwrap();
    assert!(message.contains("the client went on after it (it sent frame #5)"), "{message}");
    // Nothing is likely: the summary leads with the certain fact, the client's own close, then the possible cause.
    let summary = d.details["summary"].as_str().unwrap();
    let (lead, possible) = summary.split_once("; possible: ").unwrap_or_else(|| panic!("{summary}"));
    assert!(lead.contains("; certain: the client closed the connection itself"), "{summary}");
    assert!(possible.contains("for its own reasons"), "{summary}");
    assert_eq!(rules(&d), offline);
}

/// The simulator refuses a message as too long (4011) and the client closes at once: the refusal is named as
/// what the client possibly closed over, not left out behind "look at the client's code".
#[tokio::test]
async fn a_client_closing_right_after_an_error_answer_is_told_about_it_through_the_simulator() {
    let token = "6b0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a1a";
    let (proxy, mut ws) = guest_session("", token).await;
    send(&mut ws, message(token, &"x".repeat(5000))).await;
    assert_eq!(read_text(&mut ws).await["code"], 4011);
    let (d, offline) = close_and_diagnose(proxy, ws, None).await;
    let error = cause(&d, "server-error-response");
    assert_eq!(error["confidence"], "possible", "{error}");
    assert!(error["message"].as_str().unwrap().contains("4011"), "{error}");
    assert_eq!(rules(&d), offline);
}

/// The simulator's answer to an `echo` sent without a tracingId (the application heartbeat) is linked to it in the
/// annotations, as answers paired by tracingId are: the reference gives an echo's answer as a
/// `response`/`StructuredMessage` repeating its text. It used to be left unlinked.
#[tokio::test]
async fn an_echo_without_a_tracing_id_is_linked_to_its_answer() {
    let token = "3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11";
    let (proxy, mut ws) = guest_session("", token).await;
    for text in ["ping", "still there?"] {
        send(&mut ws, json!({"action":"echo","token":token,"message":{"type":"Text","text":text}})).await;
        let answer = read_text(&mut ws).await;
        assert_eq!(
            (&answer["type"], &answer["class"], &answer["body"]["text"]),
            (&json!("response"), &json!("StructuredMessage"), &json!(text))
        );
        assert!(answer.get("tracingId").is_none(), "{answer}");
    }
    ws.close(None).await.unwrap();
    drain(ws).await;
    let (capture, _file, _dir) = proxy.stop().await;
    let annotation = |seq: u64| {
        capture
            .records
            .iter()
            .find_map(|r| match r {
                frametap::event::Record::Annotation(a) if a.conn == 1 && a.seq == seq => Some(a.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no annotation of frame #{seq}"))
    };
    // #1 configure, #2 its SessionResponse, then each echo and its answer.
    for (request, answer) in [(3, 4), (5, 6)] {
        let a = annotation(answer);
        let paired = (a.details.get("paired_seq"), a.details.get("paired_action"));
        assert_eq!(paired, (Some(&json!(request)), Some(&json!("echo"))), "{a:?}");
        assert!(a.text.starts_with(&format!("StructuredMessage 200 ← #{request} echo in ")), "{}", a.text);
    }
}

/// A guest rate-limited early (a second onMessage within the simulator's one-per-second window), whose next
/// request (an echo) the simulator answers normally; the session then expires from inactivity and the simulator
/// closes. The rate limit is context, not why it closed: the server went on answering after it (it used to be a
/// likely cause, "sending on after that likely got the connection closed"). The near miss, a server that closes
/// right after a rate limit, is `a_rate_limit_before_the_close_is_named` in tests/diagnosis.rs.
#[tokio::test]
async fn a_rate_limit_the_server_went_on_after_is_not_why_it_closed_through_the_simulator() {
    let token = "5a0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a13";
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path("&sim-rate-limit=1&sim-expire-after=0.5"), &[]).await;
    configure_as(&mut ws, token).await;
    for text in ["one", "two"] {
        send(&mut ws, message(token, text)).await;
    }
    while read_text(&mut ws).await["class"] != "TooManyRequestsErrorMessage" {}
    send(&mut ws, json!({"action":"echo","token":token,"tracingId":"e-1","message":{"type":"Text","text":"ping"}}))
        .await;
    while read_text(&mut ws).await["tracingId"] != "e-1" {}
    let texts = drain(ws).await;
    assert!(texts.iter().any(|t| t.contains("SessionExpiredEvent")), "{texts:?}");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!(d.details["causes"][0]["rule"], "server-announced", "{:?}", rules(&d));
    let limit = cause(&d, "rate-limit");
    assert_eq!(limit["confidence"], "possible", "{limit}");
    assert!(limit["message"].as_str().unwrap().contains("the server went on answering normally after it (frame #"));
    assert_eq!(rules(&d), offline);
}

/// A guest rate-limited (a second onMessage within the simulator's one-per-second window) that then sends nothing:
/// the session expires from inactivity, and the simulator announces it (SessionExpiredEvent) and closes. The close
/// followed from the announcement, not from the rate limit before it: the rate limit is only possible (it was
/// likely, "the close likely followed from it").
#[tokio::test]
async fn a_rate_limit_before_an_announced_session_expiry_is_only_possible_through_the_simulator() {
    let token = "5a0c1f52-7a0e-4c0b-9d7e-2b1f9c1e0a14";
    let proxy = start_labelled_proxy(start_simulator().await, Some(SIM)).await;
    let mut ws = connect_to(&proxy, &path("&sim-rate-limit=1&sim-expire-after=0.5"), &[]).await;
    configure_as(&mut ws, token).await;
    for text in ["one", "two"] {
        send(&mut ws, message(token, text)).await;
    }
    let texts = drain(ws).await;
    assert!(texts.iter().any(|t| t.contains("TooManyRequestsErrorMessage")), "{texts:?}");
    assert!(texts.last().is_some_and(|t| t.contains("SessionExpiredEvent")), "{texts:?}");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!(d.details["causes"][0]["rule"], "server-announced", "{:?}", rules(&d));
    let limit = cause(&d, "rate-limit");
    assert_eq!(limit["confidence"], "possible", "{limit}");
    let message = limit["message"].as_str().unwrap();
    assert!(message.contains("the server then announced the end itself (frame #"), "{message}");
    assert_eq!(rules(&d), offline);
}
