//! The `idle` cause against who closed first: a server that ends a connection after a long silence is the
//! signature of its idle timeout (likely); a client that does is not the server's idle timeout at all, however
//! the close handshake then ended (possible, and said so).

#[allow(dead_code)]
#[path = "fixtures/script.rs"]
mod script;

use frametap::event::{Close, Peer, Record};
use script::*;

/// Five minutes of silence after an exchange, then the end of the connection as `close` says.
fn after_five_quiet_minutes(first_close_from: Option<Peer>, close: impl FnOnce(&Script) -> Close) -> Script {
    let mut s = Script::new("ws://127.0.0.1:9/chat", Some(1.0));
    s.client(0, "hello").server(5, "hi");
    if let Some(from) = first_close_from {
        s.close_frame(300_005, from, 1000, "");
    }
    let close = close(&s);
    s.records.push(Record::Close(close));
    s
}

fn ended(s: &Script, initiator: Peer, clean: bool, dropped_by: Option<Peer>) -> Close {
    Close {
        conn: 1,
        ts: s.ts(300_006),
        initiator,
        initiator_unknown: false,
        code: None,
        reason: None,
        clean,
        dropped_by,
        duration_ms: 300_006.0,
        detail: None,
    }
}

fn idle(s: &Script) -> (String, String) {
    let d = s.diagnose();
    let idle = cause(&d, "idle");
    (idle["confidence"].as_str().unwrap().to_owned(), idle["message"].as_str().unwrap().to_owned())
}

#[test]
fn a_server_that_ends_a_silent_connection_likely_timed_it_out_however_tcp_ended() {
    let cases = [
        ("a clean close", Some(Peer::Server), true, None),
        ("a close the client never answered", Some(Peer::Server), false, None),
        ("a TCP drop", None, false, Some(Peer::Server)),
    ];
    for (case, close_frame, clean, dropped_by) in cases {
        let s = after_five_quiet_minutes(close_frame, |s| ended(s, Peer::Server, clean, dropped_by));
        let (confidence, message) = idle(&s);
        assert_eq!(confidence, "likely", "{case}: {message}");
        assert!(message.contains("5.0 min") && message.contains("likely an idle timeout"), "{case}: {message}");
    }
}

/// These used to be "likely an idle timeout" whenever the close was not clean (the client's close unanswered,
/// or the client dropping TCP), and worded so even when the client closed cleanly.
#[test]
fn a_client_that_ends_a_silent_connection_is_not_the_servers_idle_timeout() {
    let cases = [
        ("a clean close", Some(Peer::Client), true, None),
        ("a close the server never answered", Some(Peer::Client), false, None),
        ("a close the server answered by dropping TCP", Some(Peer::Client), false, Some(Peer::Server)),
        ("a TCP drop", None, false, Some(Peer::Client)),
    ];
    for (case, close_frame, clean, dropped_by) in cases {
        let s = after_five_quiet_minutes(close_frame, |s| ended(s, Peer::Client, clean, dropped_by));
        let (confidence, message) = idle(&s);
        assert_eq!(confidence, "possible", "{case}: {message}");
        assert!(message.contains("before the client ended the connection"), "{case}: {message}");
        assert!(message.contains("not the server's idle timeout"), "{case}: {message}");
        assert!(!message.contains("likely"), "{case}: {message}");
    }
}

#[test]
fn when_the_recording_does_not_say_who_closed_an_idle_timeout_is_only_possible() {
    let s = after_five_quiet_minutes(None, |s| Close { initiator_unknown: true, ..ended(s, Peer::Server, true, None) });
    let (confidence, message) = idle(&s);
    assert_eq!(confidence, "possible", "{message}");
    assert!(message.contains("does not say which side"), "{message}");
}
