//! What the server said before the close (`server-announced`, an error answer) against who ended the
//! connection: an announcement explains a server's close, and a client's close only when the client closed in
//! reaction to news that the session is over (at once, sending nothing else); a client that went on, closed
//! later, or whose page went away closed for its own reasons.

// Shared with tests/diagnosis.rs, which uses the rest of it.
#[allow(dead_code)]
#[path = "fixtures/script.rs"]
mod script;

use frametap::event::Opcode;
use frametap::event::{Close, Peer, Record};
use frametap::inspect::close::REACTION_MS;
use frametap::inspect::ANNOUNCED_CLOSE_MS;
use script::*;

const AGENT_LEFT: &str = r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"direction":"Outbound","type":"Event","events":[{"eventType":"Presence","presence":{"type":"Disconnect"}}],"metadata":{"readOnly":"true"}}}"#;
const NOT_FOUND: &str = r#"{"type":"response","class":"string","code":4007,"body":"session not found"}"#;
const EXPIRED: &str = r#"{"type":"message","class":"SessionExpiredEvent","code":200,"body":{}}"#;
const ECHO_REPLY: &str =
    r#"{"type":"response","class":"StructuredMessage","code":200,"body":{"text":"ping","direction":"Inbound"}}"#;

/// A configured session, `announcement` from the server at 1 s, then the client's close frame `gap_ms` later
/// (answered by the server), with `code`.
fn client_closes_after(announcement: &str, gap_ms: i64, code: u16) -> Script {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).server(1000, announcement);
    s.close_frame(1000 + gap_ms, Peer::Client, code, "").close_frame(1001 + gap_ms, Peer::Server, code, "");
    s.close(1002 + gap_ms, Peer::Client, Some(code), Some(""), true);
    s
}

/// The `server-announced` cause's confidence and message.
fn announced(d: &frametap::event::Diagnosis) -> (String, String) {
    let c = cause(d, "server-announced");
    (c["confidence"].as_str().unwrap().to_owned(), c["message"].as_str().unwrap().to_owned())
}

#[test]
fn the_agent_leaving_is_context_when_the_guests_page_goes_away_soon_or_late() {
    for gap in [200, 65_000] {
        let d = client_closes_after(AGENT_LEFT, gap, 1001).diagnose();
        let (confidence, message) = announced(&d);
        assert_eq!(confidence, "possible", "{gap} ms: {message}");
        assert!(message.contains("read-only") && message.contains("not why this connection closed"), "{message}");
        assert!(message.contains("1001 Going Away") && message.contains("page was closed"), "{message}");
        // The page going away is what the user should look at: it tops the list after the certain fact.
        let order: Vec<String> = causes(&d).into_iter().map(|(rule, ..)| rule).collect();
        assert_eq!(order[..3], ["client-closed", "close-code", "server-announced"], "{gap} ms");
        let summary = d.details["summary"].as_str().unwrap();
        assert!(summary.contains("likely: the client closed with 1001 Going Away: its page was"), "{summary}");
    }
}

#[test]
fn the_agent_leaving_is_context_even_when_the_client_closes_at_once_with_1000() {
    let (confidence, message) = announced(&client_closes_after(AGENT_LEFT, 50, 1000).diagnose());
    assert_eq!(confidence, "possible", "{message}");
    assert!(message.contains("the session stays open, read-only, after it"), "{message}");
}

/// When nothing is likely, the summary leads with the certain fact (the client closed it), then the possible
/// causes; the JSON lists them in the same order.
#[test]
fn with_only_possible_causes_the_summary_leads_with_the_clients_own_close() {
    for (gap, more) in [(50, ""), (65_000, " (and 1 more possible cause)")] {
        let d = client_closes_after(AGENT_LEFT, gap, 1000).diagnose();
        let listed: Vec<(String, String)> =
            causes(&d).into_iter().map(|(rule, confidence, ..)| (rule, confidence)).collect();
        assert_eq!(listed[0], ("client-closed".to_owned(), "certain".to_owned()), "{gap} ms: {listed:?}");
        assert!(listed[1..].iter().all(|(_, confidence)| confidence == "possible"), "{gap} ms: {listed:?}");
        let summary = d.details["summary"].as_str().unwrap();
        let certain = "; certain: the client closed the connection itself (1000): look at the client's code";
        assert!(summary.starts_with("client closed with 1000 Normal Closure after server frame #3"), "{summary}");
        let (lead, rest) = summary.split_once(certain).unwrap_or_else(|| panic!("{gap} ms: {summary}"));
        assert!(!lead.contains("possible"), "the certain fact comes first: {summary}");
        let (_, announced) = announced(&d);
        assert!(rest.ends_with(&format!("; possible: {announced}{more}")), "{gap} ms: {summary}");
    }
}

#[test]
fn a_client_close_right_after_the_session_ended_is_its_reaction_up_to_the_reaction_window() {
    let window = REACTION_MS as i64;
    for (announcement, what) in [(NOT_FOUND, "4007"), (EXPIRED, "SessionExpiredEvent")] {
        for gap in [5, window] {
            let (confidence, message) = announced(&client_closes_after(announcement, gap, 1000).diagnose());
            assert_eq!(confidence, "likely", "{what} then a close {gap} ms later: {message}");
            assert!(message.contains("likely closed in reaction to it"), "{message}");
        }
        let (confidence, message) = announced(&client_closes_after(announcement, window + 10, 1000).diagnose());
        assert_eq!(confidence, "possible", "{what} then a close just past the window: {message}");
        assert!(message.contains("too long after it for a reaction"), "{message}");
    }
}

#[test]
fn a_page_that_went_away_right_after_the_session_ended_reacted_to_it() {
    let (confidence, message) = announced(&client_closes_after(EXPIRED, 30, 1001).diagnose());
    assert_eq!(confidence, "likely", "{message}");
    assert!(message.contains("likely closed in reaction to it"), "{message}");
}

#[test]
fn a_client_that_went_on_after_the_announcement_closed_for_its_own_reasons() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).server(1000, NOT_FOUND);
    s.client(1100, ECHO).server(1110, ECHO_REPLY);
    s.close_frame(1200, Peer::Client, 1000, "").close_frame(1201, Peer::Server, 1000, "");
    s.close(1202, Peer::Client, Some(1000), Some(""), true);
    let (confidence, message) = announced(&s.diagnose());
    assert_eq!(confidence, "possible", "{message}");
    assert!(message.contains("the client went on after it (it sent frame #4)"), "{message}");
}

#[test]
fn a_server_that_went_on_answering_after_the_announcement_did_not_close_over_it() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).server(1000, NOT_FOUND);
    s.client(1100, ECHO).server(1110, ECHO_REPLY);
    s.close_frame(1500, Peer::Server, 1000, "").close_frame(1501, Peer::Client, 1000, "");
    s.close(1502, Peer::Server, Some(1000), Some(""), true);
    let (confidence, message) = announced(&s.diagnose());
    assert_eq!(confidence, "possible", "{message}");
    assert!(message.contains("the server went on answering after it (frame #5)"), "{message}");
    // Without the answer after it, the announcement is the likely cause of the server's close.
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).server(1000, NOT_FOUND);
    s.close_frame(1500, Peer::Server, 1000, "").close_frame(1501, Peer::Client, 1000, "");
    s.close(1502, Peer::Server, Some(1000), Some(""), true);
    assert_eq!(announced(&s.diagnose()).0, "likely");
}

/// The server's last word before its close was an error answer, but it had answered normally after the
/// announcement before that: it went on serving, as `rate-limit` reads it, so the announcement is only possible.
/// Near miss: with only the error answer after the announcement, the server did not go on, and it stays likely.
#[test]
fn an_error_answer_after_the_announcement_does_not_hide_the_ordinary_answer_before_it() {
    const REFUSED: &str = r#"{"type":"response","class":"string","code":400,"body":"bad request"}"#;
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).server(1000, EXPIRED);
    s.server(1100, ECHO_REPLY).server(1200, REFUSED);
    s.close_frame(1300, Peer::Server, 1000, "").close(1301, Peer::Server, Some(1000), None, true);
    let (confidence, message) = announced(&s.diagnose());
    assert_eq!(confidence, "possible", "{message}");
    assert!(message.contains("the server went on answering after it (frame #4)"), "{message}");

    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).server(1000, EXPIRED).server(1200, REFUSED);
    s.close_frame(1300, Peer::Server, 1000, "").close(1301, Peer::Server, Some(1000), None, true);
    let (confidence, message) = announced(&s.diagnose());
    assert_eq!(confidence, "likely", "{message}");
}

/// The server answered the client's frame with an error, then went on with an ordinary message, and closed later:
/// it went on serving after its error answer, so neither the error answer nor the timing (`in-response`) explains
/// the close (both used to, as if the server's next move had been the close). Near miss: an ordinary message before
/// the error answer (a push the server sent anyway) leaves error answer, then close: both are named.
#[test]
fn an_error_answer_the_server_went_on_after_is_not_why_it_closed() {
    const REFUSED: &str = r#"{"type":"response","class":"string","code":400,"body":"bad request"}"#;
    const AGENT_SAYS: &str = r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"type":"Text","text":"Hello!","direction":"Outbound"}}"#;
    let script = |server: [(i64, &str); 2]| {
        let mut s = Script::new("sim:genesys/v1", Some(5.0));
        s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).client(1000, ECHO);
        s.server(server[0].0, server[0].1).server(server[1].0, server[1].1);
        s.close_frame(2000, Peer::Server, 1000, "").close(2001, Peer::Server, Some(1000), None, true);
        s.diagnose()
    };
    let d = script([(1010, REFUSED), (1500, AGENT_SAYS)]);
    assert!(!has_cause(&d, "server-error-response"), "{:#?}", causes(&d));
    assert!(!has_cause(&d, "in-response"), "{:#?}", causes(&d));

    let d = script([(1005, AGENT_SAYS), (1010, REFUSED)]);
    assert_eq!(cause(&d, "server-error-response")["confidence"], "likely");
    assert!(cause(&d, "in-response")["message"].as_str().unwrap().contains("after client frame #3"));
}

/// A server that let the client's next frame reach it after the announcement, then ended the connection without
/// answering it, did not close right over the announcement: that frame is as good a reason (see `in-response`).
/// A close that crossed the frame (within one round trip of it, here 5 ms) was on its way before the frame came:
/// the announcement stays the likely reason.
#[test]
fn a_server_close_after_the_clients_next_frame_is_only_possibly_over_the_announcement() {
    let server_closes = |client_at: i64, close_at: i64| {
        let mut s = Script::new("sim:genesys/v1", Some(5.0));
        s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).server(1000, NOT_FOUND).client(client_at, ECHO);
        s.close_frame(close_at, Peer::Server, 1000, "").close_frame(close_at + 1, Peer::Client, 1000, "");
        s.close(close_at + 2, Peer::Server, Some(1000), Some(""), true);
        announced(&s.diagnose())
    };
    let (confidence, message) = server_closes(1100, 1200);
    assert_eq!(confidence, "possible", "{message}");
    assert!(
        message.contains("the client sent frame #4 after it, and the server closed 100 ms after that frame"),
        "{message}"
    );
    let (confidence, message) = server_closes(1100, 1102);
    assert_eq!(confidence, "likely", "a close that crossed frame #4: {message}");
}

/// A server closes right after announcing the end; one that lets the connection stand longer than
/// `ANNOUNCED_CLOSE_MS`, sending nothing, did not close it over the announcement then: only possibly.
#[test]
fn a_server_close_long_after_its_announcement_is_only_possibly_over_it() {
    let bound = ANNOUNCED_CLOSE_MS as i64;
    let server_closes_after = |gap: i64, pings: bool| {
        let mut s = Script::new("sim:genesys/v1", Some(5.0));
        s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).server(1000, EXPIRED);
        if pings {
            s.frame(1000 + gap / 2, Peer::Client, Opcode::Ping, vec![]);
            s.frame(1001 + gap / 2, Peer::Server, Opcode::Pong, vec![]);
        }
        s.close_frame(1000 + gap, Peer::Server, 1000, "").close_frame(1001 + gap, Peer::Client, 1000, "");
        s.close(1002 + gap, Peer::Server, Some(1000), Some(""), true);
        s.diagnose()
    };
    for gap in [50, bound] {
        let (confidence, message) = announced(&server_closes_after(gap, false));
        assert_eq!(confidence, "likely", "a server close {gap} ms after: {message}");
    }
    let d = server_closes_after(bound + 500, false);
    let (confidence, message) = announced(&d);
    assert_eq!(confidence, "possible", "{message}");
    assert!(message.contains("the server closed 10.5 s after it, with no data frame in between:"), "{message}");
    assert!(message.contains("possibly followed from it, possibly not"), "{message}");
    assert!(!d.details["summary"].as_str().unwrap().contains("likely"), "{}", d.details["summary"]);
    let (_, message) = announced(&server_closes_after(bound + 500, true));
    assert!(message.contains("in between, though pings or pongs still flowed:"), "{message}");
}

#[test]
fn frametaps_own_close_after_an_announcement_is_not_the_servers() {
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).server(1000, EXPIRED);
    s.records.push(Record::Close(Close {
        conn: 1,
        ts: s.ts(1050),
        initiator: Peer::Proxy,
        initiator_unknown: false,
        code: Some(1001),
        reason: Some("frametap is shutting down".into()),
        clean: true,
        dropped_by: None,
        duration_ms: 1050.0,
        detail: Some("frametap is shutting down".into()),
    }));
    let (confidence, message) = announced(&s.diagnose());
    assert_eq!(confidence, "possible", "{message}");
    assert!(message.contains("frametap itself ended this connection"), "{message}");
}

/// An error answer (not an announcement) the client closed right after, sending nothing else: a possible
/// cause, named; a client that closed later, or after sending more, gets no such cause.
#[test]
fn a_client_that_closed_right_after_an_error_answer_may_have_closed_over_it() {
    const TOO_LONG: &str = r#"{"action":"onMessage","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","tracingId":"m-1","message":{"type":"Text","text":"long"}}"#;
    const REFUSED: &str =
        r#"{"type":"response","class":"string","code":4011,"body":"message too long","tracingId":"m-1"}"#;
    let closed_after = |gap: i64| {
        let mut s = Script::new("sim:genesys/v1", Some(5.0));
        s.client(0, CONFIGURE).server(20, SESSION_RESPONSE).client(900, TOO_LONG).server(1000, REFUSED);
        s.close_frame(1000 + gap, Peer::Client, 1000, "").close_frame(1001 + gap, Peer::Server, 1000, "");
        s.close(1002 + gap, Peer::Client, Some(1000), Some(""), true);
        s.diagnose()
    };
    let d = closed_after(40);
    let error = cause(&d, "server-error-response");
    assert_eq!(error["confidence"], "possible", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("4011") && message.contains("possibly over it"), "{message}");
    assert_eq!(error["seq"], 4);
    let d = closed_after(REACTION_MS as i64 + 10);
    assert!(!has_cause(&d, "server-error-response"), "{:#?}", causes(&d));
}
