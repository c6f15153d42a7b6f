//! The token finder on fixture records: every place a credential travels, the flags, and dedupe.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use frametap::event::{Frame, HttpRequest, HttpResponse, Opcode, Open, Peer, Record, Token, Ts};
use frametap::inspect::jwt::encode_part;
use frametap::inspect::tokens::{TokenKind, TokenTracker};
use serde_json::{json, Value};

const T0: i64 = 1_767_323_045; // 2026-01-02T03:04:05Z

fn ts(epoch: i64) -> Ts {
    Ts(DateTime::<Utc>::from_timestamp(epoch, 0).unwrap())
}

fn jwt(claims: Value) -> String {
    let header = encode_part(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
    format!("{header}.{}.{}", encode_part(claims.to_string().as_bytes()), encode_part(&[9; 64]))
}

fn open(path: &str, headers: &[(&str, &str)], response_headers: &[(&str, &str)]) -> Record {
    let pairs = |h: &[(&str, &str)]| h.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    Record::from(Open {
        conn: 1,
        ts: ts(T0),
        client_addr: None,
        request: HttpRequest { method: "GET".into(), path: path.into(), headers: pairs(headers) },
        upstream: None,
        upstream_request: None,
        response: Some(HttpResponse { status: 101, headers: pairs(response_headers), body: None, body_base64: None }),
        error: None,
        handshake_ms: Some(12.0),
        upstream_tcp_rtt_ms: None,
        failed_ms: None,
        upgraded_ms: None,
    })
}

fn text_frame(seq: u64, from: Peer, text: &str) -> Record {
    Record::Frame(Frame {
        conn: 1,
        ts: ts(T0 + seq as i64),
        seq,
        from,
        to: from.other(),
        opcode: Opcode::Text,
        fin: true,
        rsv: 0,
        len: text.len() as u64,
        payload: Bytes::copy_from_slice(text.as_bytes()),
        text_message: true,
        relayed: true,
    })
}

fn only(tokens: Vec<Token>) -> Token {
    assert_eq!(tokens.len(), 1, "{tokens:#?}");
    tokens.into_iter().next().unwrap()
}

fn flags(token: &Token) -> Vec<String> {
    serde_json::from_value(token.details["flags"].clone()).unwrap()
}

#[test]
fn query_parameter_jwt_is_decoded_with_times_relative_to_seen_at() {
    let token = jwt(json!({"sub": "guest", "exp": T0 - 182, "iat": T0 - 3600}));
    let mut tracker = TokenTracker::new(vec![]);
    let found = only(tracker.observe(&open(&format!("/v1?deploymentId=abc&access_token={token}"), &[], &[]), ts(T0)));
    assert_eq!(found.source, "query:access_token");
    assert_eq!(found.seq, None);
    assert_eq!(found.details["token_kind"], "jwt");
    assert_eq!(found.details["verified"], false);
    assert_eq!(found.details["header"]["kid"], "k1");
    assert_eq!(found.details["claims"]["sub"], "guest");
    assert_eq!(found.details["times"]["exp"]["relative"], "expired 3 min 2 s before it was seen");
    assert_eq!(found.details["times"]["exp"]["utc"], "2026-01-02T03:01:03Z");
    assert_eq!(found.details["times"]["exp"]["epoch"], T0 - 182);
    assert_eq!(found.details["times"]["iat"]["relative"], "1 h before it was seen");
    assert_eq!(flags(&found), ["expired"]);
    assert_eq!(found.details["preview"], "eyJhbG…");
    assert!(!found.details.values().any(|v| v.as_str() == Some(token.as_str())), "the secret itself is never reported");
    let seen = &tracker.seen()[0];
    assert_eq!((seen.kind, seen.exp, seen.iat, seen.nbf), (TokenKind::Jwt, Some(T0 - 182), Some(T0 - 3600), None));
}

#[test]
fn an_old_capture_judged_at_its_own_time_is_not_expired() {
    let token = jwt(json!({"exp": T0 + 3600}));
    let record = text_frame(
        4,
        Peer::Server,
        &json!({"type":"response","class":"JwtResponse","code":200,"body":{"jwt": token, "exp": T0 + 3600}})
            .to_string(),
    );
    // Judged at the frame's time (inspect): valid for another hour.
    let then = only(TokenTracker::new(vec![]).observe(&record, record.ts()));
    assert_eq!(flags(&then), Vec::<String>::new());
    assert_eq!(then.details["times"]["exp"]["relative"], "in 59 min 56 s"); // the frame came 4 s after T0
                                                                            // Judged a day later (as if live now): expired.
    let later = only(TokenTracker::new(vec![]).observe(&record, ts(T0 + 86_400)));
    assert_eq!(flags(&later), ["expired"]);
}

/// A JWT anyone could have made: `alg: none` (RFC 7519 §6, an "unsecured JWT"), or no signature at all.
#[test]
fn unsigned_jwts_are_flagged() {
    let mut tracker = TokenTracker::new(vec![]);
    let claims = encode_part(json!({"sub": "guest", "exp": T0 + 600}).to_string().as_bytes());
    let none = format!("{}.{claims}.", encode_part(br#"{"alg":"none","typ":"JWT"}"#));
    let stripped = format!("{}.{claims}.", encode_part(br#"{"alg":"HS256","typ":"JWT"}"#));
    let signed = jwt(json!({"sub": "guest", "exp": T0 + 600}));
    let frame = text_frame(1, Peer::Client, &json!({"a": none, "b": stripped, "c": signed}).to_string());
    let found = tracker.observe(&frame, ts(T0));
    let all: Vec<(String, Vec<String>)> = found.iter().map(|t| (t.source.clone(), flags(t))).collect();
    let expected = [("frame:a", vec!["unsigned"]), ("frame:b", vec!["unsigned"]), ("frame:c", vec![])];
    let expected: Vec<(String, Vec<String>)> =
        expected.iter().map(|(s, f)| (s.to_string(), f.iter().map(|f| f.to_string()).collect())).collect();
    assert_eq!(all, expected);
}

#[test]
fn expiring_soon_and_not_yet_valid_are_flagged() {
    let mut tracker = TokenTracker::new(vec![]);
    let soon = jwt(json!({"exp": T0 + 59}));
    let early = jwt(json!({"exp": T0 + 600, "nbf": T0 + 30}));
    let frame = text_frame(1, Peer::Client, &json!({"a": soon, "b": [early]}).to_string());
    let found = tracker.observe(&frame, ts(T0));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].source, "frame:a");
    assert_eq!(flags(&found[0]), ["expiring-within-60s"]);
    assert_eq!(found[0].details["times"]["exp"]["relative"], "in 59 s");
    assert_eq!(found[1].source, "frame:b[0]");
    assert_eq!(flags(&found[1]), ["not-yet-valid"]);
}

#[test]
fn authorization_cookie_set_cookie_and_subprotocol_are_searched() {
    let bearer = jwt(json!({"exp": T0 + 600, "n": 1}));
    let in_cookie = jwt(json!({"exp": T0 + 600, "n": 2}));
    let in_protocol = jwt(json!({"exp": T0 + 600, "n": 3}));
    let record = open(
        "/ws",
        &[
            ("Authorization", &format!("Bearer {bearer}")),
            ("Cookie", &format!("theme=dark; auth={in_cookie}; JSESSIONID=0123456789abcdef")),
            ("Sec-WebSocket-Protocol", &format!("chat, {in_protocol}")),
        ],
        &[("Set-Cookie", "session_token=s3cr3t-v4lue-123; Path=/; HttpOnly")],
    );
    let found = TokenTracker::new(vec![]).observe(&record, ts(T0));
    let sources: Vec<&str> = found.iter().map(|t| t.source.as_str()).collect();
    assert_eq!(
        sources,
        [
            "header:authorization",
            "cookie:auth",
            "cookie:JSESSIONID",
            "header:sec-websocket-protocol",
            "set-cookie:session_token"
        ]
    );
    assert_eq!(found[0].details["claims"]["n"], 1);
    assert_eq!(found[1].details["claims"]["n"], 2);
    assert_eq!(found[2].details["token_kind"], "opaque");
    assert_eq!(found[3].details["claims"]["n"], 3);
    assert_eq!(found[4].details["token_kind"], "opaque");
    assert_eq!(found[4].details["preview"], "s3cr…"); // 16 characters: a quarter is shown
}

#[test]
fn bearer_opaque_and_basic_are_opaque_credentials() {
    let record = open("/ws", &[("Authorization", "Bearer 8f14e45fceea167a5a36dedd4bea2543")], &[]);
    let found = only(TokenTracker::new(vec![]).observe(&record, ts(T0)));
    assert_eq!(found.details["token_kind"], "opaque");
    assert!(found.details["note"].as_str().unwrap().contains("Bearer token that is not a JWT"));
    assert_eq!(found.details["preview"], "8f14e4…");
    let basic = open("/ws", &[("Proxy-Authorization", "Basic dXNlcjpwYXNz")], &[]);
    let found = only(TokenTracker::new(vec![]).observe(&basic, ts(T0)));
    assert_eq!(found.source, "header:proxy-authorization");
    assert!(found.details["note"].as_str().unwrap().contains("HTTP Basic"));
}

#[test]
fn genesys_frames_session_token_authenticated_code_and_rest_only_jwt() {
    let mut tracker = TokenTracker::new(vec![]);
    let session = "3f9a1c2b-7d4e-4f6a-9b8c-1d2e3f4a5b6c";
    let configure = json!({"action":"configureAuthenticatedSession","deploymentId":"d3e4f5a6-0000-4000-8000-000000000001",
        "token": session, "data": {"code": jwt(json!({"sub":"user","exp": T0 + 900}))}});
    let found = tracker.observe(&text_frame(1, Peer::Client, &configure.to_string()), ts(T0));
    assert_eq!(found.len(), 2, "deploymentId is public, not a credential: {found:#?}");
    assert_eq!(found[0].source, "frame:token");
    assert_eq!(found[0].seq, Some(1));
    assert_eq!(found[0].details["token_kind"], "opaque");
    assert_eq!(
        found[0].details["note"],
        "opaque credential: Genesys session token (a UUID the client generates; anyone holding it can resume the session)"
    );
    assert_eq!(found[1].source, "frame:data.code");
    assert_eq!(found[1].details["token_kind"], "jwt");
    assert_eq!(found[1].details["rest_only"], false);

    // The same token in every later request is not reported again.
    let echo = json!({"action":"echo","token": session,"message":{"type":"Text","text":"ping"}});
    assert!(tracker.observe(&text_frame(2, Peer::Client, &echo.to_string()), ts(T0)).is_empty());

    let jwt_response = json!({"type":"response","class":"JwtResponse","code":200,"body":{"jwt": jwt(json!({"exp": T0 + 60*60})),"exp": T0 + 3600}});
    let found = only(tracker.observe(&text_frame(3, Peer::Server, &jwt_response.to_string()), ts(T0)));
    assert_eq!(found.source, "frame:body.jwt");
    assert_eq!(found.details["rest_only"], true);
    assert!(found.details["note"].as_str().unwrap().contains("REST"));
    let seen = tracker.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen[2].rest_only && !seen[1].rest_only);
    assert_eq!(seen[2].seq, Some(3));
    assert_eq!(seen[0].kind, TokenKind::Opaque);
}

#[test]
fn malformed_tokens_are_reported_with_their_reason() {
    let header = encode_part(br#"{"alg":"HS256"}"#);
    let mut tracker = TokenTracker::new(vec![]);
    let frame = json!({"jwt": format!("{header}.ey$$.sig"), "other": format!("{header}.e30")});
    let found = tracker.observe(&text_frame(1, Peer::Server, &frame.to_string()), ts(T0));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].details["token_kind"], "malformed");
    assert!(found[0].details["reason"].as_str().unwrap().starts_with("bad base64 in part 2"));
    assert_eq!(flags(&found[0]), ["malformed"]);
    assert_eq!(found[1].details["reason"], "2 parts, expected 3");
    assert_eq!(tracker.seen()[0].kind, TokenKind::Malformed);
    let claims_array = format!("{header}.{}.sig", encode_part(b"[1]"));
    let found = only(tracker.observe(&open(&format!("/?jwt={claims_array}"), &[], &[]), ts(T0)));
    assert_eq!(found.details["reason"], "claims are not a JSON object");
}

#[test]
fn require_scope_flags_missing_scopes_in_scope_or_scp() {
    let scopes = vec!["guest:write".to_owned(), "chat".to_owned()];
    let mut tracker = TokenTracker::new(scopes);
    let string_scope = jwt(json!({"exp": T0 + 600, "scope": "chat profile"}));
    let array_scp = jwt(json!({"exp": T0 + 600, "scp": ["guest:write", "chat"]}));
    let none = jwt(json!({"exp": T0 + 600}));
    let frame = json!({"a": string_scope, "b": array_scp, "c": none});
    let found = tracker.observe(&text_frame(1, Peer::Client, &frame.to_string()), ts(T0));
    assert_eq!(flags(&found[0]), ["missing-scope:guest:write"]);
    assert_eq!(flags(&found[1]), Vec::<String>::new());
    assert_eq!(flags(&found[2]), ["missing-scope:guest:write", "missing-scope:chat"]);
}

#[test]
fn ordinary_frames_and_fields_yield_nothing() {
    let mut tracker = TokenTracker::new(vec![]);
    for text in [
        "hello token eyJ",
        r#"{"type":"response","class":"SessionResponse","code":200,"body":{"connected":true}}"#,
        r#"{"action":"onMessage","message":{"type":"Text","text":"my code is short"},"tokenType":"Bearer-ish-long"}"#,
        r#"{"code":"E_FAIL"}"#,
        "{not json token",
    ] {
        assert!(tracker.observe(&text_frame(1, Peer::Client, text), ts(T0)).is_empty(), "{text}");
    }
    assert!(tracker.seen().is_empty());
}

#[test]
fn a_bare_jwt_text_frame_is_found() {
    let token = jwt(json!({"exp": T0 + 600}));
    let found = only(TokenTracker::new(vec![]).observe(&text_frame(1, Peer::Client, &token), ts(T0)));
    assert_eq!(found.source, "frame:text");
    assert_eq!(found.details["token_kind"], "jwt");
}

#[test]
fn token_records_read_back_as_token_records() {
    // The token's own kind lives in `token_kind`: `kind` is the record's tag and must stay "token".
    let token = jwt(json!({"exp": 1, "sub": "guest"}));
    let record = text_frame(
        1,
        Peer::Server,
        &format!(r#"{{"type":"response","class":"JwtResponse","body":{{"jwt":"{token}"}}}}"#),
    );
    let mut tracker = TokenTracker::new(Vec::new());
    let found = only(tracker.observe(&record, record.ts()));
    let line = serde_json::to_string(&Record::from(found)).unwrap();
    let back: Record = serde_json::from_str(&line).unwrap();
    assert_eq!(back.kind(), "token", "{line}");
}
