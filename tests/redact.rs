//! Redaction: every class of secret masked, stable placeholders, JSON kept valid, and `frametap redact` end to end.

mod common;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use frametap::capture::{read_capture, CaptureWriter};
use frametap::event::{
    Diagnosis, Frame, HttpRequest, HttpResponse, Meta, Opcode, Open, Peer, Record, Ts, FORMAT_NAME, FORMAT_VERSION,
};
use frametap::inspect::jwt::{decode_unverified, encode_part};
use frametap::inspect::tokens::TokenTracker;
use frametap::redact::{run_redact, RedactCommand, Redactor, UUID_PLACEHOLDER_PREFIX};
use serde_json::{json, Value};

const T0: i64 = 1_767_323_045;
const SESSION: &str = "3f9a1c2b-7d4e-4f6a-9b8c-1d2e3f4a5b6c";
const DEPLOYMENT: &str = "d3e4f5a6-0000-4000-8000-000000000001";

fn ts(epoch: i64) -> Ts {
    Ts(DateTime::<Utc>::from_timestamp(epoch, 0).unwrap())
}

fn jwt(claims: Value) -> String {
    let header = encode_part(br#"{"alg":"HS256","typ":"JWT"}"#);
    format!("{header}.{}.{}", encode_part(claims.to_string().as_bytes()), encode_part(b"super-secret-signature-bytes"))
}

fn signature(token: &str) -> &str {
    token.rsplit('.').next().unwrap()
}

fn pairs(h: &[(&str, &str)]) -> Vec<(String, String)> {
    h.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

fn meta(command: &[&str]) -> Record {
    Record::from(Meta {
        ts: ts(T0),
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        frametap: "0.1.0".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        mode: "proxy".into(),
        upstream: Some(format!("wss://example.test/v1?deploymentId={DEPLOYMENT}&token={SESSION}")),
        redacted: false,
        insecure_upstream: false,
    })
}

fn open(path: &str, headers: &[(&str, &str)], response_headers: &[(&str, &str)]) -> Record {
    Record::from(Open {
        conn: 1,
        ts: ts(T0),
        client_addr: Some("127.0.0.1:50000".into()),
        request: HttpRequest { method: "GET".into(), path: path.into(), headers: pairs(headers) },
        upstream: None,
        upstream_request: None,
        response: Some(HttpResponse { status: 101, headers: pairs(response_headers), body: None, body_base64: None }),
        error: None,
        handshake_ms: Some(10.0),
        upstream_tcp_rtt_ms: None,
        failed_ms: None,
        upgraded_ms: None,
    })
}

fn frame(seq: u64, opcode: Opcode, payload: &[u8]) -> Frame {
    Frame::whole(1, ts(T0 + seq as i64), seq, Peer::Client, opcode, Bytes::copy_from_slice(payload))
}

fn text(seq: u64, body: &str) -> Record {
    Record::Frame(frame(seq, Opcode::Text, body.as_bytes()))
}

fn frame_text(record: &Record) -> String {
    match record {
        Record::Frame(f) => {
            assert_eq!(f.len, f.payload.len() as u64, "len follows the payload");
            f.text().unwrap().to_owned()
        }
        other => panic!("not a frame: {other:?}"),
    }
}

fn line(record: &Record) -> String {
    serde_json::to_string(record).unwrap()
}

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

fn write_capture(path: &std::path::Path, with_end: bool) {
    let mut writer = CaptureWriter::create(path).unwrap();
    let token = jwt(json!({"exp": T0 + 60}));
    for record in [
        meta(&["frametap", "proxy"]),
        open(&format!("/v1?deploymentId={DEPLOYMENT}"), &[("Authorization", &format!("Bearer {token}"))], &[]),
        text(1, &json!({"action":"configureSession","deploymentId":DEPLOYMENT,"token":SESSION}).to_string()),
        text(2, r#"{"type":"response","class":"SessionResponse","code":200,"body":{"connected":true}}"#),
    ] {
        assert!(writer.write(&record));
    }
    if with_end {
        writer.finish(0, vec![]);
    } else {
        writer.flush();
    }
}

#[test]
fn redact_command_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    write_capture(&input, true);
    run_redact(RedactCommand { input: input.clone(), output: output.clone() }).unwrap();

    let original = read_capture(&input).unwrap();
    let copy = read_capture(&output).unwrap();
    assert_eq!(copy.records.len(), original.records.len(), "every record kept, end included");
    assert!(copy.has_end && copy.problems.is_empty());
    assert!(copy.meta().unwrap().redacted);
    let Some(Record::End(end)) = copy.records.last() else { panic!("no end record") };
    assert!(end.complete && end.frames == 2 && end.connections == 1, "{end:?}");
    let raw = std::fs::read_to_string(&output).unwrap();
    assert!(!raw.contains(SESSION), "{raw}");
    assert!(raw.contains(DEPLOYMENT));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&output).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Never overwrites.
    let err = run_redact(RedactCommand { input: input.clone(), output: output.clone() }).unwrap_err();
    assert!(format!("{err:#}").contains("already exists"), "{err:#}");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), raw);
}

#[test]
fn redact_command_keeps_going_past_corrupt_and_cut_off_lines_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    write_capture(&input, false);
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.insert_str(text.find('\n').unwrap() + 1, "this is not a record\n");
    text.push_str(r#"{"kind":"frame","conn":1,"#);
    std::fs::write(&input, text).unwrap();
    run_redact(RedactCommand { input, output: output.clone() }).unwrap();
    let copy = read_capture(&output).unwrap();
    assert_eq!(copy.records.len(), 5, "4 good records + a new end");
    let Some(Record::End(end)) = copy.records.last() else { panic!("no end record") };
    assert!(!end.complete);
    let errors = end.errors.join("\n");
    assert!(errors.contains("line 2: corrupt record"), "{errors}");
    assert!(errors.contains("line 6: cut off"), "{errors}");
    assert!(errors.contains("no end record"), "{errors}");
}

#[test]
fn redact_command_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let err = run_redact(RedactCommand { input: missing, output: dir.path().join("o.jsonl") }).unwrap_err();
    assert!(format!("{err:#}").contains("could not read the capture"), "{err:#}");
    assert!(!dir.path().join("o.jsonl").exists());
}

/// A Chrome HAR is redacted into a capture (its session token gone); a HAR name for OUT points at
/// `convert --redact`, which writes HARs.
#[test]
fn redact_takes_a_har_and_points_at_convert_for_a_har_copy() {
    let dir = tempfile::tempdir().unwrap();
    let har = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har/chrome-genesys.har");
    let secret = "a3c1d1e2-77b4-4c0b-bb0c-91f5a4e0d2c7";
    assert!(std::fs::read_to_string(&har).unwrap().contains(secret));
    let output = dir.path().join("redacted.jsonl");
    run_redact(RedactCommand { input: har.clone(), output: output.clone() }).unwrap();
    let copy = std::fs::read_to_string(&output).unwrap();
    assert!(!copy.contains(secret), "{copy}");
    let frames = read_capture(&output).unwrap().records.iter().filter(|r| matches!(r, Record::Frame(_))).count();
    assert!(frames > 0, "the HAR's messages are in the copy");

    let as_har = dir.path().join("redacted.har");
    let err = run_redact(RedactCommand { input: har, output: as_har.clone() }).unwrap_err().to_string();
    assert!(err.contains("frametap convert --redact"), "{err}");
    assert!(!as_har.exists());
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

/// `proxy --redact` runs the Redactor as the pipeline's redaction stage: what reaches the capture is masked.
#[tokio::test]
async fn the_pipeline_writes_a_redacted_capture() {
    use frametap::pipeline::{self, LagPolicy, PipelineOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    let Record::Meta(meta) = meta(&["frametap", "proxy", "--redact"]) else { unreachable!() };
    let (sink, running) = pipeline::start(PipelineOptions {
        meta: *meta,
        capture: Some(CaptureWriter::create(&path).unwrap()),
        log: None,
        analysis: None,
        redaction: Some(Box::new(Redactor::new())),
        publishers: vec![],
        on_lag: LagPolicy::Block,
        buffer: 16,
    });
    let bearer = jwt(json!({"exp": T0 + 60}));
    sink.emit(open(&format!("/v1?token={SESSION}"), &[("Authorization", &format!("Bearer {bearer}"))], &[])).await;
    sink.emit(text(1, &json!({"action":"configureSession","deploymentId":DEPLOYMENT,"token":SESSION}).to_string()))
        .await;
    let summary = running.finish().await;
    assert!(summary.end.complete);
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains(SESSION) && !raw.contains(signature(&bearer)), "{raw}");
    let capture = read_capture(&path).unwrap();
    assert!(capture.meta().unwrap().redacted);
    assert_eq!(capture.records.len(), 4, "meta, open, frame, end");
}

/// The `frametap redact` binary: skipped lines are named on stderr, a missing input fails with a clear message.
#[test]
fn the_redact_subcommand_reports_on_stderr_and_exits_non_zero_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    write_capture(&input, true);
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.insert_str(text.find('\n').unwrap() + 1, "garbage\n");
    std::fs::write(&input, text).unwrap();
    let run = |args: &[&std::path::Path]| {
        crate::common::binary::frametap_command().arg("redact").args(args).output().unwrap()
    };
    let done = run(&[&input, &output]);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    assert!(stderr.contains("line 2: corrupt record (skipped)"), "{stderr}");
    assert!(stderr.contains("marked incomplete"), "{stderr}");
    assert!(!std::fs::read_to_string(&output).unwrap().contains(SESSION));

    let again = run(&[&input, &output]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let missing = run(&[&dir.path().join("nope.jsonl"), &dir.path().join("x.jsonl")]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("could not read the capture"));
}

/// 12 hex digits of SHA-256, as a `token` record's fingerprint of an unredacted value.
fn plain_fingerprint(value: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(value.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Records a session through the pipeline with the live analysis (so it has `token` records), redacted or not.
async fn analysed_capture(path: &std::path::Path, redaction: Option<Redactor>, bearer_jwt: &str) {
    use frametap::inspect::{AnalysisOptions, Analyzer};
    use frametap::pipeline::{self, LagPolicy, PipelineOptions};
    let Record::Meta(meta) = meta(&["frametap", "proxy"]) else { unreachable!() };
    let (sink, running) = pipeline::start(PipelineOptions {
        meta: *meta,
        capture: Some(CaptureWriter::create(path).unwrap()),
        log: None,
        analysis: Some(Analyzer::factory(AnalysisOptions::default())),
        redaction: redaction.map(|r| Box::new(r) as Box<dyn frametap::pipeline::Redaction>),
        publishers: vec![],
        on_lag: LagPolicy::Block,
        buffer: 16,
    });
    sink.emit(open(&format!("/v1?deploymentId={DEPLOYMENT}"), &[("Authorization", "Bearer opaque-bearer-1234")], &[]))
        .await;
    sink.emit(text(1, &json!({"action":"configureSession","deploymentId":DEPLOYMENT,"token":SESSION}).to_string()))
        .await;
    sink.emit(text(2, &json!({"action":"login","password":"hunter2secret","jwt":bearer_jwt}).to_string())).await;
    assert!(running.finish().await.end.complete);
}

/// A configure request whose `token` is not a UUID gets a `genesys-token-not-uuid` finding that gives the token's
/// length. Under `--redact` the annotation record carried the original token's length (diagnoses are derived
/// afresh from the redacted frames; annotations were only scanned): now it is derived afresh too, and gives the
/// length of what the copy holds, as `inspect` on the copy does.
#[tokio::test]
async fn a_redacted_annotation_gives_no_length_of_the_secret_token() {
    use frametap::inspect::{AnalysisOptions, Analyzer};
    use frametap::pipeline::{self, LagPolicy, PipelineOptions};
    const SECRET: &str = "session-secret-that-is-not-a-uuid-0123456789";
    let secret_length = format!("{} characters", SECRET.chars().count());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redacted.jsonl");
    let Record::Meta(meta) = meta(&["frametap", "proxy", "--redact"]) else { unreachable!() };
    let (sink, running) = pipeline::start(PipelineOptions {
        meta: *meta,
        capture: Some(CaptureWriter::create(&path).unwrap()),
        log: None,
        analysis: Some(Analyzer::factory(AnalysisOptions::default())),
        redaction: Some(Box::new(Redactor::new())),
        publishers: vec![],
        on_lag: LagPolicy::Block,
        buffer: 16,
    });
    sink.emit(open(&format!("/v1?deploymentId={DEPLOYMENT}"), &[], &[])).await;
    let configure = json!({"action":"configureSession","deploymentId":DEPLOYMENT,"token":SECRET}).to_string();
    sink.emit(text(1, &configure)).await;
    assert!(running.finish().await.end.complete);

    let written = std::fs::read_to_string(&path).unwrap();
    assert!(!written.contains(SECRET) && !written.contains(&secret_length), "{written}");
    let records = read_capture(&path).unwrap().records;
    let annotation = records
        .iter()
        .find_map(|r| match r {
            Record::Annotation(a) if a.seq == 1 => Some(a.clone()),
            _ => None,
        })
        .expect("the configure request is annotated");
    let finding = annotation.details["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "genesys-token-not-uuid")
        .unwrap_or_else(|| panic!("{annotation:?}"))
        .clone();
    // The length the copy gives is the placeholder's: what `inspect` derives from the copy.
    let placeholder = frame_text(records.iter().find(|r| matches!(r, Record::Frame(f) if f.seq == 1)).unwrap());
    let placeholder: Value = serde_json::from_str(&placeholder).unwrap();
    let placeholder = placeholder["token"].as_str().unwrap();
    let message = finding["message"].as_str().unwrap();
    assert!(message.contains(&format!("({} characters)", placeholder.chars().count())), "{message}");
    let mut analyzer = Analyzer::new(AnalysisOptions::default());
    let reanalysed: Vec<Record> = records.iter().flat_map(|r| analyzer.observe(r, r.ts())).collect();
    let fresh = reanalysed.iter().find_map(|r| match r {
        Record::Annotation(a) if a.seq == 1 => Some(a),
        _ => None,
    });
    assert_eq!(fresh.map(|a| &a.details), Some(&annotation.details), "inspect on the copy reads the same");
}

/// The `token` records of a capture, by source.
fn tokens_by_source(records: &[Record]) -> std::collections::BTreeMap<String, serde_json::Map<String, Value>> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Token(t) => Some((t.source.clone(), t.details.clone())),
            _ => None,
        })
        .collect()
}

/// A secret's fingerprint in a redacted capture is the fingerprint of its placeholder (what `inspect` computes on
/// the copy), never a plain hash of the secret; `token_kind` is frametap's own field, not a secret; and a second
/// redaction changes nothing. Checked for `frametap redact` and for `proxy --redact` (the pipeline stage).
#[tokio::test]
async fn redacted_token_records_keep_their_kind_and_no_plain_hash_of_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let bearer_jwt = jwt(json!({"exp": T0 + 60, "sub": "bob"}));
    let (plain, copied, live) =
        (dir.path().join("plain.jsonl"), dir.path().join("copy.jsonl"), dir.path().join("live.jsonl"));
    analysed_capture(&plain, None, &bearer_jwt).await;
    analysed_capture(&live, Some(Redactor::new()), &bearer_jwt).await;
    run_redact(RedactCommand { input: plain.clone(), output: copied.clone() }).unwrap();
    let original = tokens_by_source(&read_capture(&plain).unwrap().records);
    let secrets = ["opaque-bearer-1234", SESSION, "hunter2secret"];
    let plain_hashes: Vec<String> = secrets.iter().map(|s| plain_fingerprint(s)).collect();
    assert!(plain_hashes.iter().all(|h| original.values().any(|t| t["fingerprint"] == h.as_str())), "{original:?}");
    for path in [&copied, &live] {
        let capture = read_capture(path).unwrap();
        let tokens = tokens_by_source(&capture.records);
        assert_eq!(tokens.len(), 4, "{tokens:?}");
        // What `inspect` finds in the redacted copy: the placeholders, and their fingerprints.
        let mut tracker = TokenTracker::new(vec![]);
        let reanalysed: Vec<_> = capture.records.iter().flat_map(|r| tracker.observe(r, r.ts())).collect();
        for (source, details) in &tokens {
            let kind = details["token_kind"].as_str().unwrap();
            assert_eq!(kind, original[source]["token_kind"], "{source} in {}", path.display());
            let fingerprint = details["fingerprint"].as_str().unwrap();
            assert!(!plain_hashes.iter().any(|h| h == fingerprint), "{source}: {fingerprint} is a plain hash");
            let again = reanalysed.iter().find(|t| &t.source == source).unwrap();
            assert_eq!(again.details["fingerprint"], fingerprint, "{source} in {}", path.display());
            if kind == "jwt" {
                assert_eq!(original[source]["fingerprint"], fingerprint, "a JWT's fingerprint hashes its claims");
            }
        }
    }
    // Redacting the copy again changes none of its records (the end record is written afresh).
    let twice = dir.path().join("twice.jsonl");
    run_redact(RedactCommand { input: copied.clone(), output: twice.clone() }).unwrap();
    let not_end = |path: &std::path::Path| -> Vec<Record> {
        read_capture(path).unwrap().records.into_iter().filter(|r| !matches!(r, Record::End(_))).collect()
    };
    assert_eq!(not_end(&twice), not_end(&copied));
}

/// Values the token finder takes for JWTs but that do not decode (`malformed`: an encrypted 5-part JWE, a header
/// whose claims are not JSON), where no credential name points at them.
const JWE: &str = "eyJ0eXAiOiJKV1Qi.e30.x.y.z";
const BAD_CLAIMS: &str = "eyJhbGciOiJIUzI1NiJ9.notjson";
const IN_QUERY: &str = "eyJhbGciOiJIUzI1NiJ9.cXVlcnktc2VjcmV0.sig.more";
const IN_JSON: &str = "eyJhbGciOiJIUzI1NiJ9.anNvbi1zZWNyZXQ";

/// A session through a real proxy (real WebSocket client, real echo server) carrying malformed tokens in a bare
/// text frame, an ordinary header, a query parameter and an ordinary JSON field, with the live analysis writing
/// `token` records; redacted live (`--redact`) when `redaction` is given.
async fn malformed_token_session(redaction: Option<Redactor>) -> (Vec<Record>, tempfile::TempDir) {
    use frametap::inspect::{AnalysisOptions, Analyzer};
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let upstream = common::start_echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    let mut options = common::capture_only(CaptureWriter::create(&path).unwrap());
    options.analysis = Some(Analyzer::factory(AnalysisOptions::default()));
    options.redaction = redaction.map(|r| Box::new(r) as Box<dyn frametap::pipeline::Redaction>);
    let (addr, stop, task) = common::serve_in_process(options, common::test_config(&format!("ws://{upstream}"))).await;
    let mut request = format!("ws://{addr}/v1?state={IN_QUERY}").into_client_request().unwrap();
    request.headers_mut().insert("x-other", BAD_CLAIMS.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for body in [JWE.to_owned(), json!({"type": "note", "data": IN_JSON}).to_string()] {
        ws.send(Message::text(body.clone())).await.unwrap();
        let echoed = ws.next().await.unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), body);
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    stop.send(()).unwrap();
    assert!(task.await.unwrap().end.complete);
    (read_capture(&path).unwrap().records, dir)
}

/// What the token finder (`frametap inspect`) reports on these records, by source.
fn reanalysed(records: &[Record]) -> std::collections::BTreeMap<String, serde_json::Map<String, Value>> {
    let mut tracker = TokenTracker::new(vec![]);
    records.iter().flat_map(|r| tracker.observe(r, r.ts())).map(|t| (t.source, t.details)).collect()
}

/// Everything the token finder reports as a JWT (`jwt` or `malformed`) is masked by redaction, wherever it travels
/// (a bare text frame, any header, the query, any JSON field): `frametap redact` and `proxy --redact` alike. The
/// redacted copy still reports each as `malformed`, under the placeholder's fingerprint (the one its `token` record
/// now carries), never the secret's; a JOSE header stays readable; a second redaction changes nothing.
#[tokio::test]
async fn malformed_and_encrypted_tokens_are_masked_wherever_the_finder_reports_them() {
    let (original, dir) = malformed_token_session(None).await;
    let found = reanalysed(&original);
    let malformed = ["frame:text", "header:x-other", "query:state", "frame:data"];
    for source in malformed {
        assert_eq!(found[source]["token_kind"], "malformed", "{source}: {found:?}");
    }
    let input = dir.path().join("in.jsonl");
    let copied = dir.path().join("copy.jsonl");
    run_redact(RedactCommand { input: input.clone(), output: copied.clone() }).unwrap();
    let (live, _live_dir) = malformed_token_session(Some(Redactor::new())).await;
    for (how, records) in [("frametap redact", read_capture(&copied).unwrap().records), ("--redact", live)] {
        let text: String = records.iter().map(line).collect::<Vec<_>>().join("\n");
        for secret in [JWE, BAD_CLAIMS, "e30.x.y.z", "notjson", "cXVlcnktc2VjcmV0", "anNvbi1zZWNyZXQ"] {
            assert!(!text.contains(secret), "{how}: {secret} survived: {text}");
        }
        assert!(text.contains("eyJhbGciOiJIUzI1NiJ9.redacted-"), "{how}: a JOSE header stays readable: {text}");
        let recorded = tokens_by_source(&records);
        let again = reanalysed(&records);
        for source in malformed {
            let fingerprint = &again[source]["fingerprint"];
            assert_eq!(again[source]["token_kind"], "malformed", "{how}: {source}");
            assert_eq!(again[source]["placeholder"], true, "{how}: {source}");
            assert_ne!(fingerprint, &found[source]["fingerprint"], "{how}: {source} keeps the secret's fingerprint");
            assert_eq!(&recorded[source]["fingerprint"], fingerprint, "{how}: {source}'s token record");
        }
    }
    let twice = dir.path().join("twice.jsonl");
    run_redact(RedactCommand { input: copied.clone(), output: twice.clone() }).unwrap();
    let not_end = |path: &std::path::Path| -> Vec<Record> {
        read_capture(path).unwrap().records.into_iter().filter(|r| !matches!(r, Record::End(_))).collect()
    };
    assert_eq!(not_end(&twice), not_end(&copied), "placeholders map to themselves");
}

/// The same rule in free text and in the other handshake places: a JWE quoted in a sentence, in a close reason,
/// in a `Sec-WebSocket-Protocol` item; a signed JWT followed by `.more` loses only its signature.
#[test]
fn malformed_tokens_in_free_text_protocols_and_close_reasons_are_masked() {
    let token = jwt(json!({"exp": T0}));
    let mut redactor = Redactor::new();
    let out = frame_text(&redactor.redact(text(1, &format!("use {JWE}. then {token}.more"))));
    assert!(!out.contains("e30.x.y.z") && !out.contains(signature(&token)), "{out}");
    assert!(out.starts_with("use eyJ.redacted-") && out.contains(". then eyJ") && out.ends_with(".more"), "{out}");
    let mut close = b"\x0f\xa0expired ".to_vec();
    close.extend_from_slice(BAD_CLAIMS.as_bytes());
    let Record::Frame(closed) = redactor.redact(Record::Frame(frame(2, Opcode::Close, &close))) else { unreachable!() };
    assert!(!closed.close_parts().1.unwrap().contains("notjson"));
    let out = redactor.redact(open("/v1", &[("Sec-WebSocket-Protocol", &format!("chat, {JWE}"))], &[]));
    let Record::Open(o) = out else { unreachable!() };
    let protocols = frametap::event::header(&o.request.headers, "sec-websocket-protocol").unwrap();
    assert!(protocols.starts_with("chat, eyJ.redacted-"), "{protocols}");
}

/// The live pipeline as `proxy --redact` runs it (with the analysis when `analysed`), capturing to `path`.
fn redacting_pipeline(
    path: &std::path::Path,
    analysed: bool,
) -> (frametap::pipeline::EventSink, frametap::pipeline::Pipeline) {
    use frametap::inspect::{AnalysisOptions, Analyzer};
    use frametap::pipeline::{self, LagPolicy, PipelineOptions};
    let Record::Meta(meta) = meta(&["frametap", "proxy"]) else { unreachable!() };
    pipeline::start(PipelineOptions {
        meta: *meta,
        capture: Some(CaptureWriter::create(path).unwrap()),
        log: None,
        analysis: analysed.then(|| Analyzer::factory(AnalysisOptions::default())),
        redaction: Some(Box::new(Redactor::with_key(b"k"))),
        publishers: vec![],
        on_lag: LagPolicy::Block,
        buffer: 16,
    })
}

/// A text message sent in fragments, split inside its session token, inside a JWT's signature and inside a
/// character, with a server frame between two of its fragments.
fn fragmented_session(bearer_jwt: &str) -> Vec<Record> {
    let message =
        json!({"action":"onMessage","token":SESSION,"message":{"type":"Text","text":"prix 5 €"},"jwt":bearer_jwt})
            .to_string();
    let bytes = message.as_bytes();
    let cut = |needle: &str, into: usize| message.find(needle).unwrap() + into;
    let euro = message.find('€').unwrap() + 1;
    let mut cuts = [cut(SESSION, 10), cut(signature(bearer_jwt), 5), euro];
    cuts.sort_unstable();
    let mut records = vec![meta(&["frametap", "proxy"]), open("/chat", &[], &[])];
    let mut start = 0;
    for (i, end) in cuts.iter().copied().chain([bytes.len()]).enumerate() {
        let opcode = if i == 0 { Opcode::Text } else { Opcode::Continuation };
        let mut fragment = frame(10 + i as u64 * 2, opcode, &bytes[start..end]);
        fragment.fin = end == bytes.len();
        fragment.text_message = true;
        records.push(Record::Frame(fragment));
        if i == 0 {
            let mut server = frame(11, Opcode::Text, br#"{"type":"response","class":"string","code":200,"body":"ok"}"#);
            server.from = Peer::Server;
            server.to = Peer::Client;
            records.push(Record::Frame(server));
        }
        start = end;
    }
    records
}

/// The client's fragments put back together, and how many there were.
fn client_message(records: &[Record]) -> (Vec<u8>, usize) {
    let fragments: Vec<&Frame> = records
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) if f.from == Peer::Client => Some(f),
            _ => None,
        })
        .collect();
    (fragments.iter().flat_map(|f| f.payload.to_vec()).collect(), fragments.len())
}

#[tokio::test]
async fn a_secret_split_across_fragments_is_masked_and_the_fragments_stay_in_place() {
    let bearer = jwt(json!({"sub":"guest","exp":T0 + 600}));
    let records = fragmented_session(&bearer);
    let original_order: Vec<(u64, Peer)> =
        records.iter().filter_map(|r| if let Record::Frame(f) = r { Some((f.seq, f.from)) } else { None }).collect();
    // `frametap redact` (and convert --redact, UI downloads): the stream API.
    let redacted = Redactor::with_key(b"k").redact_all(records.clone());
    // `proxy --redact`: the pipeline stage, fed one record at a time.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    {
        let (sink, running) = redacting_pipeline(&path, false);
        for record in records.iter().skip(1) {
            sink.emit(record.clone()).await;
        }
        assert!(running.finish().await.end.complete);
    }
    let live = read_capture(&path).unwrap().records;
    for (how, out) in [("redact", &redacted), ("--redact", &live)] {
        let order: Vec<(u64, Peer)> =
            out.iter().filter_map(|r| if let Record::Frame(f) = r { Some((f.seq, f.from)) } else { None }).collect();
        assert_eq!(order, original_order, "{how}: every frame, in its place");
        let (message, fragments) = client_message(out);
        assert_eq!(fragments, 4, "{how}: the fragments stay fragments");
        let message = String::from_utf8(message).unwrap();
        assert!(!message.contains(SESSION) && !message.contains(signature(&bearer)), "{how}: {message}");
        assert!(message.contains("prix 5 €") && message.contains(UUID_PLACEHOLDER_PREFIX), "{how}: {message}");
        // Nothing of the secrets is left in any record, however it is written (a fragment that splits a
        // character is base64 in a JSON line).
        let lines: String = out.iter().map(line).collect();
        let session_tail = &SESSION[10..];
        assert!(!lines.contains(session_tail), "{how}");
    }
}

/// One connection's records around a client message sent in fragments (`parts`), then the server's close.
fn fragments_then_close(parts: &[&[u8]], with_server_fragments: bool) -> Vec<Record> {
    let mut records = vec![meta(&["frametap", "proxy"]), open("/chat", &[], &[])];
    let mut seq = 0;
    for (i, part) in parts.iter().enumerate() {
        seq += 1;
        let mut fragment = frame(seq, if i == 0 { Opcode::Text } else { Opcode::Continuation }, part);
        fragment.fin = i + 1 == parts.len();
        fragment.text_message = true;
        records.push(Record::Frame(fragment.clone()));
        if with_server_fragments {
            // The server echoes each fragment as it comes: both sides' messages are in flight at once.
            seq += 1;
            fragment.seq = seq;
            fragment.from = Peer::Server;
            fragment.to = Peer::Client;
            records.push(Record::Frame(fragment));
        }
    }
    records
}

/// After [`fragments_then_close`]'s two client fragments: the server's close frame (#3, 1000), then its TCP drop
/// before the client answered.
fn server_closes_then_drops() -> [Record; 2] {
    let mut close = frame(3, Opcode::Close, b"\x03\xe8");
    close.from = Peer::Server;
    close.to = Peer::Client;
    let ended = frametap::event::Close {
        conn: 1,
        ts: ts(T0 + 4),
        initiator: Peer::Server,
        initiator_unknown: false,
        code: Some(1000),
        reason: Some(String::new()),
        clean: false,
        dropped_by: Some(Peer::Server),
        duration_ms: 4000.0,
        detail: None,
    };
    [Record::Frame(close), Record::Close(ended)]
}

#[tokio::test]
async fn a_secret_split_across_fragments_leaks_into_no_preview_of_the_analysis() {
    let head = format!(r#"{{"action":"configureSession","deploymentId":"{DEPLOYMENT}","token":"{}"#, &SESSION[..20]);
    let tail = format!(r#"{}"}}"#, &SESSION[20..]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    let (sink, running) = redacting_pipeline(&path, true);
    for record in fragments_then_close(&[head.as_bytes(), tail.as_bytes()], false).into_iter().skip(1) {
        sink.emit(record).await;
    }
    for record in server_closes_then_drops() {
        sink.emit(record).await;
    }
    assert!(running.finish().await.end.complete);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""kind":"diagnosis""#), "the analysis ran");
    assert!(!text.contains(&SESSION[20..]), "the fragment's piece of the token is in a preview: {text}");
    // The preview quotes the whole message (not its last fragment), with the whole token masked.
    let diagnosis = text.lines().find(|l| l.contains(r#""kind":"diagnosis""#)).unwrap();
    let preview: Value = serde_json::from_str::<Value>(diagnosis).unwrap()["preceding"]["preview"].clone();
    let preview = preview.as_str().unwrap();
    assert!(preview.starts_with(r#"{"action":"configureSession""#), "{preview}");
    assert!(preview.contains(&format!(r#""token":"{UUID_PLACEHOLDER_PREFIX}"#)), "{preview}");
}

#[test]
fn two_fragmented_messages_in_flight_at_once_are_each_redacted_whole() {
    // Each message is about 600 KB (under the 1 MiB a message is redacted whole up to), both in flight at once.
    let head = format!(r#"{{"filler":"{}","token":"{}"#, "x".repeat(600_000), &SESSION[..12]);
    let tail = format!(r#"{}"}}"#, &SESSION[12..]);
    let redacted = Redactor::with_key(b"k").redact_all(fragments_then_close(&[head.as_bytes(), tail.as_bytes()], true));
    let lines: String = redacted.iter().map(line).collect();
    assert!(!lines.contains(&SESSION[12..]), "the token's tail survived");
}

#[test]
fn the_end_record_stays_last_when_a_connection_ended_mid_message() {
    let head = format!(r#"{{"token":"{}"#, &SESSION[..12]);
    let mut records = fragments_then_close(&[head.as_bytes(), b"never finished"], false);
    if let Some(Record::Frame(last)) = records.last_mut() {
        last.fin = false;
    }
    records.push(Record::End(frametap::event::End::counting(records.iter().map(Record::kind), ts(T0 + 9), 0, vec![])));
    let redacted = Redactor::with_key(b"k").redact_all(records.clone());
    assert_eq!(redacted.len(), records.len());
    assert!(matches!(redacted.last(), Some(Record::End(_))), "{:?}", redacted.last());
}

/// `proxy --redact` with the analysis on, in process, in front of a real echo server: a client sends `text`, gets
/// its echo and closes. Returns the capture (complete) and its path.
async fn echoed_through_a_redacting_proxy(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    use frametap::inspect::{AnalysisOptions, Analyzer};
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let upstream = common::start_echo_server().await;
    let path = dir.join("redacted.jsonl");
    let mut options = common::capture_only(CaptureWriter::create(&path).unwrap());
    options.analysis = Some(Analyzer::factory(AnalysisOptions::default()));
    options.redaction = Some(Box::new(Redactor::new()));
    let (addr, stop, task) = common::serve_in_process(options, common::test_config(&format!("ws://{upstream}"))).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/chat")).await.unwrap();
    ws.send(Message::text(text)).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text), "the echo");
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    stop.send(()).unwrap();
    assert!(task.await.unwrap().end.complete);
    path
}

/// `proxy --redact` in front of a real echo server: the client sends its session token, then a text quoting it
/// so far in that the diagnosis's previews (cut at 160 characters) stop inside it.
#[tokio::test]
async fn a_preview_cut_inside_a_secret_keeps_no_piece_of_it() {
    let dir = tempfile::tempdir().unwrap();
    // `{"token":"<36>","text":"` is 56 characters: the preview's cut falls 11 characters into the quoted token.
    let text = format!(r#"{{"token":"{SESSION}","text":"{}{SESSION} is my token"}}"#, "x".repeat(160 - 56 - 11));
    let path = echoed_through_a_redacting_proxy(dir.path(), &text).await;
    let capture = std::fs::read_to_string(&path).unwrap();
    let diagnosis: Value =
        serde_json::from_str(capture.lines().find(|l| l.contains(r#""kind":"diagnosis""#)).unwrap()).unwrap();
    for side in ["preceding", "other_side_last"] {
        let preview = diagnosis[side]["preview"].as_str().unwrap();
        assert!(preview.ends_with(&format!("{}…", &UUID_PLACEHOLDER_PREFIX[..11])), "{side}: {preview}");
    }
    assert!(!capture.contains(&SESSION[..11]), "the start of the token is in the capture: {capture}");
}

/// Under `proxy --redact` a diagnosis gives the lengths of the frames as the capture holds them: a frame whose
/// secret was replaced by a placeholder of another length has its redacted length in the frame record, and the
/// diagnosis says the same, so its `len` and `preview` (and the frame record beside them) never give away how long
/// the secret was; the diagnosis is the one `inspect` computes on the redacted capture.
#[tokio::test]
async fn under_redact_the_diagnosis_gives_the_lengths_of_the_frames_as_written() {
    use frametap::inspect::{AnalysisOptions, Analyzer};
    let dir = tempfile::tempdir().unwrap();
    let secret = "correct-horse-battery-staple";
    let sent = json!({"user":"guest","password":secret}).to_string();
    let path = echoed_through_a_redacting_proxy(dir.path(), &sent).await;
    let capture = read_capture(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(secret), "{text}");
    let diagnosis = capture
        .records
        .iter()
        .find_map(|r| if let Record::Diagnosis(d) = r { Some(d.clone()) } else { None })
        .expect("the analysis ran");
    for side in ["preceding", "other_side_last"] {
        let quoted = &diagnosis.details[side];
        let seq = quoted["seq"].as_u64().unwrap();
        let frame = capture
            .records
            .iter()
            .find_map(|r| match r {
                Record::Frame(f) if f.seq == seq => Some(f),
                _ => None,
            })
            .unwrap();
        let written = frame.text().unwrap();
        assert!(written.contains(r#""password":"redacted-"#), "{side}: {written}");
        assert_ne!(written.len(), sent.len(), "the placeholder is not as long as the secret");
        assert_eq!(frame.len, written.len() as u64, "{side}: the frame record has its redacted length");
        assert_eq!(quoted["len"], frame.len, "{side}: the diagnosis gives the length as written: {quoted}");
        assert_eq!(quoted["preview"], written, "{side}: {quoted}");
    }
    assert!(
        !serde_json::to_string(&diagnosis.details).unwrap().contains(&format!(r#""len":{}"#, sent.len())),
        "{:?}",
        diagnosis.details
    );
    // What `inspect` derives from the redacted capture is what was written.
    let mut analyzer = Analyzer::new(AnalysisOptions::default());
    let recomputed = capture
        .records
        .iter()
        .flat_map(|r| analyzer.observe(r, r.ts()))
        .find_map(|r| if let Record::Diagnosis(d) = r { Some(d) } else { None })
        .unwrap();
    assert_eq!(recomputed.details, diagnosis.details);
}

/// `frametap redact` on a capture with a diagnosis: a fragmented message whose last fragment lost a secret's
/// length is quoted with its fragment's and its message's redacted lengths.
#[test]
fn a_redacted_copy_gives_a_fragmented_message_its_redacted_lengths() {
    let head = r#"{"user":"guest","password":"correct-horse-"#;
    let tail = r#"battery-staple"}"#;
    let mut records = fragments_then_close(&[head.as_bytes(), tail.as_bytes()], false);
    records.extend(server_closes_then_drops());
    let original: Vec<Record> = frametap::inspect::Analysed::new(records).collect();
    let redacted = Redactor::with_key(b"k").redact_all(original);
    let fragments: Vec<&Frame> = redacted
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) if f.from == Peer::Client => Some(f),
            _ => None,
        })
        .collect();
    let message: Vec<u8> = fragments.iter().flat_map(|f| f.payload.to_vec()).collect();
    assert!(String::from_utf8_lossy(&message).contains(r#""password":"redacted-"#));
    let diagnosis = redacted.iter().find_map(|r| if let Record::Diagnosis(d) = r { Some(d) } else { None }).unwrap();
    let preceding = &diagnosis.details["preceding"];
    assert_eq!(preceding["seq"], 2);
    assert_eq!(preceding["len"], fragments[1].len, "{preceding}");
    assert_eq!(preceding["message"]["len"], message.len(), "{preceding}");
    assert_ne!(message.len(), head.len() + tail.len());
    assert_eq!(preceding["preview"], String::from_utf8(message).unwrap());
}
