//! Close-analysis edge cases found by exploratory testing: timeouts, frametap's own closes, codes the wire
//! forbids, frames that break RFC 6455, stale announcements, codes a client chose, requests sent with no session
//! or another token, rate limits, and what came after the first close frame. Fragmented messages:
//! tests/diagnosis_fragments.rs.

// Shared with tests/diagnosis.rs, which uses the rest of it.
#[allow(dead_code)]
#[path = "fixtures/script.rs"]
mod script;

use frametap::event::{Close, Opcode, Peer, Record};
use frametap::inspect::render_diagnosis;
use frametap::inspect::ProfileChoice;
use script::*;

/// A `close` record the relay writes when nobody dropped TCP but the close handshake did not finish in time.
fn timed_out_close(s: &mut Script, ms: i64, initiator: Peer, code: u16) {
    let ts = s.ts(ms);
    s.records.push(Record::Close(Close {
        conn: 1,
        ts,
        initiator,
        initiator_unknown: false,
        code: Some(code),
        reason: Some(String::new()),
        clean: false,
        dropped_by: None,
        duration_ms: ms as f64,
        detail: Some("the close handshake did not finish within 5.0 s; frametap closed both TCP connections".into()),
    }));
}

#[test]
fn a_close_the_server_never_answered_is_not_blamed_on_the_client() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").close_frame(100, Peer::Client, 1000, "");
    timed_out_close(&mut s, 5100, Peer::Client, 1000);
    let d = s.diagnose();
    assert!(!has_cause(&d, "tcp-drop"), "nobody dropped TCP: {:#?}", causes(&d));
    let unanswered = cause(&d, "close-unanswered");
    assert_eq!(unanswered["confidence"], "certain");
    let message = unanswered["message"].as_str().unwrap();
    assert!(message.contains("the server never answered") && message.contains("close timeout"), "{message}");
    let client = cause(&d, "client-closed");
    assert_eq!(client["confidence"], "certain");
    assert_eq!(client["evidence"], serde_json::json!([]), "the timeout is close-unanswered's evidence");
    // How it ended is listed after why.
    assert_eq!(causes(&d).last().unwrap().0, "close-unanswered");
}

#[test]
fn frametaps_own_1009_says_which_frame_was_too_big_not_the_largest_relayed_one() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").server(10, &"x".repeat(900));
    s.close_frame(20, Peer::Proxy, 1009, "message too big for frametap --max-message");
    let ts = s.ts(30);
    let detail = "the client sent a frame of 2135 bytes, past --max-message 1024 (not passed on), so frametap closed with 1009; then the client closed the TCP connection without a close frame";
    s.records.push(Record::Close(Close {
        conn: 1,
        ts,
        initiator: Peer::Proxy,
        initiator_unknown: false,
        code: Some(1009),
        reason: Some("message too big for frametap --max-message".into()),
        clean: false,
        dropped_by: Some(Peer::Client),
        duration_ms: 30.0,
        detail: Some(detail.into()),
    }));
    let d = s.diagnose();
    let proxy = cause(&d, "proxy-closed");
    assert!(proxy["message"].as_str().unwrap().contains("the client sent a frame of 2135 bytes"), "{proxy}");
    assert!(!has_cause(&d, "close-code"), "the largest relayed frame is not what was too big: {:#?}", causes(&d));
    assert!(d.details["summary"].as_str().unwrap().contains("2135 bytes"), "{}", d.details["summary"]);
}

#[test]
fn close_code_1005_on_the_wire_is_a_broken_implementation() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").close_frame(10, Peer::Client, 1005, "");
    s.close_frame(11, Peer::Server, 1002, "").close(12, Peer::Client, Some(1005), Some(""), true);
    let d = s.diagnose();
    let code = cause(&d, "close-code");
    assert_eq!(code["confidence"], "certain");
    assert!(code["message"].as_str().unwrap().contains("forbids on the wire"), "{code}");
    let meaning = d.details["code_meaning"].as_str().unwrap();
    assert!(meaning.contains("never puts it in a close frame"), "{meaning}");
    assert!(!has_cause(&d, "ws-violation"), "close-code says it already: {:#?}", causes(&d));
}

#[test]
fn a_frame_that_breaks_rfc_6455_explains_the_receivers_close() {
    // RSV1 without a negotiated extension, then the server drops TCP.
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "fine");
    s.frame(10, Peer::Client, Opcode::Text, b"{}".to_vec());
    if let Some(Record::Frame(frame)) = s.records.last_mut() {
        frame.rsv = 4;
    }
    s.close(20, Peer::Server, None, None, false);
    let d = s.diagnose();
    let violation = cause(&d, "ws-violation");
    assert_eq!(violation["confidence"], "likely");
    assert_eq!(violation["seq"], 2);
    assert!(violation["message"].as_str().unwrap().contains("RSV bits are 100"), "{violation}");
    assert!(violation["evidence"][0].as_str().unwrap().contains("1002 Protocol Error"), "{violation}");

    // Invalid UTF-8 in a text frame: 1007, and the Genesys lint does not call it binary.
    let mut s = Script::new("sim:genesys/v1", Some(1.0));
    s.client(0, CONFIGURE).server(5, SESSION_RESPONSE);
    s.frame(10, Peer::Client, Opcode::Text, vec![b'{', 0xff, b'}']);
    s.close_frame(11, Peer::Server, 1007, "").close(12, Peer::Server, Some(1007), None, true);
    let d = s.diagnose();
    assert!(cause(&d, "ws-violation")["evidence"][0].as_str().unwrap().contains("1007"));
    let text = render_diagnosis(&d, false);
    assert!(!text.contains("binary frame") && text.contains("not valid UTF-8"), "{text}");

    // A 1-byte close payload: a close frame was sent, malformed; the server dropped TCP instead of answering.
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hi").frame(10, Peer::Client, Opcode::Close, vec![3]);
    s.close(20, Peer::Client, None, None, false);
    if let Some(Record::Close(close)) = s.records.last_mut() {
        close.dropped_by = Some(Peer::Server);
    }
    let d = s.diagnose();
    let meaning = d.details["code_meaning"].as_str().unwrap();
    assert!(meaning.contains("malformed (1 byte") && !meaning.contains("no close frame"), "{meaning}");
    assert_eq!(cause(&d, "ws-violation")["confidence"], "likely");
}

#[test]
fn a_bad_frame_the_receiver_tolerated_is_only_a_possible_cause() {
    // The server sends invalid UTF-8; the client goes on talking, and closes normally seconds later.
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.frame(0, Peer::Server, Opcode::Text, vec![0x03, 0xe8, 0xff]);
    s.client(500, "still talking").client(1500, "and again");
    s.close_frame(2000, Peer::Client, 1000, "").close_frame(2001, Peer::Server, 1000, "");
    s.close(2002, Peer::Client, Some(1000), None, true);
    let violation = cause(&s.diagnose(), "ws-violation").clone();
    assert_eq!(violation["confidence"], "possible", "{violation}");
    assert!(violation["message"].as_str().unwrap().contains("the client went on sending after it"), "{violation}");
}

#[test]
fn a_shutdown_one_side_never_answered_names_that_side() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hi").close_frame(10, Peer::Proxy, 1001, "frametap is shutting down");
    if let Some(Record::Frame(frame)) = s.records.last_mut() {
        frame.to = Peer::Client;
    }
    s.close_frame(11, Peer::Proxy, 1001, "frametap is shutting down");
    s.close_frame(12, Peer::Client, 1001, "");
    timed_out_close(&mut s, 5012, Peer::Proxy, 1001);
    let message = cause(&s.diagnose(), "close-unanswered")["message"].as_str().unwrap().to_owned();
    assert!(message.contains("the server never answered"), "{message}");
}

#[test]
fn a_conforming_connection_has_no_rfc_6455_cause() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hi").frame(5, Peer::Server, Opcode::Binary, vec![0xff, 0]);
    s.close_frame(10, Peer::Client, 1000, "bye").close_frame(11, Peer::Server, 1000, "bye");
    s.close(12, Peer::Client, Some(1000), Some("bye"), true);
    assert!(!has_cause(&s.diagnose(), "ws-violation"));
}

#[test]
fn the_announcement_right_before_the_close_outranks_an_older_one_the_connection_outlived() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.server(1000, r#"{"type":"response","class":"string","code":4007,"body":"session not found"}"#);
    s.client(2000, ECHO);
    s.server(3000, r#"{"type":"message","class":"SessionExpiredEvent","code":200,"body":{}}"#);
    s.close_frame(3001, Peer::Server, 1000, "").close(3002, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let announced: Vec<(String, String)> = d.details["causes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["rule"] == "server-announced")
        .map(|c| (c["confidence"].as_str().unwrap().into(), c["message"].as_str().unwrap().into()))
        .collect();
    assert_eq!(announced.len(), 2, "{announced:?}");
    assert_eq!(announced[0].0, "likely");
    assert!(announced[0].1.contains("SessionExpiredEvent"), "{announced:?}");
    assert_eq!(announced[1].0, "possible");
    assert!(d.details["summary"].as_str().unwrap().contains("SessionExpiredEvent"), "{}", d.details["summary"]);
}

#[test]
fn a_code_the_client_chose_is_not_read_as_the_servers_vocabulary() {
    for (code, reason) in [(4029, "slow down"), (4000, "Guest client disconnect")] {
        let mut s = Script::new("sim:genesys/v1", Some(5.0));
        s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
        s.close_frame(100, Peer::Client, code, reason).close_frame(101, Peer::Server, code, "");
        s.close(102, Peer::Client, Some(code), Some(reason), true);
        let d = s.diagnose();
        assert!(!has_cause(&d, "rate-limit"), "{code}: {:#?}", causes(&d));
        let close_code = cause(&d, "close-code");
        assert_eq!(close_code["confidence"], "possible", "{code}");
        assert!(close_code["message"].as_str().unwrap().contains("application code"), "{close_code}");
    }
}

#[test]
fn a_plain_text_frame_is_quoted_in_the_lint_message() {
    let mut s = Script::new("sim:genesys/v1", Some(1.0));
    s.client(0, "not json at all").close_frame(5, Peer::Server, 1000, "").close(
        6,
        Peer::Server,
        Some(1000),
        None,
        true,
    );
    let message = cause(&s.diagnose(), "protocol-lint")["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("client frame #1 \"not json at all\" breaks"), "{message}");
}

#[test]
fn typing_events_are_annotated_like_presence_events() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.server(30, r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"type":"Event","direction":"Outbound","events":[{"eventType":"Typing","typing":{"type":"On","duration":5000}}]}}"#);
    let texts: Vec<String> = s
        .run(frametap::inspect::ProfileChoice::Auto)
        .into_iter()
        .filter_map(|r| match r {
            Record::Annotation(a) => Some(a.text),
            _ => None,
        })
        .collect();
    assert_eq!(texts.last().unwrap(), "StructuredMessage 200 Outbound Event Typing On");
}

#[test]
fn a_possible_reply_is_not_called_likely_and_old_tokens_read_in_days() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").close_frame(3, Peer::Server, 1000, "").close(4, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let response = cause(&d, "in-response");
    assert_eq!(response["confidence"], "possible");
    assert!(response["message"].as_str().unwrap().contains("possibly in response"), "{response}");

    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    let token = jwt(serde_json::json!({"exp": epoch(-3 * 365 * 86_400)}));
    s.client(0, &format!(r#"{{"token":"{token}"}}"#));
    s.close_frame(10, Peer::Server, 1008, "").close(11, Peer::Server, Some(1008), None, true);
    let expired = cause(&s.diagnose(), "token-expired")["message"].as_str().unwrap().to_owned();
    // Sent long after it expired: said against the frame's time, not the close's.
    assert!(expired.contains("had already expired when it was sent (1095 days before)"), "{expired}");
}

/// The lint findings' rules of client frame `seq`, from its annotation.
fn rules_of(records: &[Record], seq: u64) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Annotation(a) if a.seq == seq => a.details.get("findings").cloned(),
            _ => None,
        })
        .flat_map(|f| f.as_array().cloned().unwrap_or_default())
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_request_after_close_session_is_sent_with_no_session() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.client(30, r#"{"action":"closeSession","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","closeAllConnections":true,"tracingId":"c-2"}"#);
    s.server(
        40,
        r#"{"type":"response","class":"SessionResponse","code":200,"body":{"connected":false},"tracingId":"c-2"}"#,
    );
    s.client(50, r#"{"action":"onMessage","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{"type":"Text","text":"after close"}}"#);
    s.close_frame(80, Peer::Server, 1000, "").close(81, Peer::Server, Some(1000), None, true);
    assert_eq!(rules_of(&s.run(ProfileChoice::Auto), 5), ["genesys-no-session"]);
    let lint = cause(&s.diagnose(), "protocol-lint").clone();
    assert_eq!(lint["confidence"], "likely", "{lint}");
    let message = lint["message"].as_str().unwrap();
    assert!(message.contains("client frame #5"), "{message}");
    let evidence = lint["evidence"].to_string();
    assert!(
        evidence.contains("frame #4")
            && evidence.contains("connected: false")
            && evidence.contains("frame #3's closeSession"),
        "{evidence}"
    );
    // A new configureSession starts a session again.
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE)
        .server(20, r#"{"type":"response","class":"SessionResponse","code":200,"body":{"connected":false}}"#);
    s.client(30, CONFIGURE).client(40, ECHO);
    assert_eq!(rules_of(&s.run(ProfileChoice::Auto), 4), Vec::<String>::new());
}

#[test]
fn a_request_after_a_refused_configure_is_sent_with_no_session() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, r#"{"action":"configureSession","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11"}"#);
    s.server(10, r#"{"type":"response","class":"string","code":4020,"body":"missing parameter: deploymentId"}"#);
    s.client(20, r#"{"action":"onMessage","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{"type":"Text","text":"hi"}}"#);
    s.close_frame(50, Peer::Server, 1000, "").close(51, Peer::Server, Some(1000), None, true);
    let records = s.run(ProfileChoice::Auto);
    assert_eq!(rules_of(&records, 1), ["genesys-no-deployment-id"]);
    assert_eq!(rules_of(&records, 3), ["genesys-no-session"]);
    let lint = cause(&s.diagnose(), "protocol-lint").clone();
    assert_eq!(lint["confidence"], "likely", "{lint}");
    assert!(lint["evidence"].to_string().contains("refused frame #1's configure request (frame #2: 4020"), "{lint}");
    // An error answering another request (by its tracingId) leaves the session alone.
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE);
    s.client(5, r#"{"action":"onMessage","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","tracingId":"m-1","message":{"type":"Text","text":"hi"}}"#);
    s.server(10, r#"{"type":"response","class":"string","code":4011,"body":"message too long","tracingId":"m-1"}"#);
    s.client(20, ECHO);
    assert_eq!(rules_of(&s.run(ProfileChoice::Auto), 4), Vec::<String>::new());
}

#[test]
fn a_request_with_another_token_than_the_session_is_flagged() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.client(30, r#"{"action":"onMessage","token":"99999999-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{"type":"Text","text":"hi"}}"#);
    let records = s.run(ProfileChoice::Auto);
    assert_eq!(rules_of(&records, 3), ["genesys-token-mismatch"]);
    let annotation = records
        .iter()
        .find_map(|r| match r {
            Record::Annotation(a) if a.seq == 3 => Some(a.clone()),
            _ => None,
        })
        .unwrap();
    let finding = annotation.details["findings"][0]["message"].as_str().unwrap();
    assert!(finding.contains("frame #1 configured the session with") && finding.contains("4007"), "{finding}");
    assert!(!finding.contains("99999999") && !finding.contains("3f1c1a52"), "no token value in a finding: {finding}");
}

#[test]
fn pings_through_the_clients_silence_are_noted_even_after_a_server_push() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    for at in [20_000, 40_000, 60_000] {
        s.frame(at, Peer::Client, Opcode::Ping, vec![]).frame(at + 1, Peer::Server, Opcode::Pong, vec![]);
    }
    s.server(62_000, r#"{"type":"response","class":"SessionExpiredEvent","code":200,"body":{}}"#);
    s.close_frame(62_001, Peer::Server, 1000, "").close(62_002, Peer::Server, Some(1000), None, true);
    let idle = cause(&s.diagnose(), "idle").clone();
    assert!(idle["message"].as_str().unwrap().contains("the client sent no data frame for 62.0 s"), "{idle}");
    assert!(idle["evidence"][0].as_str().unwrap().contains("pings or pongs still flowed"), "{idle}");
}

#[test]
fn a_rate_limit_close_code_is_one_cause_with_its_reason() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.close_frame(100, Peer::Server, 4029, "rate").close(101, Peer::Server, Some(4029), Some("rate"), true);
    let d = s.diagnose();
    assert!(!has_cause(&d, "close-code"), "{:#?}", causes(&d));
    let limit = cause(&d, "rate-limit");
    assert_eq!(limit["confidence"], "likely");
    assert_eq!(limit["evidence"], serde_json::json!(["reason \"rate\""]));
}

#[test]
fn a_client_that_failed_the_connection_over_a_bad_server_frame_is_not_told_to_look_at_its_own_code() {
    // Chrome on a text frame that is not UTF-8: close 1007 (or 1002) and drop TCP at once.
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").frame(10, Peer::Server, Opcode::Text, b"ok \xff\xfe bad".to_vec());
    s.close_frame(11, Peer::Client, 1007, "Invalid UTF-8 in text frame");
    s.close(12, Peer::Client, Some(1007), Some("Invalid UTF-8 in text frame"), false);
    let d = s.diagnose();
    let client = cause(&d, "client-closed")["message"].as_str().unwrap().to_owned();
    assert!(client.contains("over server frame #2") && !client.contains("look at the client's code"), "{client}");
    let violation = cause(&d, "ws-violation");
    assert_eq!(violation["confidence"], "likely");
    assert!(violation["message"].as_str().unwrap().contains("the client answered with close code 1007"), "{violation}");
}

#[test]
fn a_close_frame_the_receiver_answered_with_1002_is_a_likely_cause_even_when_the_sender_closed_first() {
    // The server's close has a reason that is not UTF-8; the browser answers 1002 (the page sees 1006).
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello");
    s.frame(10, Peer::Server, Opcode::Close, b"\x03\xe8bad \xff".to_vec());
    s.close_frame(11, Peer::Client, 1002, "");
    s.close(12, Peer::Server, Some(1000), None, true);
    let violation = cause(&s.diagnose(), "ws-violation").clone();
    assert_eq!(violation["confidence"], "likely", "{violation}");
    assert!(violation["message"].as_str().unwrap().contains("reason is not valid UTF-8"), "{violation}");
}

#[test]
fn frames_sent_after_the_first_close_frame_are_not_blamed_for_it() {
    let expired = jwt(serde_json::json!({"sub": "guest", "exp": epoch(-3600)}));
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.close_frame(100, Peer::Server, 1000, "");
    // After the server's close: an expired JWT and a request without action, both too late to have caused it.
    s.client(300, &format!(r#"{{"jwt":"{expired}"}}"#));
    s.close_frame(310, Peer::Client, 1000, "").close(311, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    assert!(!has_cause(&d, "token-expired"), "{:#?}", causes(&d));
    assert!(!has_cause(&d, "protocol-lint"), "{:#?}", causes(&d));
}

#[test]
fn a_client_that_closed_right_after_a_bad_server_frame_without_saying_so_is_only_likely_to_have_failed_over_it() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").frame(10, Peer::Server, Opcode::Reserved(3), b"".to_vec());
    s.close_frame(600, Peer::Client, 4001, "").close_frame(601, Peer::Server, 4001, "");
    s.close(602, Peer::Client, Some(4001), None, true);
    let client = cause(&s.diagnose(), "client-closed")["message"].as_str().unwrap().to_owned();
    assert!(client.contains("right after server frame #2") && client.contains("likely over that frame"), "{client}");
}

#[test]
fn a_client_that_closed_over_a_broken_handshake_is_pointed_at_the_101() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    if let Record::Open(open) = &mut s.records[1] {
        open.request.headers.push(("Sec-WebSocket-Protocol".into(), "v1.chat".into()));
    }
    s.close_frame(5, Peer::Client, 1002, "").close(6, Peer::Client, Some(1002), None, false);
    let d = s.diagnose();
    let client = cause(&d, "client-closed")["message"].as_str().unwrap().to_owned();
    assert!(client.contains("see handshake-mismatch") && client.contains("look at the upstream's 101"), "{client}");
    let code = cause(&d, "close-code")["message"].as_str().unwrap().to_owned();
    assert!(
        code.contains("the upgrade's answer is what it could not accept") && !code.contains("frame it received"),
        "{code}"
    );
    assert_eq!(cause(&d, "handshake-mismatch")["confidence"], "likely");
}

#[test]
fn a_client_that_closes_with_a_1000_frame_after_a_broken_handshake_had_accepted_it() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    if let Record::Open(open) = &mut s.records[1] {
        open.request.headers.push(("Sec-WebSocket-Protocol".into(), "v1.chat".into()));
    }
    s.close_frame(5, Peer::Client, 1000, "").close_frame(6, Peer::Server, 1000, "");
    s.close(7, Peer::Client, Some(1000), None, true);
    let d = s.diagnose();
    let client = cause(&d, "client-closed")["message"].as_str().unwrap().to_owned();
    assert!(client.contains("look at the client's code") && !client.contains("not at the client's code"), "{client}");
    assert!(client.contains("see handshake-mismatch"), "{client}");
    let mismatch = cause(&d, "handshake-mismatch");
    assert_eq!(mismatch["confidence"], "possible", "{mismatch}");
    let message = mismatch["message"].as_str().unwrap();
    assert!(message.contains("with a close frame, so it had accepted the answer"), "{message}");
}

#[test]
fn a_rate_limit_answer_then_a_rate_limit_close_is_one_cause_with_both() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).client(30, ECHO);
    s.server(40, r#"{"type":"response","class":"TooManyRequestsErrorMessage","code":429,"body":{"retryAfter":3,"errorCode":4029}}"#);
    s.close_frame(50, Peer::Server, 4029, "rate").close(51, Peer::Server, Some(4029), Some("rate"), true);
    let d = s.diagnose();
    assert!(!has_cause(&d, "close-code"), "{:#?}", causes(&d));
    let limit = cause(&d, "rate-limit");
    let message = limit["message"].as_str().unwrap();
    assert!(message.contains("the close likely followed from it") && !message.contains("sending on"), "{message}");
    let evidence = limit["evidence"].to_string();
    assert!(evidence.contains("close code 4029") && evidence.contains(r#"reason \"rate\""#), "{evidence}");
}

#[test]
fn what_the_server_says_after_the_first_close_frame_explains_nothing() {
    // Found live: a guest sent three messages under sim-rate-limit=1 and closed; the simulator had answered the
    // second with a 429 and answered the third with another 429 *after* the client's close frame. The rate-limit
    // cause quoted that later frame, "-0.1 ms before the close".
    const LIMITED: &str = r#"{"type":"response","class":"TooManyRequestsErrorMessage","code":429,"body":{"retryAfter":1,"errorCode":4029}}"#;
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(1, SESSION_RESPONSE).client(10, ECHO).server(11, LIMITED).client(20, ECHO);
    s.close_frame(20, Peer::Client, 1000, "Guest client disconnect");
    s.server(21, LIMITED).server(21, r#"{"type":"message","class":"ConnectionClosedEvent","code":200,"body":{}}"#);
    s.server(21, r#"{"type":"response","class":"string","code":4006,"body":"session expired"}"#);
    s.close_frame(21, Peer::Server, 1000, "").close(
        22,
        Peer::Client,
        Some(1000),
        Some("Guest client disconnect"),
        true,
    );
    let d = s.diagnose();
    let limit = cause(&d, "rate-limit");
    assert_eq!(limit["seq"], 4, "the 429 before the close, not the one after it: {limit:#}");
    let message = limit["message"].as_str().unwrap();
    assert!(message.contains("9.0 ms before the close") && !message.contains(" -"), "{message}");
    assert!(limit["evidence"][0].as_str().unwrap().starts_with("frame #4:"), "{limit:#}");
    assert!(!has_cause(&d, "server-announced"), "the announcement came after the client closed: {:#?}", causes(&d));
    assert!(
        !serde_json::to_string(&d.details["causes"]).unwrap().contains("4006"),
        "nor does an error answered after the close: {:#?}",
        causes(&d)
    );
}
