//! A 1009 Message Too Big: which message it names (the largest, the last before the close, a fragment mid-message)
//! and how sure it is, against the size of what it names and the round trip. A message too small for any usual limit
//! (or none at all) makes the size reading only possible; a close within one round trip of the message it names is
//! a fast reply when that round trip is an upper bound, and a crossing when the kernel measured it, and `close-code`
//! and the timing causes then tell the same story.

// Shared by the diagnosis tests, each using part of it.
#[allow(dead_code)]
#[path = "fixtures/script.rs"]
mod script;

use frametap::event::{Diagnosis, Opcode, Peer, Record};
use frametap::inspect::SMALLEST_PLAUSIBLE_LIMIT;
use script::*;

/// A client that sends `sizes` (bytes of text, one frame each, 10 ms apart from 1 s on), then a server 1009 `gap_ms`
/// after the last one, on a connection whose handshake took `handshake_ms`.
fn server_1009_after(sizes: &[usize], gap_ms: i64, handshake_ms: Option<f64>) -> Script {
    let mut s = Script::new("ws://127.0.0.1:9/chat", handshake_ms);
    let mut at = 1000;
    for &size in sizes {
        s.client(at, &"x".repeat(size));
        at += 10;
    }
    let close_at = at - 10 + gap_ms;
    s.close_frame(close_at, Peer::Server, 1009, "").close(close_at + 1, Peer::Server, Some(1009), None, true);
    s
}

/// A 5000-byte client message after a small one, then a server 1009 `gap_ms` later, on a connection whose `open`
/// has the kernel's round trip (30 ms) besides the handshake's (80 ms).
fn with_a_kernel_round_trip_of_30_ms(gap_ms: i64) -> Diagnosis {
    let mut s = server_1009_after(&[100, 5000], gap_ms, Some(80.0));
    if let Record::Open(open) = &mut s.records[1] {
        open.upstream_tcp_rtt_ms = Some(30.0);
    }
    s.diagnose()
}

/// The `close-code` cause's confidence and message.
fn close_code(d: &Diagnosis) -> (String, String) {
    let c = cause(d, "close-code");
    (c["confidence"].as_str().unwrap().to_owned(), c["message"].as_str().unwrap().to_owned())
}

/// A 1009 right after a 40-byte message is not "likely" a size limit: a limit that small would be unusual, and the
/// cause says how small the message was. One byte under the threshold is possible; at it, likely again.
#[test]
fn a_1009_after_a_tiny_message_is_only_possibly_a_size_limit() {
    let d = server_1009_after(&[12, 40], 5, None).diagnose();
    let (confidence, message) = close_code(&d);
    assert_eq!(confidence, "possible", "{message}");
    assert!(
        message.starts_with("the server closed with 1009 Message Too Big: client frame #2 (40 B), the last and largest client frame before the close (the preceding frame), possibly went past its size limit, though at 40 B that limit would be unusually small"),
        "{message}"
    );
    let evidence = cause(&d, "close-code")["evidence"].to_string();
    assert!(
        evidence.contains("frame #2's message is only 40 B and nothing the client sent before the close was bigger"),
        "{evidence}"
    );
    assert_eq!(cause(&d, "close-code")["seq"], 2, "it still points at the frame");

    let limit = SMALLEST_PLAUSIBLE_LIMIT as usize;
    let (confidence, message) = close_code(&server_1009_after(&[limit - 1], 5, None).diagnose());
    assert_eq!(confidence, "possible", "{message}");
    let (confidence, message) = close_code(&server_1009_after(&[limit], 5, None).diagnose());
    assert_eq!(confidence, "likely", "{message}");
    assert!(message.ends_with(&format!("({limit} B), the last and largest client frame before the close (the preceding frame), most likely went past its size limit")), "{message}");
}

/// A tiny last message after a larger one the server answered: the larger went through, and the tiny one is named
/// only as possible.
#[test]
fn a_1009_after_a_tiny_message_that_followed_a_larger_accepted_one_is_possible() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", None);
    s.client(0, &"z".repeat(3000)).server(10, "ok").client(20, "tiny");
    s.close_frame(30, Peer::Server, 1009, "").close(31, Peer::Server, Some(1009), None, true);
    let d = s.diagnose();
    let (confidence, message) = close_code(&d);
    assert_eq!(confidence, "possible", "{message}");
    assert!(message.contains("client frame #3 (4 B), the last client frame before the close"), "{message}");
    let evidence = cause(&d, "close-code")["evidence"].to_string();
    assert!(evidence.contains("only 4 B and the client's largest, #1, went through"), "{evidence}");
}

/// A 1009 with no data frame from the other side at all names nothing, and is only possible.
#[test]
fn a_1009_before_any_client_message_is_only_possible() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", None);
    s.server(0, "welcome").close_frame(30, Peer::Server, 1009, "").close(31, Peer::Server, Some(1009), None, true);
    let (confidence, message) = close_code(&s.diagnose());
    assert_eq!(confidence, "possible", "{message}");
    assert!(
        message.ends_with(
            "but the client sent no data frame before the close: no message of its can have gone past a limit"
        ),
        "{message}"
    );
}

/// A 1009 within one round trip of the large message it names, the round trip being the handshake's (an upper
/// bound holding the server's time to answer the upgrade): the server's own statement leads, the close is a fast
/// reply to that message (`in-response`, possible), and no `crossed-in-flight` contradicts it.
#[test]
fn a_1009_within_an_upper_bound_round_trip_is_a_fast_reply_not_a_crossing() {
    let d = server_1009_after(&[100, 5000], 20, Some(80.0)).diagnose();
    let (confidence, message) = close_code(&d);
    assert_eq!(confidence, "likely", "{message}");
    assert!(message.contains("client frame #2 (5000 B), the last and largest client frame before the close (the preceding frame), most likely went past its size limit"), "{message}");
    let evidence = cause(&d, "close-code")["evidence"].to_string();
    assert!(evidence.contains("within one upstream round trip (80 ms, the handshake's), but that round trip is an upper bound holding the server's own processing time: read as a fast reply to it, not a close that crossed it"), "{evidence}");
    assert!(!has_cause(&d, "crossed-in-flight"), "{:#?}", causes(&d));
    let response = cause(&d, "in-response");
    assert_eq!((response["confidence"].as_str(), response["seq"].as_u64()), (Some("possible"), Some(2)));
    assert!(
        response["evidence"][0].as_str().unwrap().starts_with("gap 20 ms ≤ round trip 80 ms, but that round trip is an upper bound (the server's own processing time is in it), and the server's 1009 names frame #2"),
        "{response}"
    );
}

/// The same timing with the kernel's round trip (network delay only): the message was still on its way when the
/// server closed, so `crossed-in-flight` leads and `close-code` says the message it would have named is not what
/// went past the limit, pointing at the close frame instead.
#[test]
fn a_1009_within_the_kernels_round_trip_crossed_the_message() {
    let d = with_a_kernel_round_trip_of_30_ms(20);
    let crossed = cause(&d, "crossed-in-flight");
    assert_eq!(crossed["seq"], 2);
    let (confidence, message) = close_code(&d);
    assert_eq!(confidence, "possible", "{message}");
    assert!(message.contains("client frame #2 (5000 B), the last and largest client frame before the close (the preceding frame), was still on its way when the server closed, so it is not what went past its limit"), "{message}");
    assert!(!message.contains("most likely"), "{message}");
    assert_eq!(cause(&d, "close-code")["seq"], d.details["close_seq"], "it names no frame as the culprit");
    assert!(!has_cause(&d, "in-response"), "{:#?}", causes(&d));
    let order: Vec<String> = causes(&d).into_iter().map(|(rule, ..)| rule).collect();
    let at = |rule: &str| order.iter().position(|r| r == rule).unwrap();
    assert!(at("crossed-in-flight") < at("close-code"), "{order:?}");
}

/// Near miss: a gap longer than the round trip is a reply by timing alone; both causes say so, as before.
#[test]
fn a_1009_after_more_than_a_round_trip_is_a_likely_reply() {
    let d = with_a_kernel_round_trip_of_30_ms(50);
    assert_eq!(close_code(&d).0, "likely");
    assert_eq!(cause(&d, "in-response")["confidence"], "likely");
    assert!(!has_cause(&d, "crossed-in-flight"));
    let evidence = cause(&d, "close-code")["evidence"].to_string();
    assert!(!evidence.contains("round trip"), "{evidence}");
}

/// The server answered the large message normally, then with an error, then closed with 1009 after a smaller one:
/// the large one went through (an ordinary answer came after it, even though the server's last word was the
/// error), so the last one is named, as `rate-limit` and `server-announced` read an ordinary answer before an error.
/// Near miss: with only the error answer after it, the large message is named.
#[test]
fn an_error_answer_after_the_large_message_does_not_hide_the_ordinary_answer_before_it() {
    const REFUSED: &str = r#"{"type":"response","class":"string","code":400,"body":"bad request"}"#;
    const AGENT_SAYS: &str = r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"type":"Text","text":"Hello!","direction":"Outbound"}}"#;
    let on_message = |size: usize| {
        format!(
            r#"{{"action":"onMessage","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{{"type":"Text","text":"{}"}}}}"#,
            "b".repeat(size)
        )
    };
    let script = |answers: &[&str]| {
        let mut s = Script::new("sim:genesys/v1", Some(1.0));
        s.client(0, CONFIGURE).server(5, SESSION_RESPONSE).client(10, &on_message(9000));
        for (i, answer) in answers.iter().enumerate() {
            s.server(20 + 10 * i as i64, answer);
        }
        s.client(40, &on_message(4000));
        s.close_frame(50, Peer::Server, 1009, "").close(51, Peer::Server, Some(1009), None, true);
        s.diagnose()
    };
    let d = script(&[AGENT_SAYS, REFUSED]);
    let code = cause(&d, "close-code");
    let message = code["message"].as_str().unwrap();
    assert!(message.contains("client frame #6 (4105 B), the last client frame before the close (the preceding frame), possibly went past its limit, which a larger message got through: not a limit on size alone"), "{message}");
    assert_eq!(code["confidence"], "possible");
    assert!(
        code["evidence"]
            .to_string()
            .contains("its larger client frame #3 (9105 B) went through: the server sent frame #4 after it"),
        "{code}"
    );

    let d = script(&[REFUSED]);
    let message = close_code(&d).1;
    assert!(message.contains("client frame #3 (9105 B), the largest client frame, after which the server only answered with #4 (an error or an announced end)"), "{message}");
}

/// A 1009 names the other side's message that most likely went past the closer's limit, and points at it: the
/// largest one when the closer sent nothing after it (smaller ones that followed were in flight).
#[test]
fn message_too_big_names_the_largest_frame() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", None);
    s.client(0, "small").client(10, &"x".repeat(70_000)).client(20, "small again");
    s.close_frame(30, Peer::Server, 1009, "").close(31, Peer::Server, Some(1009), None, true);
    let d = s.diagnose();
    let code = cause(&d, "close-code");
    let message = code["message"].as_str().unwrap();
    assert!(
        message.starts_with("the server closed with 1009 Message Too Big: client frame #2 (70000 B), the largest client frame, after which the server sent nothing (the preceding frame is the client's #3, sent after it)"),
        "{message}"
    );
    assert_eq!(code["seq"], 2, "the cause points at the frame, not at the close frame");
    assert_eq!(code["evidence"][0], "client frame #2: 70000 B, 20 ms before the close");
    assert!(code["evidence"][1].as_str().unwrap().contains("the last, #3, 11 B"), "{code}");
    let response = cause(&d, "in-response");
    assert_eq!(response["confidence"], "possible", "no handshake round trip to compare with");
}

/// A 1009 right after the largest message: that message, the preceding frame, named as such. A client closing
/// with 1009 mid-message names the fragment it stopped at and the message so far.
#[test]
fn message_too_big_right_after_the_frame_or_mid_message() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").server(5, "hi").client(10, &"y".repeat(5000));
    s.close_frame(30, Peer::Server, 1009, "too big").close_frame(31, Peer::Client, 1009, "");
    s.close(32, Peer::Server, Some(1009), Some("too big"), true);
    let d = s.diagnose();
    let code = cause(&d, "close-code");
    let message = code["message"].as_str().unwrap();
    assert!(message.contains("client frame #3 (5000 B), the last and largest client frame before the close (the preceding frame), most likely went past its size limit"), "{message}");
    assert_eq!((code["seq"].as_u64(), d.details["preceding"]["seq"].as_u64()), (Some(3), Some(3)));
    assert_eq!(code["evidence"][1], "reason \"too big\"", "{code}");

    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello");
    s.fragmented(10, Peer::Server, Opcode::Text, &[&[b'a'; 3000], &[b'b'; 3000], &[b'c'; 10]]);
    // The client gave up after the second fragment: drop the last one.
    s.records.pop();
    s.close_frame(20, Peer::Client, 1009, "").close_frame(21, Peer::Server, 1009, "");
    s.close(22, Peer::Client, Some(1009), Some(""), true);
    let d = s.diagnose();
    let code = cause(&d, "close-code");
    let message = code["message"].as_str().unwrap();
    assert!(message.starts_with("the client closed with 1009 Message Too Big: server frame #3 (fragment 2 of a message from #2 that had not ended (6000 B so far)), the last and largest server frame"), "{message}");
    assert_eq!(code["seq"], 3);
}

/// When the closer went on after the other side's largest message (an ordinary answer), that message got through:
/// the last one before the close is named, and the larger one that went through is evidence; the limit is then not
/// on size alone, so the size reading is only possible.
#[test]
fn message_too_big_after_a_larger_message_went_through_names_the_last_one() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, &"z".repeat(9000)).server(10, "ok").client(20, &"w".repeat(4000));
    s.close_frame(40, Peer::Server, 1009, "").close(41, Peer::Server, Some(1009), None, true);
    let d = s.diagnose();
    let code = cause(&d, "close-code");
    let message = code["message"].as_str().unwrap();
    assert!(
        message.contains("client frame #3 (4000 B), the last client frame before the close (the preceding frame), possibly went past its limit, which a larger message got through"),
        "{message}"
    );
    assert_eq!((code["seq"].as_u64(), code["confidence"].as_str()), (Some(3), Some("possible")));
    let evidence = code["evidence"][1].as_str().unwrap();
    assert!(
        evidence.contains("client frame #1 (9000 B) went through: the server sent frame #2 after it"),
        "{evidence}"
    );
}
