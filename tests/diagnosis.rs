//! The close-analysis rules, each on a connection built record by record in code and fed to the same
//! `Analyzer` the live proxy uses: the seed story, round trips, announcements, rate limits, closes, idleness and
//! the Genesys profile's findings (tokens: diagnosis_jwt.rs; refused upgrades: diagnosis_upgrade.rs; message
//! sizes: diagnosis_too_big.rs).

// Shared by the diagnosis tests, each using part of it.
#[allow(dead_code)]
#[path = "fixtures/script.rs"]
mod script;

use frametap::event::{Diagnosis, Opcode, Peer, Record};
use frametap::inspect::{render_diagnosis, ProfileChoice};
use script::*;

#[test]
fn seed_story_names_the_frame_the_missing_action_and_configure_session() {
    let mut s = Script::new("sim:genesys/v1?deploymentId=d1e2", Some(4.0));
    s.client(100, SEED).close_frame(160, Peer::Server, 1000, "").close(161, Peer::Server, Some(1000), Some(""), true);
    let d = s.diagnose();
    assert_eq!(d.details["initiator"], "server");
    assert_eq!(d.details["code"], 1000);
    assert_eq!(d.details["profile"], "genesys");
    assert_eq!(d.details["preceding"]["seq"], 1);
    assert_eq!(d.details["preceding"]["from"], "client");
    assert_eq!(d.details["preceding"]["gap_ms"], 60.0);
    assert!(d.details["preceding"]["preview"].as_str().unwrap().contains("Hello from custom UI"));
    let lint = cause(&d, "protocol-lint");
    assert_eq!(lint["confidence"], "likely");
    assert_eq!(lint["seq"], 1);
    let message = lint["message"].as_str().unwrap();
    assert!(
        message.contains("#1") && message.contains("no `action`") && message.contains("configureSession"),
        "{message}"
    );
    let response = cause(&d, "in-response");
    assert!(response["message"].as_str().unwrap().contains("in response to frame #1"));
    for (rule, _, message) in causes(&d) {
        assert_ne!(rule, "token-expired");
        assert!(!message.contains("scope") && !message.contains("expired"), "{rule}: {message}");
    }
    let findings: Vec<&str> =
        d.details["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(findings, ["genesys-no-action", "genesys-no-token", "genesys-before-configure"]);
    assert!(d.details["ruled_out"][0]["message"].as_str().unwrap().contains("no JWT"));
    assert!(d.details["summary"].as_str().unwrap().contains("frame #1"));
    let text = render_diagnosis(&d, false);
    assert!(text.contains("▶ preceding frame #1 client→server text"), "{text}");
    assert!(text.contains("Hello from custom UI"), "{text}");
}

#[test]
fn seed_story_against_the_rest_host_says_the_endpoint_is_wrong_not_the_scope() {
    let mut s = Script::new("wss://api.mypurecloud.com/api/v2/guest/sessions", Some(30.0));
    s.client(100, SEED).close_frame(200, Peer::Server, 1000, "").close(201, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    assert_eq!(d.details["profile"], "genesys");
    let wrong = cause(&d, "genesys-upstream-not-webmessaging");
    let evidence = wrong["evidence"][0].as_str().unwrap();
    assert!(evidence.contains("no `guest:write` scope exists"), "{evidence}");
    assert!(!has_cause(&d, "token-expired"));
}

#[test]
fn a_close_within_the_round_trip_crossed_in_flight() {
    let mut s = Script::new("sim:genesys/v1", Some(80.0));
    s.client(0, CONFIGURE).server(40, SESSION_RESPONSE);
    s.client(
        1000,
        r#"{"action":"echo","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{"type":"Text","text":"ping"}}"#,
    );
    s.close_frame(1020, Peer::Server, 1001, "").close(1021, Peer::Server, Some(1001), None, true);
    let d = s.diagnose();
    let crossed = cause(&d, "crossed-in-flight");
    assert_eq!(crossed["confidence"], "possible");
    // The SessionResponse came 40 ms after configureSession: a tighter round trip than the 80 ms handshake.
    assert!(
        crossed["message"].as_str().unwrap().contains("within one upstream round trip (40 ms, a paired response)"),
        "{crossed}"
    );
    assert!(!has_cause(&d, "in-response"));
    assert!(!has_cause(&d, "protocol-lint"));
    assert!(cause(&d, "close-code")["message"].as_str().unwrap().contains("Going Away"));
}

#[test]
fn a_bad_frame_that_the_close_crossed_is_only_a_possible_cause() {
    let mut s = Script::new("wss://webmessaging.mypurecloud.com/v1?deploymentId=d", Some(60.0));
    s.client(0, SEED).close_frame(30, Peer::Server, 1001, "").close(31, Peer::Server, Some(1001), None, true);
    let d = s.diagnose();
    assert!(has_cause(&d, "crossed-in-flight"));
    assert_eq!(cause(&d, "protocol-lint")["confidence"], "possible");
}

#[test]
fn a_pong_or_a_paired_response_tightens_the_round_trip() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(80.0));
    s.frame(0, Peer::Client, Opcode::Ping, vec![]).frame(12, Peer::Server, Opcode::Pong, vec![]);
    s.client(1000, "bye?").close_frame(1030, Peer::Server, 1000, "").close(1031, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let response = cause(&d, "in-response");
    assert_eq!(response["confidence"], "likely");
    assert_eq!(response["evidence"][0], "gap 30 ms > round trip 12 ms");
}

#[test]
fn a_loopback_round_trip_is_too_short_to_call_a_crossing() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(0.8));
    s.client(0, "hi").close_frame(0, Peer::Server, 1000, "").close(1, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    assert!(!has_cause(&d, "crossed-in-flight"));
    let response = cause(&d, "in-response");
    assert_eq!(response["confidence"], "possible", "a clean frame on a loopback round trip");
    assert!(response["evidence"][0].as_str().unwrap().contains("too short to tell"), "{response}");
}

#[test]
fn session_expired_event_is_announced() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.server(600_000, r#"{"type":"message","class":"SessionExpiredEvent","code":200,"body":{}}"#);
    s.close_frame(600_010, Peer::Server, 1000, "").close(600_011, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let announced = cause(&d, "server-announced");
    assert_eq!(announced["seq"], 3);
    assert!(announced["message"].as_str().unwrap().contains("SessionExpiredEvent"));
    assert_eq!(d.details["preceding"]["seq"], 3);
    assert_eq!(d.details["other_side_last"]["seq"], 1);
    let idle = cause(&d, "idle")["message"].as_str().unwrap().to_owned();
    assert!(idle.contains("expires after 600 s without activity"), "{idle}");
    assert!(!has_cause(&d, "in-response"), "the last client frame is ten minutes old");
}

#[test]
fn an_error_code_4006_in_a_frame_is_announced_too() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, r#"{"type":"response","class":"string","code":4006,"body":"session expired"}"#);
    s.close_frame(30, Peer::Server, 4006, "session expired").close(
        31,
        Peer::Server,
        Some(4006),
        Some("session expired"),
        true,
    );
    let d = s.diagnose();
    assert!(cause(&d, "server-announced")["message"].as_str().unwrap().contains("4006"));
    assert!(cause(&d, "close-code")["message"].as_str().unwrap().contains("session expired"));
}

#[test]
fn a_rate_limit_before_the_close_is_named() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    for i in 0..5 {
        s.client(100 + i, r#"{"action":"onMessage","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{"type":"Text","text":"spam"}}"#);
    }
    s.server(110, r#"{"type":"response","class":"TooManyRequestsErrorMessage","code":429,"body":{"retryAfter":3,"errorCode":4029,"errorMessage":"Message rate too high for this session"}}"#);
    s.close_frame(200, Peer::Server, 1008, "").close(201, Peer::Server, Some(1008), None, true);
    let d = s.diagnose();
    let limit = cause(&d, "rate-limit");
    assert_eq!(limit["confidence"], "likely");
    assert!(limit["evidence"][0].as_str().unwrap().contains("retryAfter 3"));
    assert!(cause(&d, "close-code")["message"].as_str().unwrap().contains("Policy Violation"));
}

/// Near miss of the above: the server closed two minutes after its rate limit, sending nothing in between. The cause
/// is possible, and its words no longer say the close "likely followed from it".
#[test]
fn a_rate_limit_long_before_the_servers_close_is_not_worded_as_likely() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.server(110, r#"{"type":"response","class":"TooManyRequestsErrorMessage","code":429,"body":{"retryAfter":3,"errorCode":4029,"errorMessage":"Message rate too high for this session"}}"#);
    s.close_frame(120_110, Peer::Server, 1000, "").close(120_111, Peer::Server, Some(1000), None, true);
    let limit = cause(&s.diagnose(), "rate-limit").clone();
    assert_eq!(limit["confidence"], "possible");
    let message = limit["message"].as_str().unwrap();
    assert!(
        message.ends_with("; the server closed 2.0 min after it: too long after it to say it closed over it"),
        "{message}"
    );
}

/// Rate-limited, then a frame that breaks the protocol, and the server closes right after that frame: the
/// broken frame explains the close; the rate limit used to top the list as "sending on after that likely got
/// the connection closed".
#[test]
fn a_broken_frame_after_a_rate_limit_outranks_the_rate_limit() {
    let mut s = Script::new("sim:genesys/v1", Some(0.3));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.client(100, r#"{"action":"onMessage","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{"type":"Text","text":"spam"}}"#);
    s.server(101, r#"{"type":"response","class":"TooManyRequestsErrorMessage","code":429,"body":{"retryAfter":1,"errorCode":4029}}"#);
    s.client(400, r#"{"type":"message","content":"oops"}"#);
    s.close_frame(401, Peer::Server, 1000, "").close(402, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    assert_eq!(d.details["causes"][0]["rule"], "protocol-lint", "{:#?}", causes(&d));
    let limit = cause(&d, "rate-limit");
    assert_eq!(limit["confidence"], "possible", "{limit}");
    let message = limit["message"].as_str().unwrap();
    assert!(message.contains("then client frame #5 broke the protocol, a likelier reason for the close"), "{message}");
}

/// A client's own close after a rate limit: it may have given up when it closed at once, sending nothing else; a
/// client that went on, or closed much later, more likely closed for its own reasons.
#[test]
fn a_client_that_closes_after_a_rate_limit_may_have_given_up() {
    let echo =
        r#"{"action":"echo","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{"type":"Text","text":"ping"}}"#;
    for (close_at, send_between, expected) in [
        (500, false, "the client closed right after it, sending nothing else: it may have given up over it"),
        (
            30_000,
            false,
            "the client closed itself much later, sending nothing in between: more likely for its own reasons",
        ),
        (
            500,
            true,
            "the client went on after it (it sent frame #4) and then closed itself: more likely for its own reasons",
        ),
    ] {
        let mut s = Script::new("sim:genesys/v1", Some(5.0));
        s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
        s.server(
            100,
            r#"{"type":"response","class":"TooManyRequestsErrorMessage","code":429,"body":{"retryAfter":1}}"#,
        );
        if send_between {
            s.client(300, echo);
        }
        s.close_frame(close_at, Peer::Client, 1000, "").close(close_at + 1, Peer::Client, Some(1000), None, true);
        let d = s.diagnose();
        let limit = cause(&d, "rate-limit");
        assert_eq!(limit["confidence"], "possible", "{limit}");
        assert!(limit["message"].as_str().unwrap().contains(expected), "{close_at} {send_between}: {limit}");
    }
}

#[test]
fn an_agent_disconnect_is_announced() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.server(
        5000,
        r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"direction":"Outbound","type":"Event","events":[{"eventType":"Presence","presence":{"type":"Disconnect"}}],"metadata":{"readOnly":"true"}}}"#,
    );
    s.close_frame(5100, Peer::Server, 1000, "").close(5101, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let announced = cause(&d, "server-announced");
    assert!(announced["message"].as_str().unwrap().contains("agent ended the conversation"));
    assert!(announced["message"].as_str().unwrap().contains("read-only"));
}

#[test]
fn a_second_tab_with_the_same_token_reads_as_too_many_connections() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.server(9000, r#"{"type":"message","class":"ConnectionClosedEvent","code":200,"body":{}}"#);
    s.close_frame(9001, Peer::Server, 1000, "").close(9002, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let message = cause(&d, "server-announced")["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("ConnectionClosedEvent") && message.contains("likely the same token is open in another tab"),
        "{message}"
    );
}

#[test]
fn a_tcp_drop_is_certain_and_keeps_the_last_frame() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").server(10, "world");
    s.close(2000, Peer::Server, None, None, false);
    let d = s.diagnose();
    assert_eq!(d.details["clean"], false);
    assert_eq!(d.details["profile"], "generic");
    assert!(d.details["code_meaning"].as_str().unwrap().contains("1006"));
    let drop = cause(&d, "tcp-drop");
    assert_eq!(drop["confidence"], "certain");
    assert!(drop["evidence"][0].as_str().unwrap().contains("reset"));
    assert_eq!(d.details["preceding"]["seq"], 2);
    assert_eq!(d.details["preceding"]["gap_ms"], 1990.0);
    assert_eq!(d.details["other_side_last"]["seq"], 1);
    assert!(!has_cause(&d, "in-response"), "a drop is not a server close frame answering a client");
}

#[test]
fn a_client_initiated_close_points_at_the_client() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.close_frame(3000, Peer::Client, 1000, "Guest client disconnect");
    s.close_frame(3005, Peer::Server, 1000, "");
    s.close(3006, Peer::Client, Some(1000), Some("Guest client disconnect"), true);
    let d = s.diagnose();
    let client = cause(&d, "client-closed");
    assert_eq!(client["confidence"], "certain");
    assert!(client["message"].as_str().unwrap().contains("Guest client disconnect"));
    assert_eq!(d.details["close_seq"], 3);
    assert!(!has_cause(&d, "in-response") && !has_cause(&d, "protocol-lint"), "{:#?}", causes(&d));
}

#[test]
fn the_preceding_frame_is_the_last_one_before_the_first_close_frame() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "first").close_frame(50, Peer::Server, 1011, "boom");
    s.client(55, "sent before the client saw the close");
    s.close_frame(60, Peer::Client, 1011, "").close(61, Peer::Server, Some(1011), Some("boom"), true);
    let d = s.diagnose();
    assert_eq!(d.details["preceding"]["seq"], 1);
    assert_eq!(d.details["close_seq"], 2);
    assert!(cause(&d, "in-response")["message"].as_str().unwrap().contains("frame #1"));
    let code = cause(&d, "close-code");
    assert!(code["message"].as_str().unwrap().contains("Internal Error"));
    assert_eq!(code["evidence"][0], "reason \"boom\"");
}

#[test]
fn long_idle_before_a_server_close() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").server(5, "hi");
    s.frame(30_000, Peer::Client, Opcode::Ping, vec![]).frame(30_001, Peer::Server, Opcode::Pong, vec![]);
    s.close_frame(300_005, Peer::Server, 1000, "idle").close(300_006, Peer::Server, Some(1000), Some("idle"), true);
    let d = s.diagnose();
    let idle = cause(&d, "idle");
    assert_eq!(idle["confidence"], "likely");
    assert!(idle["message"].as_str().unwrap().contains("5.0 min"), "{idle}");
    assert!(idle["evidence"][0].as_str().unwrap().contains("pings or pongs still flowed"));
}

#[test]
fn genesys_responses_are_paired_by_tracing_id() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(42, SESSION_RESPONSE);
    let derived = s.run(ProfileChoice::Auto);
    let annotations: Vec<_> = derived
        .iter()
        .filter_map(|r| match r {
            Record::Annotation(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(annotations.len(), 2);
    assert_eq!(annotations[0].text, "configureSession");
    assert_eq!(annotations[0].profile, "genesys");
    assert_eq!(annotations[1].details["paired_seq"], 1);
    assert_eq!(annotations[1].details["latency_ms"], 42.0);
    assert_eq!(annotations[1].details["code_meaning"], "OK");
    assert!(annotations[1].text.starts_with("SessionResponse 200 ← #1 configureSession"), "{}", annotations[1].text);
}

#[test]
fn auto_detects_genesys_from_frames_and_generic_stays_quiet() {
    let mut s = Script::new("ws://127.0.0.1:9/v1", Some(1.0));
    if let Record::Open(open) = &mut s.records[1] {
        open.request.path = "/v1".into();
    }
    s.client(0, CONFIGURE).server(10, SESSION_RESPONSE);
    let annotated = |profile| s.run(profile).iter().filter(|r| matches!(r, Record::Annotation(_))).count();
    assert_eq!(annotated(ProfileChoice::Auto), 2);
    assert_eq!(annotated(ProfileChoice::Generic), 0);

    let mut other = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    if let Record::Open(open) = &mut other.records[1] {
        open.request.path = "/chat".into();
    }
    other.client(0, r#"{"op":"subscribe","channel":"x"}"#).server(5, r#"{"op":"ok"}"#);
    assert_eq!(other.run(ProfileChoice::Auto).len(), 0);
    assert_eq!(other.run(ProfileChoice::Genesys).iter().filter(|r| matches!(r, Record::Annotation(_))).count(), 2);
}

#[test]
fn derived_records_already_in_a_capture_are_ignored() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, SEED);
    let old = Record::Diagnosis(Diagnosis { conn: 1, ts: s.ts(1), details: serde_json::Map::new() });
    s.records.push(old);
    s.close_frame(100, Peer::Server, 1000, "").close(101, Peer::Server, Some(1000), None, true);
    let derived = s.run(ProfileChoice::Auto);
    assert_eq!(derived.iter().filter(|r| matches!(r, Record::Diagnosis(_))).count(), 1);
}

#[test]
fn a_server_drop_right_after_a_client_frame_reads_as_a_response() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").server(10, "hi").client(500, "crash me");
    s.close(530, Peer::Server, None, None, false);
    let d = s.diagnose();
    let response = cause(&d, "in-response");
    assert!(
        response["message"].as_str().unwrap().contains("dropped the connection 30 ms after client frame #3"),
        "{response}"
    );
}

#[test]
fn a_server_close_frame_the_client_never_answers_reads_as_closed_not_dropped() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").server(10, "hi").client(500, "crash me");
    s.close_frame(530, Peer::Server, 1011, "boom").close(5530, Peer::Server, Some(1011), Some("boom"), false);
    let d = s.diagnose();
    let response = cause(&d, "in-response");
    let message = response["message"].as_str().unwrap();
    assert!(message.contains("the server closed 30 ms after client frame #3"), "{response}");
    assert!(!message.contains("dropped"), "{response}");
}

#[test]
fn findings_are_capped_but_the_last_client_frame_keeps_its_own() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    for i in 0..150 {
        s.client(i, SEED);
    }
    s.client(200, "not json at all");
    s.close_frame(300, Peer::Server, 1000, "").close(301, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    assert_eq!(d.details["findings"].as_array().unwrap().len(), 200);
    assert_eq!(d.details["findings_omitted"], 252, "150 × 3 + 2 findings, 200 kept");
    let lint = cause(&d, "protocol-lint");
    assert_eq!(lint["seq"], 151);
    assert!(lint["message"].as_str().unwrap().contains("not a JSON object"), "{lint}");
}

#[test]
fn auto_detection_only_looks_at_the_first_frames() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    for i in 0..20 {
        s.client(i, r#"{"op":"noise"}"#);
    }
    s.client(30, CONFIGURE);
    assert!(!s.run(ProfileChoice::Auto).iter().any(|r| matches!(r, Record::Annotation(_))));
}

/// A 1001 Going Away reads by who sent it: the server's is the server going away (a shutdown, a restart), not a
/// browser tab closing, which the code's registered meaning also names and the server's close used to quote.
#[test]
fn a_servers_1001_is_the_server_going_away_not_a_tab_closing() {
    let mut s = Script::new("wss://x.example/ws", Some(20.0));
    s.client(0, "hello").server(10, "hi");
    s.close_frame(5_000, Peer::Server, 1001, "").close(5_001, Peer::Server, Some(1001), None, true);
    let message = cause(&s.diagnose(), "close-code")["message"].as_str().unwrap().to_owned();
    assert!(message.contains("the server (or a proxy or load balancer in front of it) is going away"), "{message}");
    assert!(!message.contains("tab"), "{message}");
    // The client's 1001 keeps its reading: a page that went away.
    let mut s = Script::new("wss://x.example/ws", Some(20.0));
    s.client(0, "hello").server(10, "hi");
    s.close_frame(5_000, Peer::Client, 1001, "").close(5_001, Peer::Client, Some(1001), None, true);
    let message = cause(&s.diagnose(), "close-code")["message"].as_str().unwrap().to_owned();
    assert!(message.contains("its page was closed, reloaded or navigated away"), "{message}");
}
