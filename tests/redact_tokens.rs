//! Redacted token records and annotations: no length or plain hash of a secret, and malformed or encrypted
//! tokens masked wherever the token finder reports them.

mod common;

use common::redact::*;
use frametap::capture::{read_capture, CaptureWriter};
use frametap::event::{Opcode, Record};
use frametap::inspect::tokens::TokenTracker;
use frametap::redact::{run_redact, RedactCommand, Redactor};
use serde_json::{json, Value};

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
