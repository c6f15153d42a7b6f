//! Close analysis of fragmented messages: requests and tokens read whole, the diagnosis quoting a message from
//! its start, UTF-8 checked on the reassembled message, and messages past the reassembly limit.

// Shared with tests/diagnosis.rs, which uses the rest of it.
#[allow(dead_code)]
#[path = "fixtures/script.rs"]
mod script;

use frametap::event::{Opcode, Peer, Record};
use frametap::inspect::render_diagnosis;
use frametap::inspect::ProfileChoice;
use script::*;

/// The diagnosis's lint findings, each as `rule #seq: message`.
fn findings(d: &frametap::event::Diagnosis) -> Vec<String> {
    d.details["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} #{}: {}", f["rule"].as_str().unwrap(), f["seq"], f["message"].as_str().unwrap()))
        .collect()
}

#[test]
fn a_configure_session_sent_in_fragments_is_read_whole() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.fragmented(
        0,
        Peer::Client,
        Opcode::Text,
        &[
            br#"{"action":"configureSession","#,
            br#""token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","deploymentId":"d"}"#,
        ],
    );
    // No SessionResponse: the request itself is what counts.
    s.client(100, ECHO);
    s.close_frame(200, Peer::Client, 1000, "").close_frame(201, Peer::Server, 1000, "");
    s.close(202, Peer::Client, Some(1000), None, true);
    let records = s.run(ProfileChoice::Auto);
    let annotated: Vec<(u64, String)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Annotation(a) => Some((a.seq, a.text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(annotated.len(), 2, "{annotated:?}");
    assert_eq!(annotated[0].0, 2, "the reassembled message is annotated on its last fragment: {annotated:?}");
    assert!(annotated[0].1.contains("configureSession"), "{annotated:?}");
    let d = s.diagnose();
    assert_eq!(findings(&d), Vec::<String>::new());
}

#[test]
fn a_fragmented_request_is_linted_and_its_findings_name_the_last_fragment() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.fragmented(
        50,
        Peer::Client,
        Opcode::Text,
        &[br#"{"action":"onMessage","#, br#""message":{"type":"Text","#, br#""text":"hi"}}"#],
    );
    s.close_frame(60, Peer::Server, 1000, "").close(61, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let lint = cause(&d, "protocol-lint");
    assert_eq!(lint["confidence"], "likely", "{lint}");
    let message = lint["message"].as_str().unwrap();
    assert!(message.starts_with("client frame #5 ") && message.contains("no `token`"), "{message}");
    // A fragment alone is never linted (half a JSON object is not a protocol error).
    assert!(!findings(&d).iter().any(|f| f.contains("not JSON") || f.contains("not json")), "{:?}", findings(&d));
}

/// The seed story's broken message, sent the way a browser library may send it: in fragments, the last one
/// empty. The diagnosis quotes the message, not its empty last fragment.
#[test]
fn a_fragmented_message_is_quoted_from_its_start_not_by_its_last_fragment() {
    let message = r#"{"type":"message","content":"Hello from custom UI","timestamp":1764097800000}"#;
    let (a, rest) = message.split_at(20);
    let (b, c) = rest.split_at(30);
    let mut s = Script::new("sim:genesys/v1", Some(0.3));
    s.fragmented(0, Peer::Client, Opcode::Text, &[a.as_bytes(), b.as_bytes(), c.as_bytes(), b""]);
    s.close_frame(1, Peer::Server, 1000, "").close(2, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let preceding = &d.details["preceding"];
    assert_eq!(preceding["seq"], 4, "{preceding}");
    assert_eq!(preceding["len"], 0, "the frame's own length: {preceding}");
    assert_eq!(preceding["preview"], message, "{preceding}");
    assert_eq!(
        preceding["message"],
        serde_json::json!({"first_seq": 1, "fragments": 4, "len": message.len(), "complete": true}),
        "{preceding}"
    );
    let lint = cause(&d, "protocol-lint")["message"].as_str().unwrap().to_owned();
    assert!(
        lint.starts_with(&format!(
            "client frame #4 (the last of 4 fragments of a {} B message from #1) {message} breaks",
            message.len()
        )),
        "{lint}"
    );
    let block = render_diagnosis(&d, false);
    assert!(
        block.contains(&format!(
            "▶ preceding frame #4 client→server continuation (the last of 4 fragments of a {} B message from #1), 1.0 ms before the close:\n        {message}\n",
            message.len()
        )),
        "{block}"
    );
}

/// A message cut off by the close (its last fragment never came) is quoted from its start too, and its preview
/// says it goes on; a long message is cut at 160 characters whatever its fragments' sizes.
#[test]
fn an_unfinished_or_long_fragmented_message_is_quoted_from_its_start_and_cut() {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    let long = "y".repeat(300);
    s.fragmented(0, Peer::Server, Opcode::Text, &[b"a", b"b", long.as_bytes(), b"never ends"]);
    if let Some(Record::Frame(last)) = s.records.last_mut() {
        last.fin = false;
    }
    s.close_frame(5, Peer::Client, 1000, "").close(6, Peer::Client, Some(1000), None, true);
    let d = s.diagnose();
    let preceding = &d.details["preceding"];
    assert_eq!(preceding["preview"], format!("ab{}…", "y".repeat(158)), "{preceding}");
    assert_eq!(preceding["message"]["complete"], false, "{preceding}");
    assert_eq!(preceding["message"]["len"], 312, "{preceding}");
    let block = render_diagnosis(&d, false);
    assert!(block.contains("(fragment 4 of a message from #1 that had not ended (312 B so far))"), "{block}");
    // A whole frame carries no `message`.
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").close_frame(5, Peer::Server, 1000, "").close(6, Peer::Server, Some(1000), None, true);
    assert!(s.diagnose().details["preceding"].get("message").is_none());
}

#[test]
fn a_jwt_split_over_fragments_is_one_token_not_a_malformed_one() {
    let token = jwt(serde_json::json!({"sub": "guest", "exp": epoch(3600)}));
    let (head, tail) = token.split_at(token.len() / 2);
    let first =
        format!(r#"{{"action":"configureAuthenticatedSession","token":"t","deploymentId":"d","data":{{"code":"{head}"#);
    let last = format!(r#"{tail}"}}}}"#);
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.fragmented(0, Peer::Client, Opcode::Text, &[first.as_bytes(), last.as_bytes()]);
    s.close_frame(60, Peer::Client, 1000, "").close(61, Peer::Client, Some(1000), None, true);
    let tokens: Vec<_> = s
        .run(ProfileChoice::Auto)
        .into_iter()
        .filter_map(|r| match r {
            Record::Token(t) => Some(t),
            _ => None,
        })
        .collect();
    let kinds: Vec<(Option<u64>, String)> =
        tokens.iter().map(|t| (t.seq, t.details["token_kind"].as_str().unwrap_or("").to_owned())).collect();
    assert!(kinds.contains(&(Some(2), "jwt".to_owned())), "{kinds:?}");
    assert!(!kinds.iter().any(|(_, kind)| kind == "malformed"), "{kinds:?}");
}

#[test]
fn utf8_is_checked_on_the_reassembled_message_not_on_each_fragment() {
    // "é" is two bytes, split between the fragments: valid once whole.
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.fragmented(0, Peer::Client, Opcode::Text, &[b"caf\xc3", b"\xa9"]);
    s.close_frame(5, Peer::Server, 1000, "").close(6, Peer::Server, Some(1000), None, true);
    assert!(!has_cause(&s.diagnose(), "ws-violation"), "{:#?}", causes(&s.diagnose()));

    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.fragmented(0, Peer::Client, Opcode::Text, &[b"caf\xc3", b"\xc3"]);
    s.close_frame(5, Peer::Server, 1007, "").close(6, Peer::Server, Some(1007), None, true);
    let violation = cause(&s.diagnose(), "ws-violation").clone();
    assert_eq!(violation["confidence"], "likely", "{violation}");
    let message = violation["message"].as_str().unwrap();
    assert!(message.contains("#2") && message.contains("fragmented text message that is not valid UTF-8"), "{message}");
}

#[test]
fn a_fragmented_message_past_the_reassembly_limit_is_skipped_whole() {
    let big = vec![b'x'; frametap::inspect::MAX_REASSEMBLED];
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.fragmented(50, Peer::Client, Opcode::Text, &[br#"{"action":"#, &big, br#""}"#]);
    s.close_frame(60, Peer::Server, 1000, "").close(61, Peer::Server, Some(1000), None, true);
    let records = s.run(ProfileChoice::Auto);
    let annotated = records.iter().filter(|r| matches!(r, Record::Annotation(_))).count();
    assert_eq!(annotated, 2, "only the configure and its response are read");
    assert!(!has_cause(&s.diagnose(), "ws-violation"));
}

#[test]
fn utf8_is_checked_in_a_fragmented_message_past_the_reassembly_limit_too() {
    let big = vec![b'a'; frametap::inspect::MAX_REASSEMBLED + 100];
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.fragmented(0, Peer::Client, Opcode::Text, &[&big, b"\xff\xfe"]);
    s.close_frame(5, Peer::Server, 1007, "").close(6, Peer::Server, Some(1007), None, true);
    let violation = cause(&s.diagnose(), "ws-violation").clone();
    assert_eq!(violation["confidence"], "likely", "{violation}");
    assert!(violation["message"].as_str().unwrap().contains("client frame #2"), "{violation}");
}
