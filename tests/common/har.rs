//! Helpers shared by the HAR tests (har*.rs): records built in code, a rich capture to round-trip, fixtures.

use bytes::Bytes;
use frametap::capture::{read_capture, CaptureWriter};
use frametap::convert::{convert, ConvertCommand};
use frametap::event::*;
use serde_json::{json, Map};
use std::path::{Path, PathBuf};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/har");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

pub fn ts(micros: i64) -> Ts {
    Ts(chrono::DateTime::from_timestamp_micros(1_795_000_000_000_000 + micros).unwrap())
}

pub fn frame(conn: ConnId, seq: u64, from: Peer, opcode: Opcode, fin: bool, payload: &[u8]) -> Record {
    let mut frame =
        Frame::whole(conn, ts(seq as i64 * 1_234_567 + 7), seq, from, opcode, Bytes::copy_from_slice(payload));
    frame.fin = fin;
    Record::Frame(frame)
}

pub fn with(record: Record, change: impl FnOnce(&mut Frame)) -> Record {
    let Record::Frame(mut f) = record else { unreachable!() };
    change(&mut f);
    Record::Frame(f)
}

pub fn details(pairs: serde_json::Value) -> Map<String, serde_json::Value> {
    pairs.as_object().unwrap().clone()
}

/// A capture with everything Chrome's HAR has no field for.
pub fn rich_capture() -> Vec<Record> {
    let headers =
        |pairs: &[(&str, &str)]| -> Headers { pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect() };
    let request = HttpRequest {
        method: "GET".into(),
        path: "/v1?deploymentId=6c1b2f0e&application=a%20b".into(),
        headers: headers(&[
            ("Host", "127.0.0.1:9000"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Cookie", "a=1; b=2"),
            ("X-Dup", "one"),
            ("X-Dup", "two"),
        ]),
    };
    let text_continuation = |seq, fin, payload: &[u8]| {
        with(frame(1, seq, Peer::Server, Opcode::Continuation, fin, payload), |f| f.text_message = true)
    };
    vec![
        Record::from(Meta {
            ts: ts(0),
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            frametap: "0.1.0".into(),
            command: vec!["frametap".into(), "--upstream".into(), "wss://example.com".into()],
            mode: "proxy".into(),
            upstream: Some("wss://example.com".into()),
            redacted: false,
            insecure_upstream: true,
        }),
        Record::from(Open {
            conn: 1,
            ts: ts(10),
            client_addr: Some("127.0.0.1:50123".into()),
            request: request.clone(),
            upstream: Some("wss://example.com/v1?deploymentId=6c1b2f0e&application=a%20b".into()),
            upstream_request: Some(request),
            response: Some(HttpResponse {
                status: 101,
                headers: headers(&[("Upgrade", "websocket"), ("Sec-WebSocket-Protocol", "v1")]),
                body: None,
                body_base64: None,
            }),
            error: None,
            handshake_ms: Some(42.125),
            upstream_tcp_rtt_ms: None,
            failed_ms: None,
            upgraded_ms: None,
        }),
        Record::from(Token {
            conn: 1,
            ts: ts(11),
            seq: None,
            source: "query:deploymentId".into(),
            details: details(json!({"type": "uuid"})),
        }),
        frame(1, 1, Peer::Client, Opcode::Text, true, br#"{"action":"configureSession","token":"t"}"#),
        Record::from(Annotation {
            conn: 1,
            ts: ts(12),
            seq: 1,
            profile: "genesys".into(),
            text: "configureSession".into(),
            details: details(json!({"tracingId": null})),
        }),
        frame(1, 2, Peer::Server, Opcode::Text, false, "{\"body\":\"caf\u{e9} ".as_bytes()),
        frame(1, 3, Peer::Client, Opcode::Ping, true, b"hb"),
        // A fragment boundary inside a multi-byte character.
        text_continuation(4, false, &"\u{1f600}".as_bytes()[..2]),
        frame(1, 5, Peer::Server, Opcode::Pong, true, b"hb"),
        text_continuation(6, true, &[&"\u{1f600}".as_bytes()[2..], b"\"}"].concat()),
        frame(1, 7, Peer::Client, Opcode::Binary, true, &[0, 1, 2, 0xfe, 0xff]),
        frame(1, 8, Peer::Client, Opcode::Text, true, &[0xff, 0xfe, b'a']),
        frame(1, 9, Peer::Client, Opcode::Text, true, b""),
        with(frame(1, 10, Peer::Server, Opcode::Text, true, b"compressed?"), |f| f.rsv = 4),
        frame(1, 11, Peer::Server, Opcode::Reserved(3), true, b"x"),
        frame(1, 12, Peer::Client, Opcode::Continuation, true, b"stray"),
        with(frame(1, 13, Peer::Client, Opcode::Binary, true, b"too big"), |f| {
            f.relayed = false;
            f.len = 70_000;
        }),
        Record::Note(Note::warn("invalid-utf8", Some(1), ts(13), "frame 8")),
        // An unfinished binary message interrupted by a new one (a protocol violation, kept as seen).
        frame(1, 14, Peer::Server, Opcode::Binary, false, b"part"),
        frame(1, 15, Peer::Server, Opcode::Binary, true, b"next"),
        with(frame(1, 16, Peer::Proxy, Opcode::Close, true, b"\x03\xe9proxy gave up"), |f| {
            f.to = Peer::Client;
            f.relayed = false;
        }),
        frame(1, 17, Peer::Server, Opcode::Close, true, b"\x0f\xa0bye"),
        frame(1, 18, Peer::Client, Opcode::Close, true, b"\x03"),
        Record::Close(Close {
            conn: 1,
            ts: ts(99_000_000),
            initiator: Peer::Server,
            initiator_unknown: false,
            code: Some(4000),
            reason: Some("bye".into()),
            clean: false,
            dropped_by: Some(Peer::Client),
            duration_ms: 98999.99,
            detail: None,
        }),
        Record::Diagnosis(Diagnosis {
            conn: 1,
            ts: ts(99_000_001),
            details: details(json!({"summary": "server closed"})),
        }),
        Record::from(Open {
            conn: 2,
            ts: ts(5_000),
            client_addr: None,
            request: HttpRequest { method: "GET".into(), path: "/".into(), headers: Vec::new() },
            upstream: Some("sim:genesys/v1".into()),
            upstream_request: None,
            response: Some(HttpResponse {
                status: 403,
                headers: headers(&[("Content-Type", "text/plain")]),
                body: Some("forbidden".into()),
                body_base64: None,
            }),
            error: None,
            handshake_ms: None,
            upstream_tcp_rtt_ms: None,
            failed_ms: None,
            upgraded_ms: None,
        }),
        Record::Note(Note::info("x", None, ts(6_000), "global")),
        // A connection whose open record is missing (a capture started mid-way).
        frame(3, 1, Peer::Client, Opcode::Text, true, b"orphan"),
        Record::End(End {
            ts: ts(100_000_000),
            connections: 2,
            frames: 19,
            records: 30,
            dropped: 0,
            complete: true,
            errors: vec![],
        }),
    ]
}

/// The `open` of an upgrade that failed after `failed_ms`: with `error`, and the answer when there was one.
pub fn failed_upgrade(conn: ConnId, error: Option<&str>, response: Option<HttpResponse>, failed_ms: f64) -> Record {
    let request = HttpRequest {
        method: "GET".into(),
        path: "/v1?deploymentId=6c1b2f0e".into(),
        headers: vec![("Host".into(), "127.0.0.1:9000".into())],
    };
    Record::from(Open {
        upstream: Some("wss://example.com/v1?deploymentId=6c1b2f0e".into()),
        response,
        error: error.map(str::to_owned),
        failed_ms: Some(failed_ms),
        ..Open::new(conn, ts(conn as i64 * 1_000_000), request)
    })
}

/// The rich capture (text, binary, fragments, pings, closes, a refused upgrade, a connection that never opened)
/// with two more failed upgrades: one the upstream never answered, one answered with a 101 that opened nothing.
pub fn capture_with_failures() -> Vec<Record> {
    let mut records = rich_capture();
    let end = records.pop().expect("an end record");
    records.push(failed_upgrade(4, Some("could not connect to example.com:443: Connection refused"), None, 1.5));
    let wrong_accept = HttpResponse {
        status: 101,
        headers: vec![("Sec-WebSocket-Accept".into(), "AAAA".into())],
        body: None,
        body_base64: None,
    };
    records.push(failed_upgrade(5, Some("the upstream's Sec-WebSocket-Accept is wrong"), Some(wrong_accept), 2.25));
    records.push(end);
    records
}

pub fn write_capture(path: &Path, records: &[Record]) {
    let mut writer = CaptureWriter::create(path).unwrap();
    for record in records {
        assert!(writer.write(record));
    }
    writer.flush();
}

pub fn cmd(input: &Path, output: &Path) -> ConvertCommand {
    ConvertCommand { input: input.to_owned(), output: output.to_owned(), redact: false, partial: false }
}

pub fn import_fixture(name: &str) -> (Vec<Record>, Vec<String>, frametap::convert::ConvertReport) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.jsonl");
    let report = convert(&cmd(&fixture(name), &out)).unwrap();
    let capture = read_capture(&out).unwrap();
    // Records the HAR holds out of order stay so, and reading the capture says it again (kept, not lost).
    assert!(
        capture.lost().next().is_none() && capture.has_end,
        "{name}: a complete, readable capture: {:?}",
        capture.problems
    );
    (capture.records, report.warnings.clone(), report)
}

pub fn frames(records: &[Record]) -> Vec<&Frame> {
    records.iter().filter_map(|r| if let Record::Frame(f) = r { Some(f) } else { None }).collect()
}

pub fn notes(records: &[Record]) -> Vec<&Note> {
    records.iter().filter_map(|r| if let Record::Note(n) = r { Some(n) } else { None }).collect()
}

/// What `frametap inspect FILE` prints for a capture or a HAR.
pub fn inspect_report(file: PathBuf) -> String {
    use frametap::inspect::command::inspect;
    use frametap::inspect::{AnalysisArgs, InspectCommand};
    let command = InspectCommand { file, conn: None, json: false, analysis: AnalysisArgs::default() };
    inspect(&command, false).unwrap().stdout
}
