//! Redaction of records: every class of secret masked, stable placeholders, JSON kept valid, and text no input
//! makes the redactor panic on (`frametap redact`: redact_command.rs; tokens: redact_tokens.rs; fragmented
//! messages: redact_fragments.rs).

mod common;

use common::redact::*;
use frametap::event::{Diagnosis, Opcode, Record};
use frametap::inspect::jwt::decode_unverified;
use frametap::inspect::tokens::TokenTracker;
use frametap::redact::{Redactor, UUID_PLACEHOLDER_PREFIX};
use serde_json::{json, Value};

#[test]
fn handshake_secrets_are_masked_and_names_schemes_and_claims_kept() {
    let bearer = jwt(json!({"sub": "agent", "exp": T0 + 600}));
    let record = open(
        &format!("/v1?deploymentId={DEPLOYMENT}&access_token=opaque-access-123&jwt={bearer}"),
        &[
            ("Host", "127.0.0.1"),
            ("Authorization", &format!("Bearer {bearer}")),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNzd29yZA=="),
            ("Cookie", "theme=dark; sid=cookie-secret-42"),
            ("X-Api-Key", "key-abcdef123456"),
            ("Sec-WebSocket-Protocol", "access_token, proto-secret-777"),
        ],
        &[("Set-Cookie", "refresh_token=set-cookie-secret-9; Path=/; HttpOnly")],
    );
    let out = Redactor::new().redact(record);
    let text = line(&out);
    for secret in [
        "opaque-access-123",
        signature(&bearer),
        "dXNlcjpwYXNzd29yZA==",
        "cookie-secret-42",
        "dark",
        "key-abcdef123456",
        "proto-secret-777",
        "set-cookie-secret-9",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let Record::Open(open) = out else { unreachable!() };
    let header = |name: &str| frametap::event::header(&open.request.headers, name).unwrap().to_owned();
    assert!(
        open.request.path.contains(&format!("deploymentId={DEPLOYMENT}")),
        "public ids stay: {}",
        open.request.path
    );
    assert!(open.request.path.contains("access_token=redacted-"), "{}", open.request.path);
    assert_eq!(header("Host"), "127.0.0.1");
    let auth = header("Authorization");
    assert!(auth.starts_with("Bearer eyJ"), "{auth}");
    let decoded = decode_unverified(auth.strip_prefix("Bearer ").unwrap()).unwrap();
    assert_eq!(decoded.claims["sub"], "agent", "claims stay readable");
    assert!(header("Proxy-Authorization").starts_with("Basic redacted-"));
    assert!(header("Cookie").starts_with("theme=redacted-"), "{}", header("Cookie"));
    assert!(header("Cookie").contains("; sid=redacted-"));
    assert!(header("Sec-WebSocket-Protocol").starts_with("access_token, redacted-"));
    let set_cookie = frametap::event::header(&open.response.unwrap().headers, "set-cookie").unwrap().to_owned();
    assert!(
        set_cookie.starts_with("refresh_token=redacted-") && set_cookie.ends_with("; Path=/; HttpOnly"),
        "{set_cookie}"
    );
}

#[test]
fn json_frames_keep_structure_and_other_fields_and_get_stable_placeholders() {
    let code = jwt(json!({"sub": "user", "exp": T0 + 900}));
    let configure = format!(
        r#"{{"action": "configureAuthenticatedSession", "deploymentId": "{DEPLOYMENT}", "token": "{SESSION}", "data": {{"code": "{code}"}}, "n": 1.50}}"#
    );
    let extra = json!({"action":"onMessage","token": SESSION,"message":{"type":"Text","text":format!("my token is {SESSION}")},
        "refreshToken":"refresh-secret-1","resumeToken":"resume-secret-2","Password":"hunter2","secret":"s3cr3t-value",
        "id_token":"idtok-secret-3","access_token":"acc-secret-4","JWT":"plain-jwt-field"});
    let mut redactor = Redactor::new();
    let first = frame_text(&redactor.redact(text(1, &configure)));
    let second = frame_text(&redactor.redact(text(2, &extra.to_string())));

    assert!(!first.contains(SESSION) && !second.contains(SESSION), "{first}\n{second}");
    assert!(!first.contains(signature(&code)));
    // Untouched parts keep their exact text (spacing, number format); key order stays.
    assert!(first.starts_with(r#"{"action": "configureAuthenticatedSession", "deploymentId": ""#), "{first}");
    assert!(first.ends_with(r#""n": 1.50}"#), "{first}");
    let a: Value = serde_json::from_str(&first).unwrap();
    let b: Value = serde_json::from_str(&second).unwrap();
    let placeholder = a["token"].as_str().unwrap();
    assert!(
        placeholder.starts_with(UUID_PLACEHOLDER_PREFIX) && placeholder.len() == 36,
        "a valid-looking UUID: {placeholder}"
    );
    assert!(uuid::Uuid::parse_str(placeholder).is_ok());
    assert_eq!(b["token"], placeholder, "same secret, same placeholder");
    assert_eq!(b["message"]["text"], format!("my token is {placeholder}"), "mentions elsewhere follow");
    assert_eq!(decode_unverified(a["data"]["code"].as_str().unwrap()).unwrap().claims["sub"], "user");
    for field in ["refreshToken", "resumeToken", "Password", "secret", "id_token", "access_token", "JWT"] {
        assert!(b[field].as_str().unwrap().starts_with("redacted-"), "{field}: {b}");
    }
    let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    let original: Vec<&String> = extra.as_object().unwrap().keys().collect();
    assert_eq!(keys, original, "key order kept");
    assert_eq!(b["message"]["type"], "Text");
    assert_eq!(b["action"], "onMessage");
}

#[test]
fn same_secret_gets_same_placeholder_across_records_and_redaction_is_idempotent() {
    let mut redactor = Redactor::new();
    let open = redactor.redact(open(&format!("/v1?token={SESSION}"), &[], &[]));
    let frame = redactor.redact(text(1, &json!({"action":"echo","token": SESSION}).to_string()));
    let Record::Open(o) = &open else { unreachable!() };
    let placeholder = o.request.path.split("token=").nth(1).unwrap().to_owned();
    let body: Value = serde_json::from_str(&frame_text(&frame)).unwrap();
    assert_eq!(body["token"], placeholder.as_str());
    // A later frame with no secret-looking field still has the known secret masked; others stay byte for byte.
    let mention =
        redactor.redact(text(2, &format!(r#"{{"type":"message","code":200,"body":"resume with {SESSION}"}}"#)));
    assert_eq!(frame_text(&mention), format!(r#"{{"type":"message","code":200,"body":"resume with {placeholder}"}}"#));
    let plain = text(3, r#"{"type":"response","class":"SessionResponse","code":200,"body":{"connected":true}}"#);
    assert_eq!(redactor.redact(plain.clone()), plain);
    // A second run uses another key (placeholders cannot be linked across runs) but re-redacting changes nothing.
    let again = Redactor::new().redact(frame.clone());
    assert_eq!(again, frame);
    let mut other = Redactor::new();
    let other_frame = other.redact(text(1, &json!({"action":"echo","token": SESSION}).to_string()));
    let other_body: Value = serde_json::from_str(&frame_text(&other_frame)).unwrap();
    assert_ne!(other_body["token"], placeholder.as_str());
    // With a fixed key, runs agree.
    let keyed = |r: Record| Redactor::with_key(b"k").redact(r);
    assert_eq!(
        keyed(text(1, &format!(r#"{{"token":"{SESSION}"}}"#))),
        keyed(text(1, &format!(r#"{{"token":"{SESSION}"}}"#)))
    );
}

#[test]
fn a_second_connection_with_the_same_token_gets_the_same_placeholder() {
    let mut redactor = Redactor::new();
    let on = |conn: u64, body: &str| {
        let Record::Frame(mut f) = text(1, body) else { unreachable!() };
        f.conn = conn;
        Record::Frame(f)
    };
    let first = frame_text(&redactor.redact(on(1, &json!({"action":"configureSession","token": SESSION}).to_string())));
    let second =
        frame_text(&redactor.redact(on(2, &json!({"action":"configureSession","token": SESSION}).to_string())));
    assert_eq!(first, second);
    let mention = frame_text(&redactor.redact(on(2, &format!(r#"{{"text":"{SESSION}"}}"#))));
    assert!(!mention.contains(SESSION), "{mention}");
    assert!(!redactor.redact_str(&format!("log line {SESSION}")).contains(SESSION));
}

#[test]
fn meta_says_redacted_and_its_urls_are_masked() {
    let out = Redactor::new().redact(meta(&["frametap", "proxy", &format!("wss://example.test/v1?token={SESSION}")]));
    let Record::Meta(m) = out else { unreachable!() };
    assert!(m.redacted);
    assert!(!line(&Record::Meta(m.clone())).contains(SESSION));
    assert!(m.upstream.unwrap().contains(&format!("deploymentId={DEPLOYMENT}&token={UUID_PLACEHOLDER_PREFIX}")));
    assert_eq!(m.command[..2], ["frametap", "proxy"]);
    let args = ["--set-header", "Authorization: Bearer hdr-secret-123", "--set-header=X-Api-Key: key-secret-456"];
    let upstream = "--upstream=wss://bob:pa55w0rd-x@example.test/v1?access_token=qs-secret-789";
    let out = Redactor::new().redact(meta(&[args[0], args[1], args[2], upstream]));
    let Record::Meta(m) = out else { unreachable!() };
    let text = m.command.join(" ");
    for secret in ["hdr-secret-123", "key-secret-456", "pa55w0rd-x", "qs-secret-789"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(m.command[1], format!("Authorization: Bearer {}", m.command[1].rsplit(' ').next().unwrap()));
    assert!(m.command[3].starts_with("--upstream=wss://bob:redacted-"), "{}", m.command[3]);
    assert!(m.command[3].contains("@example.test/v1?access_token=redacted-"), "{}", m.command[3]);
}

/// `replay send --redact --set token=NEW` wrote the new session token (and any `--set password=…`) whole into the
/// redacted capture's `meta.command`, before any frame had made it a known secret. A `NAME=VALUE` argument whose
/// NAME is a secret field is masked as that field is in a frame, with the same placeholder.
#[test]
fn set_arguments_naming_secret_fields_are_masked_in_meta_command() {
    let new_token = "7b2e4c1a-9f3d-4e5b-8a6c-0d1e2f3a4b5c";
    let mut redactor = Redactor::new();
    let token_arg = format!("token={new_token}");
    let out = redactor.redact(meta(&[
        "frametap",
        "replay",
        "send",
        "c.jsonl",
        "--set",
        &token_arg,
        "--set=password=pw-secret-321",
        "--set",
        "text=hello there",
    ]));
    let Record::Meta(m) = out else { unreachable!() };
    let joined = m.command.join(" ");
    assert!(!joined.contains(new_token) && !joined.contains("pw-secret-321"), "leaked: {joined}");
    assert!(m.command[5].starts_with(&format!("token={UUID_PLACEHOLDER_PREFIX}")), "{}", m.command[5]);
    assert!(m.command[6].starts_with("--set=password=redacted-"), "{}", m.command[6]);
    assert_eq!(m.command[8], "text=hello there", "a field that is no secret stays");
    // The frame that carries the token gets the very same placeholder.
    let sent = frame_text(&redactor.redact(text(1, &format!(r#"{{"action":"echo","token":"{new_token}"}}"#))));
    assert!(sent.contains(&m.command[5]["token=".len()..]), "{sent} vs {}", m.command[5]);
}

#[test]
fn plain_text_fragments_close_reasons_and_analysis_records_are_masked() {
    let token = jwt(json!({"exp": T0}));
    let mut redactor = Redactor::new();
    // A JSON message cut into fragments: the first fragment is not valid JSON on its own.
    let fragment = format!(r#"{{"action":"configureSession","token":"{SESSION}","deploymentId":"#);
    let out = frame_text(&redactor.redact(text(1, &fragment)));
    assert!(!out.contains(SESSION) && out.contains(r#""token":"00000000-"#), "{out}");
    let plain = format!("AUTH {token}. done");
    let out = frame_text(&redactor.redact(text(2, &plain)));
    assert!(!out.contains(signature(&token)) && out.ends_with(". done"), "{out}");
    let mut close = b"\x0f\xa0bad token ".to_vec();
    close.extend_from_slice(SESSION.as_bytes());
    let Record::Frame(closed) = redactor.redact(Record::Frame(frame(3, Opcode::Close, &close))) else { unreachable!() };
    let (code, reason) = closed.close_parts();
    assert_eq!(code, Some(4000));
    assert!(reason.unwrap().starts_with("bad token 00000000-"));
    assert_eq!(closed.len, closed.payload.len() as u64);
    let binary = Record::Frame(frame(4, Opcode::Binary, SESSION.as_bytes()));
    assert_eq!(redactor.redact(binary.clone()), binary, "binary payloads are left as they are");
    let diagnosis = Record::Diagnosis(Diagnosis {
        conn: 1,
        ts: ts(T0),
        details: json!({"preceding": {"preview": format!(r#"{{"action":"echo","token":"{}"#, &SESSION[..20])}})
            .as_object()
            .unwrap()
            .clone(),
    });
    let text = line(&redactor.redact(diagnosis));
    assert!(!text.contains(&SESSION[..20]), "a cut-off preview is masked too: {text}");
}

#[test]
fn tokens_in_a_redacted_capture_read_the_same() {
    let token = jwt(json!({"exp": T0 + 30, "scope": "chat"}));
    let record =
        text(1, &json!({"type":"response","class":"JwtResponse","code":200,"body":{"jwt": token}}).to_string());
    let redacted = Redactor::new().redact(record.clone());
    let before = TokenTracker::new(vec!["guest:write".into()]).observe(&record, record.ts());
    let after = TokenTracker::new(vec!["guest:write".into()]).observe(&redacted, redacted.ts());
    for key in ["claims", "times", "flags", "rest_only", "fingerprint"] {
        assert_eq!(before[0].details[key], after[0].details[key], "{key}");
    }
    assert_eq!(after[0].details["signature_redacted"], true);
}

#[test]
fn the_pipeline_hook_redacts_like_the_redactor() {
    use frametap::pipeline::Redaction;
    let mut hook: Box<dyn Redaction> = Box::new(Redactor::with_key(b"same"));
    let record = text(1, &json!({"action":"echo","token": SESSION}).to_string());
    assert_eq!(hook.redact(record.clone()), Redactor::with_key(b"same").redact(record));
}

#[test]
fn arbitrary_text_never_panics_the_redactor_or_the_token_finder() {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let pieces = [
        "\"",
        "\\",
        ":",
        " ",
        "{",
        "}",
        "[",
        "]",
        ",",
        ".",
        "eyJ",
        "eyJhbGciOiJIUzI1NiJ9",
        "token",
        "\"token\":",
        "code",
        "é",
        "€",
        "=",
        "&",
        "?",
        ";",
        "%",
        "%4",
        "%zz",
        "@",
        "://",
        "Bearer ",
        SESSION,
        "redacted-",
        "00000000-",
    ];
    let mut rng = StdRng::seed_from_u64(7);
    let mut redactor = Redactor::new();
    let mut tracker = TokenTracker::new(vec!["s".into()]);
    for seq in 0..3000 {
        let n = rng.gen_range(0..40);
        let body: String = (0..n).map(|_| pieces[rng.gen_range(0..pieces.len())]).collect();
        if seq % 100 == 0 {
            // A fresh run now and then: a real run holds a few secrets per connection, not thousands.
            (redactor, tracker) = (Redactor::new(), TokenTracker::new(vec!["s".into()]));
        }
        let framed = if seq % 2 == 0 { format!("{{\"token\":\"{body}\"}}") } else { body.clone() };
        for record in [
            text(seq, &framed),
            open(&format!("/p?{body}"), &[("Authorization", &body), ("Cookie", &body), ("Set-Cookie", &body)], &[]),
            meta(&[&body, &format!("--x={body}"), &format!("wss://{body}")]),
        ] {
            tracker.observe(&record, ts(T0));
            let out = redactor.redact(record);
            if let Record::Frame(f) = &out {
                assert_eq!(f.len, f.payload.len() as u64);
                if seq % 2 == 0 && serde_json::from_str::<Value>(&framed).is_ok() {
                    assert!(serde_json::from_slice::<Value>(&f.payload).is_ok(), "valid JSON stays valid: {framed}");
                }
            }
        }
    }
}
