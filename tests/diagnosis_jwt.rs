//! The close-analysis rules about tokens: a JWT that expired before the close or before it was sent, one still
//! valid, the REST-only `getJwt` token, and closes an expiry does not explain.

// Shared by the diagnosis tests, each using part of it.
#[allow(dead_code)]
#[path = "fixtures/script.rs"]
mod script;

use frametap::event::{Peer, Record};
use frametap::inspect::ProfileChoice;
use script::*;

#[test]
fn a_jwt_that_expires_mid_session_is_named() {
    let token = jwt(serde_json::json!({"sub":"user-1","iat":epoch(-240),"exp":epoch(60)}));
    let mut s = Script::new("wss://chat.example.com/socket", Some(20.0));
    if let Record::Open(open) = &mut s.records[1] {
        open.request.headers.push(("Authorization".into(), format!("Bearer {token}")));
    }
    s.client(1000, "hello").server(1010, "hi");
    s.client(90_000, "still there?");
    s.close_frame(90_050, Peer::Server, 1008, "unauthorized").close(
        90_051,
        Peer::Server,
        Some(1008),
        Some("unauthorized"),
        true,
    );
    let derived = s.run(ProfileChoice::Auto);
    let tokens: Vec<_> = derived
        .iter()
        .filter_map(|r| match r {
            Record::Token(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(tokens.len(), 1, "reported once, when first seen");
    let block = frametap::inspect::render_token(tokens[0], false);
    assert!(block.contains("jwt in header:authorization (handshake)") && block.contains("(unverified)"), "{block}");
    assert!(block.contains("exp 2026-11-25T10:01:00Z") && block.contains("sub=user-1"), "{block}");
    let d = s.diagnose();
    let expired = cause(&d, "token-expired");
    assert_eq!(expired["confidence"], "likely");
    assert!(expired["message"].as_str().unwrap().contains("expired 30.1 s before the close"), "{expired}");
    assert!(expired["evidence"][0].as_str().unwrap().contains("first seen in the handshake"), "{expired}");
    assert!(cause(&d, "close-code")["message"].as_str().unwrap().contains("Policy Violation"));
    assert!(d.details["ruled_out"].as_array().unwrap().is_empty());
}

#[test]
fn a_jwt_still_valid_at_the_close_is_not_blamed() {
    let token = jwt(serde_json::json!({"sub":"user-1","exp":epoch(3600)}));
    let mut s = Script::new("wss://chat.example.com/socket", Some(20.0));
    if let Record::Open(open) = &mut s.records[1] {
        open.request.headers.push(("Authorization".into(), format!("Bearer {token}")));
    }
    s.client(1000, "hello").close_frame(1100, Peer::Server, 1008, "").close(1101, Peer::Server, Some(1008), None, true);
    let d = s.diagnose();
    assert!(!has_cause(&d, "token-expired"), "{:#?}", causes(&d));
}

#[test]
fn the_genesys_get_jwt_token_is_rest_only_and_ruled_out() {
    let token = jwt(serde_json::json!({"exp":epoch(30)}));
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.client(100, r#"{"action":"getJwt","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","tracingId":"t-2"}"#);
    s.server(120, &format!(r#"{{"type":"response","class":"JwtResponse","code":200,"body":{{"jwt":"{token}","exp":{}}},"tracingId":"t-2"}}"#, epoch(30)));
    s.client(
        59_000,
        r#"{"action":"echo","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{"type":"Text","text":"ping"}}"#,
    );
    s.close_frame(59_020, Peer::Server, 1000, "").close(59_021, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    assert!(!has_cause(&d, "token-expired"), "{:#?}", causes(&d));
    let ruled = d.details["ruled_out"][0]["message"].as_str().unwrap();
    assert!(ruled.contains("only authorises REST calls"), "{ruled}");
    // The second line does not contradict the first (a JWT was seen: it was not in force).
    let rest = d.details["ruled_out"][1]["message"].as_str().unwrap();
    assert!(rest.starts_with("no other JWT with an `exp` was seen"), "{rest}");
}

#[test]
fn an_authenticated_session_code_that_expired_is_in_force() {
    let code = jwt(serde_json::json!({"sub":"guest","exp":epoch(10)}));
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(
        0,
        &format!(
            r#"{{"action":"configureAuthenticatedSession","token":"t","deploymentId":"d","data":{{"code":"{code}"}}}}"#
        ),
    );
    s.server(20, SESSION_RESPONSE);
    s.server(12_000, r#"{"type":"response","class":"string","code":401,"body":"unauthorized"}"#);
    s.close_frame(12_010, Peer::Server, 1000, "").close(12_011, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let expired = cause(&d, "token-expired");
    assert_eq!(expired["seq"], 1);
    assert_eq!(expired["confidence"], "likely", "the server's answer after the expiry was an error: {expired}");
    assert!(expired["evidence"][0].as_str().unwrap().contains("first seen in frame #1"));
}

/// A data.code JWT that had expired before the configure carrying it was sent is judged against that frame's
/// time: likely when the server refused it (401), possible when it went on serving (a server that does not
/// check it).
#[test]
fn an_authenticated_code_expired_before_it_was_sent_is_named_against_the_frames_time() {
    let code = jwt(serde_json::json!({"sub":"user","exp":epoch(-90)}));
    let configure = format!(
        r#"{{"action":"configureAuthenticatedSession","token":"t","deploymentId":"d","data":{{"code":"{code}"}}}}"#
    );
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, &configure).server(20, r#"{"type":"response","class":"string","code":401,"body":"unauthorized"}"#);
    s.close_frame(25_000, Peer::Client, 1000, "").close(25_001, Peer::Client, Some(1000), None, true);
    let d = s.diagnose();
    let expired = cause(&d, "token-expired");
    assert_eq!(expired["confidence"], "likely", "the server refused it, whoever closed: {expired}");
    let message = expired["message"].as_str().unwrap();
    assert!(message.contains("had already expired when it was sent (90"), "{message}");
    assert!(message.ends_with("; the server answered with an error (frame #2)"), "{message}");
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(0, &configure).server(20, SESSION_RESPONSE);
    s.close_frame(1000, Peer::Server, 1000, "").close(1001, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let served = cause(&d, "token-expired");
    assert_eq!(served["confidence"], "possible", "{served}");
    assert!(served["message"].as_str().unwrap().ends_with("so it may not have needed it"), "{served}");
}

/// A JWT already expired when the connection opened (a custom UI putting a stale token in the URL): the
/// server went on answering normally after it, so its expiry is not why the server closed now (it used to be
/// a likely cause beside the broken frame that was).
#[test]
fn a_jwt_the_server_went_on_serving_after_its_expiry_is_only_a_possible_cause() {
    let stale = jwt(serde_json::json!({"sub":"guest","exp":epoch(-3600)}));
    let mut s = Script::new("sim:genesys/v1", Some(0.3));
    if let Record::Open(open) = &mut s.records[1] {
        open.request.path = format!("/v1?deploymentId=d1e2&access_token={stale}");
    }
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.client(300, r#"{"action":"onMessage","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","message":{"type":"Text","text":"hi"}}"#);
    s.server(301, r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"type":"Text","text":"Hello!","direction":"Outbound"}}"#);
    s.client(600, r#"{"type":"message","content":"oops"}"#);
    s.close_frame(601, Peer::Server, 1000, "").close(602, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    let expired = cause(&d, "token-expired");
    assert_eq!(expired["confidence"], "possible", "{expired}");
    let evidence = expired["evidence"].to_string();
    assert!(evidence.contains("the server went on answering after it had expired (frame #4"), "{evidence}");
    assert_eq!(d.details["causes"][0]["rule"], "protocol-lint", "{:#?}", causes(&d));
    // A server whose last word after the expiry was an error still reads as reacting to it.
    let mut s = Script::new("sim:genesys/v1", Some(0.3));
    if let Record::Open(open) = &mut s.records[1] {
        open.request.path = format!("/v1?deploymentId=d1e2&access_token={stale}");
    }
    s.client(0, CONFIGURE)
        .server(20, r#"{"type":"response","class":"string","code":401,"body":"unauthorized","tracingId":"t-1"}"#);
    s.close_frame(30, Peer::Server, 1000, "").close(31, Peer::Server, Some(1000), None, true);
    assert_eq!(cause(&s.diagnose(), "token-expired")["confidence"], "likely");
}

/// A JWT that expired mid-session, after which the server answered normally, then with an error, then closed: its
/// last word was the error, but the ordinary answer after the expiry says it went on serving, as `rate-limit` and
/// `server-announced` read it, so the expiry is only possible. Near misses: the ordinary answer came before the
/// expiry (likely); and on a generic connection, where no frame is a signal, any server frame after it counts.
#[test]
fn an_error_answer_after_the_expiry_does_not_hide_the_ordinary_answer_before_it() {
    const REFUSED: &str = r#"{"type":"response","class":"string","code":400,"body":"bad request"}"#;
    const AGENT_SAYS: &str = r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"type":"Text","text":"Hello!","direction":"Outbound"}}"#;
    let expiring = jwt(serde_json::json!({"sub":"guest","exp":epoch(1)}));
    let script = |upstream: &str, frames: [&str; 4], answer_ms: i64| {
        let mut s = Script::new(upstream, Some(0.3));
        if let Record::Open(open) = &mut s.records[1] {
            open.request.path = format!("{}&access_token={expiring}", open.request.path);
        }
        s.client(0, frames[0]).server(20, frames[1]).server(answer_ms, frames[2]).server(2100, frames[3]);
        s.close_frame(2200, Peer::Server, 1000, "").close(2201, Peer::Server, Some(1000), None, true);
        s
    };
    let genesys = [CONFIGURE, SESSION_RESPONSE, AGENT_SAYS, REFUSED];
    let expired = |s: Script| {
        let d = s.diagnose();
        let c = cause(&d, "token-expired");
        (c["confidence"].as_str().unwrap().to_owned(), c["evidence"].to_string())
    };
    let (confidence, evidence) = expired(script("sim:genesys/v1?deploymentId=d1e2", genesys, 2000));
    assert_eq!(confidence, "possible", "{evidence}");
    assert!(
        evidence.contains("the server went on answering after it had expired (frame #3, 1.0 s after exp)"),
        "{evidence}"
    );
    let (confidence, evidence) = expired(script("sim:genesys/v1?deploymentId=d1e2", genesys, 500));
    assert_eq!(confidence, "likely", "{evidence}");
    let (confidence, evidence) =
        expired(script("ws://127.0.0.1:9/chat?x=1", ["hello", "hi", "news", "error: bad request"], 2000));
    assert_eq!(confidence, "possible", "on a generic connection the last server frame counts: {evidence}");
    assert!(evidence.contains("(frame #4, 1.1 s after exp)"), "{evidence}");
}

/// The client's own TCP drop (a killed tab, a lost network) is not what an expired token or the agent leaving
/// makes happen: both are possible causes there, no longer likely ones.
#[test]
fn a_client_tcp_drop_is_not_likely_caused_by_an_expiry_or_an_announcement() {
    let token = jwt(serde_json::json!({"sub":"guest","exp":epoch(3)}));
    let mut s = Script::new("sim:genesys/v1", Some(5.0));
    s.client(
        0,
        &format!(
            r#"{{"action":"configureAuthenticatedSession","token":"t","deploymentId":"d","data":{{"code":"{token}"}}}}"#
        ),
    );
    s.server(20, SESSION_RESPONSE);
    s.server(
        1000,
        r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"direction":"Outbound","type":"Event","events":[{"eventType":"Presence","presence":{"type":"Disconnect"}}],"metadata":{"readOnly":"true"}}}"#,
    );
    s.close(5000, Peer::Client, None, None, false);
    let d = s.diagnose();
    assert_eq!(cause(&d, "tcp-drop")["confidence"], "certain");
    assert_eq!(cause(&d, "token-expired")["confidence"], "possible", "{:#?}", causes(&d));
    assert_eq!(cause(&d, "server-announced")["confidence"], "possible", "{:#?}", causes(&d));
}

/// The rules of each cause, in the diagnosis's order.
fn order(d: &frametap::event::Diagnosis) -> Vec<String> {
    causes(d).into_iter().map(|(rule, _, _)| rule).collect()
}

/// A JWT in force that had expired when the server answered the client's request with a 401 (re-authenticate),
/// then closed: the expiry is why it refused, so it leads the causes and the summary, ahead of the refusal it
/// explains (it used to follow `server-error-response`, and the summary quoted the bare 401). An error the expiry
/// does not explain keeps the lead: one of another code, or a 401 sent before the JWT expired.
#[test]
fn an_expiry_leads_the_refusal_it_explains_and_only_that_one() {
    let diagnose = |exp_secs: i64, code: u16| {
        let token = jwt(serde_json::json!({"sub":"user-1","exp":epoch(exp_secs)}));
        let mut s = Script::new("sim:genesys/v1", Some(0.3));
        if let Record::Open(open) = &mut s.records[1] {
            open.request.path = format!("/v1?deploymentId=d1e2&access_token={token}");
        }
        s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
        s.client(5_000, r#"{"action":"echo","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","tracingId":"t-2","message":{"type":"Text","text":"ping"}}"#);
        s.server(
            5_010,
            &format!(r#"{{"type":"response","class":"string","code":{code},"body":"refused","tracingId":"t-2"}}"#),
        );
        s.close_frame(5_020, Peer::Server, 1000, "").close(5_021, Peer::Server, Some(1000), None, true);
        s.diagnose()
    };
    // Expired 2 s into the session; the 401 came 3 s later.
    let d = diagnose(2, 401);
    assert_eq!(order(&d)[..2], ["token-expired", "server-error-response"], "{:#?}", causes(&d));
    let summary = d.details["summary"].as_str().unwrap();
    assert!(
        summary.contains("; likely: a token in force on this connection (query:access_token) expired"),
        "{summary}"
    );
    // A 5000 (unexpected) after the expiry: the server's own words lead.
    let d = diagnose(2, 5000);
    assert_eq!(order(&d)[..2], ["server-error-response", "token-expired"], "{:#?}", causes(&d));
    // A 401 sent 10 ms before the JWT expired was not about its expiry.
    let mut s = Script::new("sim:genesys/v1", Some(0.3));
    let token = jwt(serde_json::json!({"sub":"user-1","exp":epoch(6)}));
    if let Record::Open(open) = &mut s.records[1] {
        open.request.path = format!("/v1?deploymentId=d1e2&access_token={token}");
    }
    s.client(0, CONFIGURE).server(20, SESSION_RESPONSE);
    s.client(5_000, r#"{"action":"echo","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","tracingId":"t-2","message":{"type":"Text","text":"ping"}}"#);
    s.server(5_990, r#"{"type":"response","class":"string","code":401,"body":"refused","tracingId":"t-2"}"#);
    s.close_frame(6_500, Peer::Server, 1000, "").close(6_501, Peer::Server, Some(1000), None, true);
    let d = s.diagnose();
    assert_eq!(order(&d)[..2], ["server-error-response", "token-expired"], "{:#?}", causes(&d));
}

/// A data.code JWT replaced by a refreshed one before the close is not what authorised the connection then, so its
/// expiry is ruled out, not a cause; a replacement that had already expired when it was sent replaced nothing.
#[test]
fn a_jwt_replaced_by_a_current_one_is_ruled_out_and_a_stale_replacement_replaces_nothing() {
    let configure = |code: &str| {
        format!(
            r#"{{"action":"configureAuthenticatedSession","token":"t","deploymentId":"d","tracingId":"c","data":{{"code":"{code}"}}}}"#
        )
    };
    let diagnose = |replacement_exp: i64| {
        let mut s = Script::new("sim:genesys/v1", Some(5.0));
        s.client(0, &configure(&jwt(serde_json::json!({"sub":"user","exp":epoch(5)})))).server(20, SESSION_RESPONSE);
        s.client(60_000, &configure(&jwt(serde_json::json!({"sub":"user","exp":epoch(replacement_exp)}))));
        s.server(
            60_020,
            r#"{"type":"response","class":"string","code":5000,"body":"Request failed.","tracingId":"c"}"#,
        );
        s.close_frame(60_030, Peer::Server, 1000, "").close(60_031, Peer::Server, Some(1000), None, true);
        s.diagnose()
    };
    let d = diagnose(3600);
    assert!(!causes(&d).iter().any(|(rule, _, _)| rule == "token-expired"), "{:#?}", causes(&d));
    let ruled_out = d.details["ruled_out"].to_string();
    assert!(ruled_out.contains("the JWT from frame:data.code (frame #1) expired at 2026-11-25T10:00:05+00:00, but frame #3 had replaced it"), "{ruled_out}");
    // Replaced by a code that had expired 30 s before it was sent: both are causes.
    let d = diagnose(30);
    let expired: Vec<String> =
        causes(&d).into_iter().filter(|(rule, _, _)| rule == "token-expired").map(|(_, _, message)| message).collect();
    assert_eq!(expired.len(), 2, "{expired:#?}");
    assert!(
        expired
            .iter()
            .any(|m| m.starts_with("the JWT in frame #3 (frame:data.code) had already expired when it was sent")),
        "{expired:#?}"
    );
}
