//! HAR export/import and `frametap convert`: lossless round trips, real-tool fixtures, and every bad input.

mod common;
#[path = "replay_support/mod.rs"]
mod support;

use bytes::Bytes;
use frametap::capture::{read_capture, CaptureWriter};
use frametap::convert::{convert, ConvertCommand};
use frametap::event::*;
use frametap::har::{capture_to_har, har_to_records, HarSource};
use serde_json::{json, Map};
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/har");

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn ts(micros: i64) -> Ts {
    Ts(chrono::DateTime::from_timestamp_micros(1_795_000_000_000_000 + micros).unwrap())
}

fn frame(conn: ConnId, seq: u64, from: Peer, opcode: Opcode, fin: bool, payload: &[u8]) -> Record {
    let mut frame =
        Frame::whole(conn, ts(seq as i64 * 1_234_567 + 7), seq, from, opcode, Bytes::copy_from_slice(payload));
    frame.fin = fin;
    Record::Frame(frame)
}

fn with(record: Record, change: impl FnOnce(&mut Frame)) -> Record {
    let Record::Frame(mut f) = record else { unreachable!() };
    change(&mut f);
    Record::Frame(f)
}

fn details(pairs: serde_json::Value) -> Map<String, serde_json::Value> {
    pairs.as_object().unwrap().clone()
}

/// A capture with everything Chrome's HAR has no field for.
fn rich_capture() -> Vec<Record> {
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

fn write_capture(path: &Path, records: &[Record]) {
    let mut writer = CaptureWriter::create(path).unwrap();
    for record in records {
        assert!(writer.write(record));
    }
    writer.flush();
}

fn cmd(input: &Path, output: &Path) -> ConvertCommand {
    ConvertCommand { input: input.to_owned(), output: output.to_owned(), redact: false, partial: false }
}

#[test]
fn capture_to_har_to_capture_keeps_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.jsonl");
    write_capture(&original, &rich_capture());
    for har_name in ["session.har", "session.zhar"] {
        let har = dir.path().join(har_name);
        let back = dir.path().join(format!("{har_name}.back.jsonl"));
        convert(&cmd(&original, &har)).unwrap();
        let report = convert(&cmd(&har, &back)).unwrap();
        assert_eq!(report.source, Some(HarSource::Frametap));
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let before = read_capture(&original).unwrap();
        let after = read_capture(&back).unwrap();
        assert_eq!(after.records, before.records, "{har_name}");
        assert_eq!(
            std::fs::read_to_string(&back).unwrap(),
            std::fs::read_to_string(&original).unwrap(),
            "{har_name}: the capture file comes back byte for byte"
        );
    }
}

#[test]
fn export_speaks_chrome_har() {
    let har = capture_to_har(&rich_capture());
    assert_eq!(har["log"]["version"], "1.2");
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let entry = &entries[0];
    assert_eq!(entry["_resourceType"], "websocket");
    assert_eq!(entry["request"]["url"], "wss://example.com/v1?deploymentId=6c1b2f0e&application=a%20b");
    assert_eq!(entry["request"]["queryString"][1], json!({"name": "application", "value": "a b"}));
    assert_eq!(entry["request"]["cookies"][1], json!({"name": "b", "value": "2"}));
    assert_eq!(entry["response"]["status"], 101);
    assert_eq!(entry["response"]["statusText"], "Switching Protocols");
    assert_eq!(entry["timings"]["wait"], 42.125);
    let messages = entry["_webSocketMessages"].as_array().unwrap();
    let summary: Vec<(String, u64, String)> = messages
        .iter()
        .map(|m| {
            (m["type"].as_str().unwrap().into(), m["opcode"].as_u64().unwrap(), m["data"].as_str().unwrap().into())
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("send".into(), 1, r#"{"action":"configureSession","token":"t"}"#.into()),
            ("receive".into(), 1, "{\"body\":\"caf\u{e9} \u{1f600}\"}".into()),
            ("send".into(), 2, "AAEC/v8=".into()),
            ("send".into(), 1, "".into()),
            ("send".into(), 2, "dG9vIGJpZw==".into()),
            ("receive".into(), 2, "cGFydA==".into()),
            ("receive".into(), 2, "bmV4dA==".into()),
        ],
        "data messages only, fragments reassembled, in frame order"
    );
    let time = messages[0]["time"].as_f64().unwrap();
    assert!((time - (1_795_000_000.0 + 1.234574)).abs() < 1e-5, "epoch seconds: {time}");

    assert_eq!(messages[1][frametap::har::EXTENSION]["frames"].as_array().unwrap().len(), 3);
    assert_eq!(entry["_webSocketClose"], json!({"code": 4000, "reason": "bye", "timestamp": 1_795_000_099.0}));
    assert_eq!(entries[1]["response"]["status"], 403);
    assert_eq!(entries[1]["response"]["content"]["text"], "forbidden");
    assert_eq!(entries[1]["request"]["url"], "ws://localhost/", "a sim: upstream is not a URL");
}

/// An entry's `time` is the sum of its `timings` that are not -1 (HAR 1.2, and what Chrome writes): the handshake
/// round trip (`wait`) and the rest of the connection's life (`receive`), so the connection's span in milliseconds
/// to the microsecond, as recorded: never float noise such as `1.4760000000000002` (1,476 µs as seconds times 1000).
#[test]
fn export_times_are_the_sum_of_the_timings_in_whole_microseconds() {
    let records = rich_capture();
    let mut open = records.iter().find(|r| matches!(r, Record::Open(_)) && r.conn() == Some(1)).unwrap().clone();
    let mut close = records.iter().find(|r| matches!(r, Record::Close(_))).unwrap().clone();
    let meta = records[0].clone();
    let cases = [
        (1_476, Some(0.3), "1.476", "0.3", "1.176"),
        (4_003, None, "4.003", "0.0", "4.003"),
        (98_999_991, Some(42.125), "98999.991", "42.125", "98957.866"),
        (12_000, Some(7.000_4), "12.0", "7.0", "5.0"),
        // A handshake longer than the records' span (clocks that disagree): the timings still add up.
        (1_000, Some(2.5), "2.5", "2.5", "0.0"),
    ];
    for (span, handshake_ms, time, wait, receive) in cases {
        if let (Record::Open(o), Record::Close(c)) = (&mut open, &mut close) {
            o.ts = ts(0);
            o.handshake_ms = handshake_ms;
            c.ts = ts(span);
        }
        let har = capture_to_har(&[meta.clone(), open.clone(), close.clone()]);
        let entry = &har["log"]["entries"][0];
        let shown = [&entry["time"], &entry["timings"]["wait"], &entry["timings"]["receive"]].map(|v| v.to_string());
        assert_eq!(shown, [time, wait, receive], "{span} µs, handshake {handshake_ms:?}");
        let timings = entry["timings"].as_object().unwrap();
        let sum: f64 = ["blocked", "dns", "connect", "send", "wait", "receive"]
            .iter()
            .map(|name| timings[*name].as_f64().unwrap())
            .filter(|t| *t != -1.0)
            .sum();
        assert!((sum - entry["time"].as_f64().unwrap()).abs() < 1e-9, "time is the timings' sum: {entry}");
    }
}

fn import_fixture(name: &str) -> (Vec<Record>, Vec<String>, frametap::convert::ConvertReport) {
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

fn frames(records: &[Record]) -> Vec<&Frame> {
    records.iter().filter_map(|r| if let Record::Frame(f) = r { Some(f) } else { None }).collect()
}

fn notes(records: &[Record]) -> Vec<&Note> {
    records.iter().filter_map(|r| if let Record::Note(n) = r { Some(n) } else { None }).collect()
}

#[test]
fn chrome_har_imports_in_array_order_and_says_what_is_missing() {
    let (records, warnings, report) = import_fixture("chrome-genesys.har");
    assert_eq!(report.source, Some(HarSource::Chrome));
    assert_eq!((report.connections, report.frames), (1, 8));
    assert!(warnings.iter().any(|w| w.contains("skipped 1 entry that is not a WebSocket connection")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("go backwards at message 5")), "{warnings:?}");
    let Record::Meta(meta) = &records[0] else { panic!("meta first") };
    assert_eq!(meta.mode, "import");
    assert_eq!(meta.upstream.as_deref(), Some("wss://webmessaging.mypurecloud.com"));
    let Record::Open(open) = &records[1] else { panic!("open second") };
    assert_eq!(open.request.path, "/v1?deploymentId=6c1b2f0e-4d3a-4b8e-9a51-2f7c3d9e8b10&application=Messenger-1.0.0");
    assert_eq!(header(&open.request.headers, "origin"), Some("https://shop.example.com"));
    let response = open.response.as_ref().unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(header(&response.headers, "sec-websocket-accept"), Some("Iiu/58MAWa9VT4uupkdlP9MBhlM="));
    let frames = frames(&records);
    let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert!(frames[0].text().unwrap().contains("configureSession"));
    assert_eq!((frames[0].from, frames[0].to), (Peer::Client, Peer::Server));
    assert!(frames[3].text().unwrap().contains("\"direction\":\"Inbound\""));
    assert!(frames[4].text().unwrap().contains("Typing"), "array order, although its time is earlier");
    assert!(frames[4].ts < frames[3].ts);
    assert!(frames[7].text().unwrap().contains("SessionExpiredEvent"));
    let note = notes(&records).into_iter().find(|n| n.code == "har-import-incomplete").unwrap();
    assert!(note.message.contains("Chrome DevTools") && note.message.contains("no close code"), "{}", note.message);
    assert!(note.message.contains("no Cookie or Authorization header"), "{}", note.message);
    // Chrome's `wait` runs to the last message (61 s here): not the handshake's round trip, so not kept as one.
    assert_eq!(open.handshake_ms, None);
    assert!(note.message.contains("no handshake round trip either"), "{}", note.message);
    assert!(!records.iter().any(|r| matches!(r, Record::Close(_))), "Chrome records no close");
}

#[test]
fn mitmproxy_har_and_zhar_import_alike() {
    let (records, _, report) = import_fixture("mitmproxy-echo.har");
    assert_eq!(report.source, Some(HarSource::Mitmproxy));
    let (zrecords, _, _) = import_fixture("mitmproxy-echo.zhar");
    let body = |r: &[Record]| r[1..r.len() - 1].to_vec();
    assert_eq!(body(&records), body(&zrecords));
    let Record::Open(open) = &records[1] else { panic!() };
    assert_eq!(open.upstream.as_deref(), Some("wss://echo.example.net/socket?room=7"), "https: becomes wss:");
    assert_eq!(open.handshake_ms, Some(9.353));
    let frames = frames(&records);
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[2].opcode, Opcode::Binary);
    assert_eq!(frames[2].payload.as_ref(), &[0, 1, 2, 254, 255]);
    assert_eq!(frames[3].from, Peer::Server);
    assert!(notes(&records)[0].message.contains("mitmproxy"));
}

#[test]
fn http_toolkit_close_is_kept_without_a_guess_at_the_closer() {
    let (records, _, report) = import_fixture("httptoolkit-genesys.har");
    assert_eq!(report.source, Some(HarSource::HttpToolkit));
    let Record::Open(open) = &records[1] else { panic!() };
    assert_eq!(open.ts.to_rfc3339(), "2026-11-24T14:10:44.120000Z", "+01:00 becomes UTC");
    let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
    assert_eq!((close.code, close.reason.as_deref()), (Some(4000), Some("feature unavailable")));
    assert!(close.detail.as_deref().unwrap().contains("not who closed first"));
    assert!((close.duration_ms - 5021.7).abs() < 0.01, "{}", close.duration_ms);
    assert!(notes(&records)[0].message.contains("close code and reason are kept"));
}

#[test]
fn har_to_records_rejects_what_is_not_a_websocket_har() {
    let err = har_to_records(&json!({"entries": []})).unwrap_err().to_string();
    assert!(err.contains("no log.entries"), "{err}");
    let err = har_to_records(&json!({"log": {"entries": [{"request": {"url": "wss://x/"}, "_webSocketMessages": [
        {"type": "receive", "time": 1.7e9, "opcode": 2, "data": "***"}]}]}}))
    .unwrap_err();
    assert!(format!("{err:#}").contains("entry 1: message 1: binary data (opcode 2) is not base64"), "{err:#}");
}

fn assert_fails_without_output(input: &Path, out: &Path, expected: &[&str]) {
    let err = format!("{:#}", convert(&cmd(input, out)).unwrap_err());
    for part in expected {
        assert!(err.contains(part), "{err:?} should contain {part:?}");
    }
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(!out.exists(), "nothing written for {err}");
}

#[test]
fn bad_inputs_fail_clearly_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let plain = fixture("chrome-no-websocket.har");
    assert_fails_without_output(&plain, &out, &["chrome-no-websocket.har", "no WebSocket connection", "Export HAR"]);

    let cut = dir.path().join("cut.har");
    let text = std::fs::read_to_string(fixture("chrome-genesys.har")).unwrap();
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    assert_fails_without_output(&cut, &out, &["cut.har", "not valid JSON at line", "save it again"]);

    let bad_zhar = dir.path().join("bad.zhar");
    std::fs::write(&bad_zhar, b"{\"log\":{}}").unwrap();
    assert_fails_without_output(&bad_zhar, &out, &["bad.zhar", "not a zlib-compressed HAR"]);
    // A real .zhar cut short is not told it is no zlib at all, nor to rename it to .har.
    let cut_zhar = dir.path().join("cut.zhar");
    let zhar = std::fs::read(fixture("mitmproxy-echo.zhar")).unwrap();
    std::fs::write(&cut_zhar, &zhar[..zhar.len() / 2]).unwrap();
    assert_fails_without_output(
        &cut_zhar,
        &out,
        &["cut.zhar", "zlib-compressed HAR is corrupt or was cut off", "save it again"],
    );
    let err = format!("{:#}", convert(&cmd(&cut_zhar, &out)).unwrap_err());
    assert!(!err.contains("not a zlib") && !err.contains("rename it"), "{err}");

    let capture = dir.path().join("cut.jsonl");
    let mut lines = String::new();
    for record in &rich_capture()[..6] {
        lines.push_str(&serde_json::to_string(record).unwrap());
        lines.push('\n');
    }
    lines.push_str(r#"{"kind":"frame","conn":1,"ts":"2026"#);
    std::fs::write(&capture, &lines).unwrap();
    let har = dir.path().join("out.har");
    assert_fails_without_output(&capture, &har, &["cut.jsonl", "line 7: cut off mid-record", "--partial"]);

    let no_end = dir.path().join("no-end.jsonl");
    std::fs::write(&no_end, lines.rsplit_once('\n').unwrap().0.to_owned() + "\n").unwrap();
    assert_fails_without_output(&no_end, &har, &["no-end.jsonl", "without an end record", "--partial"]);

    let mut partial = cmd(&capture, &har);
    partial.partial = true;
    let report = convert(&partial).unwrap();
    assert!(report.warnings[0].contains("without what could not be read: line 7"), "{:?}", report.warnings);
    let written = frametap::har::read_har(&har).unwrap();
    assert_eq!(written["log"][frametap::har::EXTENSION]["records"][1]["record"]["code"], "convert-partial");

    assert_fails_without_output(&capture, &dir.path().join("x.jsonl"), &["same kind of file"]);
    assert_fails_without_output(&capture, &dir.path().join("x.txt"), &["x.txt", "*.har"]);
    assert_fails_without_output(&dir.path().join("in.csv"), &out, &["in.csv", "unknown kind"]);
    assert_fails_without_output(&dir.path().join("missing.har"), &out, &["missing.har", "could not read"]);
}

/// `convert --partial` of a capture with a corrupt line in the middle: the `convert-partial` note, then a fresh `end`
/// (true counts, `complete: false`, the skipped line in `errors`) instead of the input's; the output, capture or HAR,
/// converts again without `--partial`.
#[test]
fn convert_partial_ends_with_a_true_end_record_and_converts_again() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mid.jsonl");
    let mut lines: Vec<String> = rich_capture().iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    lines[5].truncate(40);
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    for name in ["mid.p.ftcap", "mid.p.har"] {
        let partial = dir.path().join(name);
        convert(&ConvertCommand { partial: true, ..cmd(&input, &partial) }).unwrap();
        let again = dir.path().join(format!("{name}.jsonl"));
        convert(&cmd(&partial, &again)).unwrap_or_else(|e| panic!("{name} converts again: {e:#}"));
        let records = read_capture(&again).unwrap().records;
        let ends: Vec<&End> =
            records.iter().filter_map(|r| if let Record::End(e) = r { Some(e) } else { None }).collect();
        assert_eq!(ends.len(), 1, "{name}: one end record");
        let Some((Record::End(end), rest)) = records.split_last() else { panic!("{name}: the end is last") };
        let Some(Record::Note(note)) = rest.last() else { panic!("{name}: the note comes before the end") };
        assert_eq!(note.code, "convert-partial");
        let count = |kind: &str| rest.iter().filter(|r| r.kind() == kind).count() as u64;
        assert_eq!(
            (end.connections, end.frames, end.records),
            (count("open"), count("frame"), rest.len() as u64),
            "{name}"
        );
        assert!(!end.complete, "{name}: {end:?}");
        assert!(end.errors.iter().any(|e| e.contains("line 6")), "{name}: {:?}", end.errors);
    }
}

/// `convert --partial` of a compact capture cut off inside a frame: its note names the record and the byte where the
/// unreadable compact frame starts, not a "line" (a compact file's frames are not lines of text).
#[test]
fn convert_partial_of_a_cut_compact_capture_names_the_record_not_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("whole.jsonl");
    write_capture(&original, &rich_capture());
    let compact = dir.path().join("whole.ftcap");
    convert(&cmd(&original, &compact)).unwrap();
    let mut bytes = std::fs::read(&compact).unwrap();
    let frame_at = bytes.iter().position(|&b| b == 0xF7).expect("a compact frame record (0xF7, never in a JSON line)");
    bytes.truncate(frame_at + 8);
    let cut = dir.path().join("cut.ftcap");
    std::fs::write(&cut, &bytes).unwrap();
    let out = dir.path().join("cut.jsonl");
    convert(&ConvertCommand { partial: true, ..cmd(&cut, &out) }).unwrap();
    let records = read_capture(&out).unwrap().records;
    let note = records
        .iter()
        .find_map(|r| match r {
            Record::Note(n) if n.code == "convert-partial" => Some(n.message.clone()),
            _ => None,
        })
        .expect("a convert-partial note");
    assert!(note.contains(&format!("(a compact frame at byte {frame_at})")) && note.contains(": record "), "{note}");
    assert!(!note.contains("line"), "{note}");
}

/// A frametap HAR whose entries lost their `_frametap` fields (the log's kept): each such entry is imported from its
/// messages, as a Chrome HAR's would be, with a warning, and the `end` record counts what was written.
#[test]
fn entries_stripped_of_their_frametap_fields_import_like_chrome_entries() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.jsonl");
    write_capture(&original, &rich_capture());
    let har = dir.path().join("session.har");
    convert(&cmd(&original, &har)).unwrap();
    let exported = frametap::har::read_har(&har).unwrap();
    let entry_count = exported["log"]["entries"].as_array().unwrap().len();
    assert!(entry_count >= 2);
    for strip in [vec![1], (0..entry_count).collect::<Vec<_>>()] {
        let mut edited = exported.clone();
        for index in &strip {
            edited["log"]["entries"][index].as_object_mut().unwrap().remove(frametap::har::EXTENSION);
        }
        let name = format!("stripped-{}", strip.len());
        let stripped = dir.path().join(format!("{name}.har"));
        std::fs::write(&stripped, serde_json::to_vec(&edited).unwrap()).unwrap();
        let back = dir.path().join(format!("{name}.jsonl"));
        let report = convert(&cmd(&stripped, &back)).unwrap();
        let warned = report.warnings.iter().filter(|w| w.contains("has no _frametap fields")).count();
        assert_eq!(warned, strip.len(), "{name}: {:?}", report.warnings);
        let capture = read_capture(&back).unwrap();
        // The fixture's odd records (a payload kept short of its `len`, a frame of a connection with no open) are
        // kept as they are, with their warnings.
        assert!(capture.has_end && capture.lost().next().is_none(), "{name}: {:?}", capture.problems);
        let Some((Record::End(end), rest)) = capture.records.split_last() else { panic!("{name}: no end") };
        let opens: Vec<ConnId> =
            rest.iter().filter_map(|r| if let Record::Open(o) = r { Some(o.conn) } else { None }).collect();
        let mut distinct = opens.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), opens.len(), "{name}: connection ids stay distinct: {opens:?}");
        assert_eq!(capture.connections().len(), entry_count, "{name}: every entry is a connection");
        let count = |kind: &str| rest.iter().filter(|r| r.kind() == kind).count() as u64;
        assert_eq!((end.connections, end.frames, end.records), (count("open"), count("frame"), rest.len() as u64));
        assert!(!end.complete && end.errors.len() == strip.len(), "{name}: {end:?}");
        // Each stripped entry's messages are there as frames of its connection.
        for index in &strip {
            let messages = edited["log"]["entries"][index]["_webSocketMessages"].as_array().unwrap();
            let conn = opens[opens.len() - strip.len() + strip.iter().position(|i| i == index).unwrap()];
            let frames = rest.iter().filter(|r| matches!(r, Record::Frame(f) if f.conn == conn)).count();
            assert_eq!(frames, messages.len(), "{name}: entry {index}");
        }
    }
}

#[test]
fn output_is_private_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.jsonl");
    std::fs::write(&out, "precious").unwrap();
    let err = convert(&cmd(&fixture("chrome-genesys.har"), &out)).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    let har = dir.path().join("export.har");
    let capture = dir.path().join("c.jsonl");
    write_capture(&capture, &rich_capture());
    convert(&cmd(&capture, &har)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&har).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn redact_replaces_secrets_both_ways() {
    let secret = "a3c1d1e2-77b4-4c0b-bb0c-91f5a4e0d2c7";
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("redacted.jsonl");
    let mut redacting = cmd(&fixture("chrome-genesys.har"), &capture);
    redacting.redact = true;
    convert(&redacting).unwrap();
    let text = std::fs::read_to_string(&capture).unwrap();
    assert!(!text.contains(secret), "the session token is gone");
    assert!(text.contains(frametap::redact::UUID_PLACEHOLDER_PREFIX), "replaced by a UUID-shaped placeholder");
    let records = read_capture(&capture).unwrap().records;
    assert!(matches!(&records[0], Record::Meta(m) if m.redacted));
    assert_eq!(frames(&records).len(), 8, "every frame kept");

    let plain = dir.path().join("plain.jsonl");
    convert(&cmd(&fixture("chrome-genesys.har"), &plain)).unwrap();
    let har = dir.path().join("redacted.har");
    let mut exporting = cmd(&plain, &har);
    exporting.redact = true;
    convert(&exporting).unwrap();
    let text = std::fs::read_to_string(&har).unwrap();
    assert!(!text.contains(secret) && text.contains(frametap::redact::UUID_PLACEHOLDER_PREFIX));
}

#[test]
fn the_binary_converts_and_fails_with_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&Path]| {
        crate::common::binary::frametap_command()
            .arg("convert")
            .args(args)
            .env("FRAMETAP_HOME", dir.path())
            .output()
            .unwrap()
    };
    let out = dir.path().join("chrome.jsonl");
    let ok = run(&[&fixture("chrome-genesys.har"), &out]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("1 connection, 8 frames") && stdout.contains("Chrome DevTools"), "{stdout}");
    // Said as frametap's other warnings are, naming the file as `inspect` does.
    let warned = format!(
        "frametap: warning: {}: skipped 1 entry that is not a WebSocket connection",
        fixture("chrome-genesys.har").display()
    );
    assert!(
        String::from_utf8_lossy(&ok.stderr).lines().any(|l| l.starts_with(&warned)),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let failed = run(&[&fixture("chrome-no-websocket.har"), &dir.path().join("none.jsonl")]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("frametap: error: ") && stderr.contains("chrome-no-websocket.har"), "{stderr}");
    assert!(!dir.path().join("none.jsonl").exists());
}

/// The export format is a contract: this golden file shows it (regenerate with FRAMETAP_BLESS=1 after a deliberate change).
#[test]
fn export_matches_the_golden_har() {
    let golden = fixture("frametap-export.har");
    let mut har = capture_to_har(&rich_capture());
    har["log"]["creator"]["version"] = json!("(version)");
    let text = serde_json::to_string_pretty(&har).unwrap() + "\n";
    if std::env::var_os("FRAMETAP_BLESS").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    assert_eq!(text, std::fs::read_to_string(&golden).unwrap(), "the HAR export changed: update docs/replay.md too");
    let (records, warnings) = har_to_records(&frametap::har::read_har(&golden).unwrap()).unwrap();
    assert_eq!(records, rich_capture(), "the golden HAR imports back to the very records");
    assert!(warnings.is_empty());
}

/// HTTP Toolkit's `"_webSocketClose": "aborted"` carries no time; `startedDateTime` + `time` can end before the
/// messages do. The close is dated no earlier than the last message, so the diagnosis has no negative gap.
#[test]
fn an_aborted_http_toolkit_close_comes_after_the_messages() {
    let har = json!({"log": {"creator": {"name": "HTTP Toolkit", "version": "1"}, "entries": [{
        "startedDateTime": "2024-05-01T10:00:01.000Z", "time": 120.5,
        "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
        "response": {"status": 101, "headers": []},
        "_webSocketClose": "aborted",
        "_webSocketMessages": [
            {"type": "send", "time": 1714557601.2, "opcode": 1, "data": "hello"},
            {"type": "receive", "time": 1714557602.1, "opcode": 1, "data": "world"}
        ]
    }]}});
    let (records, _) = har_to_records(&har).unwrap();
    let last_frame = records.iter().filter_map(|r| if let Record::Frame(f) = r { Some(f.ts) } else { None }).max();
    let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
    assert!(Some(close.ts) >= last_frame, "close at {:?}, last message at {last_frame:?}", close.ts);
    assert!((close.duration_ms - 1100.0).abs() < 0.01, "{}", close.duration_ms);
    assert!(close.detail.as_deref().unwrap().contains("dated at the last message"), "{close:?}");
    let diagnosis = common::first_diagnosis(&records);
    let gap = diagnosis.details["preceding"]["gap_ms"].as_f64().unwrap();
    assert!(gap >= 0.0, "negative gap {gap} in {:?}", diagnosis.details);
}

#[test]
fn a_chrome_entry_that_never_connected_is_not_said_to_have_got_a_502_from_frametap() {
    let har = json!({"log": {"creator": {"name": "WebInspector", "version": "537.36"}, "entries": [{
        "startedDateTime": "2026-11-26T10:00:01.000Z", "time": 3.0, "_resourceType": "websocket",
        "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
        "response": {"status": 0, "headers": [], "_error": "net::ERR_CONNECTION_REFUSED"},
        "_webSocketMessages": []
    }]}});
    let (records, _) = har_to_records(&har).unwrap();
    let note = notes(&records).into_iter().find(|n| n.code == "har-import-incomplete").unwrap().message.clone();
    assert!(note.contains("the WebSocket never opened") && !note.contains("how this connection ended"), "{note}");
    // The import writes the diagnosis beside the records, as the live proxy does (the web UI and a converted
    // capture show it), and it is what a fresh analysis derives.
    let imported = records.iter().find_map(|r| if let Record::Diagnosis(d) = r { Some(d.clone()) } else { None });
    let diagnosis = common::first_diagnosis(&records);
    assert_eq!(imported.as_ref(), Some(&diagnosis));
    let evidence = diagnosis.details["causes"][0]["evidence"].to_string();
    assert!(evidence.contains("the recording says it failed: net::ERR_CONNECTION_REFUSED"), "{evidence}");
    assert!(!evidence.contains("502"), "{evidence}");
    // Placed as the live proxy places it: after the notes about the handshake; it took the entry's time.
    let kinds: Vec<&str> = records.iter().filter(|r| r.conn() == Some(1)).map(|r| r.kind()).collect();
    assert_eq!(kinds, ["open", "note", "diagnosis"]);
    assert_eq!(diagnosis.details["duration_ms"], 3.0);
}

#[test]
fn messages_dated_before_the_entry_start_are_said_so_not_called_backwards() {
    let har = json!({"log": {"creator": {"name": "WebInspector", "version": "537.36"}, "entries": [{
        "startedDateTime": "2026-11-26T10:00:30.000Z", "time": 3.0, "_resourceType": "websocket",
        "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
        "response": {"status": 101, "headers": []},
        "_webSocketMessages": [
            {"type": "send", "time": 1795687206.0, "opcode": 1, "data": "first"},
            {"type": "receive", "time": 1795687207.0, "opcode": 1, "data": "second"}
        ]
    }]}});
    let (_, warnings) = har_to_records(&har).unwrap();
    assert!(!warnings.iter().any(|w| w.contains("go backwards")), "the times rise: {warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("dated before the entry's startedDateTime")), "{warnings:?}");
}

/// HTTP Toolkit's `_webSocketClose` (and a frametap HAR stripped of its `_frametap` fields) says the close code but
/// not who closed: the import says the closer is unknown, and the diagnosis claims no side for it.
#[test]
fn a_har_close_that_does_not_say_who_closed_is_not_blamed_on_the_server() {
    let (records, _, _) = import_fixture("httptoolkit-genesys.har");
    let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
    assert!(close.initiator_unknown && close.closer().is_none(), "{close:?}");
    let line = serde_json::to_value(close).unwrap();
    assert_eq!(line["initiator_unknown"], true, "{line}");
    let diagnosis = common::first_diagnosis(&records);
    assert_eq!(diagnosis.details["initiator"], "unknown");
    let summary = diagnosis.details["summary"].as_str().unwrap();
    assert!(summary.starts_with("closed with 4000") && summary.contains("does not say by whom"), "{summary}");
    let causes = diagnosis.details["causes"].as_array().unwrap();
    for cause in causes {
        let message = cause["message"].as_str().unwrap();
        assert!(!message.contains("the server closed") && !message.contains("client closed"), "{cause}");
        assert_ne!(cause["confidence"], "likely", "{cause}");
    }
    let code = causes.iter().find(|c| c["rule"] == "close-code").expect("a close-code cause");
    assert!(code["message"].as_str().unwrap().contains("does not say which side closed"), "{code}");
    let block = frametap::inspect::report::render_diagnosis(&diagnosis, false);
    assert!(block.contains(": an unknown side closed, reason"), "{block}");
    assert_eq!(close.closer_phrase(), "an unknown side");
}

/// Close frames among the messages (opcode 8, as Chrome records them) say who closed first.
#[test]
fn close_frames_in_a_har_say_who_closed_first() {
    let entry = |first: &str, second: &str| {
        json!({"log": {"creator": {"name": "HTTP Toolkit", "version": "1"}, "entries": [{
            "startedDateTime": "2024-05-01T10:00:01.000Z", "time": 1500.0,
            "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketClose": {"code": 4000, "reason": "bye", "timestamp": 1714557602.5},
            "_webSocketMessages": [
                {"type": "send", "time": 1714557601.2, "opcode": 1, "data": "hello"},
                {"type": first, "time": 1714557602.1, "opcode": 8, "code": 4000, "data": "bye"},
                {"type": second, "time": 1714557602.2, "opcode": 8, "code": 4000, "data": "bye"}
            ]
        }]}})
    };
    for (first, second, closer) in [("send", "receive", Peer::Client), ("receive", "send", Peer::Server)] {
        let (records, _) = har_to_records(&entry(first, second)).unwrap();
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
        assert_eq!(close.closer(), Some(closer), "{close:?}");
        assert!(close.clean && close.code == Some(4000), "{close:?}");
        let diagnosis = common::first_diagnosis(&records);
        assert_eq!(diagnosis.details["initiator"], closer.as_str());
    }
    // Without `_webSocketClose`, the close frames alone make the close.
    let mut har = entry("send", "receive");
    har["log"]["entries"][0].as_object_mut().unwrap().remove("_webSocketClose");
    let (records, _) = har_to_records(&har).unwrap();
    let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
    assert_eq!((close.closer(), close.code, close.reason.as_deref()), (Some(Peer::Client), Some(4000), Some("bye")));
}

/// Hand-edited or other tools' HARs: a message whose `data` is no string (an exporter that parsed JSON payloads),
/// one without `data`, one without a `time`. None is dropped or emptied silently.
#[test]
fn messages_with_missing_or_odd_fields_are_kept_and_warned_about() {
    let har = json!({"log": {"creator": {"name": "WebInspector"}, "entries": [{
        "startedDateTime": "2026-11-26T10:00:00.000Z",
        "time": 5000,
        "request": {"method": "GET", "url": "wss://example.com/socket", "headers": []},
        "response": {"status": 101, "headers": []},
        "_resourceType": "websocket",
        "_webSocketMessages": [
            {"type": "send", "time": 1795687201.0, "opcode": 1, "data": {"action": "subscribe", "n": 1}},
            {"type": "receive", "time": 1795687202.0, "opcode": 1},
            {"type": "send", "opcode": 1, "data": "no time"},
            {"type": "receive", "time": 1795687203.0, "opcode": 1, "data": "last"}
        ]
    }]}});
    let (records, warnings) = har_to_records(&har).unwrap();
    let frames = frames(&records);
    let texts: Vec<&str> = frames.iter().map(|f| f.text().unwrap()).collect();
    assert_eq!(texts, [r#"{"action":"subscribe","n":1}"#, "", "no time", "last"], "every message, in order");
    let warned = |needle: &str| assert!(warnings.iter().any(|w| w.contains(needle)), "{needle:?} in {warnings:#?}");
    warned("entry 1, message 1: `data` is not a string (an object): imported as its JSON text");
    warned("entry 1, message 2: no `data`: imported as an empty message");
    warned("entry 1, message 3: no usable `time`: dated as the message before it");
    assert_eq!(frames[2].ts, frames[1].ts);
}

/// A HAR close recorded as "aborted" that has close frames among its messages: the close frames say who closed,
/// with what code and reason; the diagnosis describes the abort as the recording has it (no close timeout of
/// frametap's ran), and a close the other side answered is a completed close handshake.
#[test]
fn an_aborted_close_with_close_frames_is_told_from_the_frames() {
    let entry = |creator: &str, answered: bool| {
        let mut messages = vec![
            json!({"type": "receive", "time": 1714557601.2, "opcode": 1, "data": "hello"}),
            json!({"type": "send", "time": 1714557602.1, "opcode": 8, "code": 1000, "data": "bye"}),
        ];
        if answered {
            messages.push(json!({"type": "receive", "time": 1714557602.2, "opcode": 8, "code": 1000, "data": "bye"}));
        }
        json!({"log": {"creator": {"name": creator, "version": "1"}, "entries": [{
            "startedDateTime": "2024-05-01T10:00:01.000Z", "time": 1500.0, "_resourceType": "websocket",
            "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketClose": "aborted",
            "_webSocketMessages": messages
        }]}})
    };
    for creator in ["WebInspector", "HTTP Toolkit"] {
        let (records, _) = har_to_records(&entry(creator, false)).unwrap();
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
        assert_eq!(
            (close.closer(), close.code, close.reason.as_deref()),
            (Some(Peer::Client), Some(1000), Some("bye"))
        );
        assert!(!close.clean && close.dropped_by.is_none(), "{close:?}");
        let detail = close.detail.as_deref().unwrap();
        assert!(
            detail.contains("the server's answer is not among the messages") && detail.contains("aborted"),
            "{detail}"
        );
        let imported = records.iter().find_map(|r| if let Record::Diagnosis(d) = r { Some(d.clone()) } else { None });
        let d = common::first_diagnosis(&records);
        assert_eq!(imported.as_ref(), Some(&d), "the import writes the diagnosis a fresh analysis derives");
        let text = serde_json::to_string(&d.details).unwrap();
        assert!(!text.contains("timeout") && !text.contains("timed out"), "no close timeout ran: {text}");
        let causes = d.details["causes"].as_array().unwrap();
        let rule =
            |name: &str| causes.iter().find(|c| c["rule"] == name).unwrap_or_else(|| panic!("no {name}: {text}"));
        assert!(rule("client-closed")["message"].as_str().unwrap().contains("(1000 \"bye\")"), "{text}");
        let unanswered = rule("close-unanswered")["message"].as_str().unwrap();
        assert!(
            unanswered.contains("the client closed first; the recording holds no close frame from the server and marks the connection aborted, without saying which side ended TCP or why"),
            "{unanswered}"
        );
        assert_eq!(d.details["how"], "closed, but the close handshake never completed");
        let summary = d.details["summary"].as_str().unwrap();
        assert!(summary.starts_with("client closed with 1000 Normal Closure after server frame #1"), "{summary}");

        // The server answered: the close handshake completed before the abort.
        let (records, _) = har_to_records(&entry(creator, true)).unwrap();
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
        assert!(close.clean, "{close:?}");
        let detail = close.detail.as_deref().unwrap();
        assert!(detail.contains("the server answered it; then the HAR records the connection as aborted"), "{detail}");
        let d = common::first_diagnosis(&records);
        let text = serde_json::to_string(&d.details).unwrap();
        assert!(!text.contains("timeout") && !text.contains("close-unanswered"), "{text}");
        assert_eq!(d.details["how"], "closed");
    }
}

/// A close message without `code` whose `data` is the raw close payload as text (2 bytes of code, then the
/// reason), as some tools save it: the code is read from those 2 characters when they are bytes (U+0000–U+00FF)
/// and make a close code, and never made up from text that is no close payload (a reason alone, a code byte
/// lost to a U+FFFD when the tool decoded the bytes as UTF-8): then the frame keeps no code, and a warning quotes
/// the `data`.
#[test]
fn close_data_holding_the_raw_close_payload_gives_its_code_or_a_warning_never_a_made_up_code() {
    let har = |data: &str| {
        json!({"log": {"creator": {"name": "WebInspector"}, "entries": [{
            "startedDateTime": "2026-11-26T10:00:00.000Z", "time": 5000, "_resourceType": "websocket",
            "request": {"method": "GET", "url": "wss://example.com/socket", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketMessages": [
                {"type": "receive", "time": 1795687201.0, "opcode": 1, "data": "hello"},
                {"type": "receive", "time": 1795687202.0, "opcode": 8, "data": data}
            ]
        }]}})
    };
    let close_of = |data: &str| {
        let (records, warnings) = har_to_records(&har(data)).unwrap();
        let frame = records
            .iter()
            .find_map(|r| match r {
                Record::Frame(f) if f.opcode == Opcode::Close => Some(f.clone()),
                _ => None,
            })
            .expect("the close frame is kept");
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c.clone()) } else { None });
        (frame.close_parts(), close.and_then(|c| c.code), warnings)
    };
    // 1000 "bye" as bytes in Latin-1 characters, and 4000 with a non-ASCII reason.
    let (parts, code, warnings) = close_of("\u{3}\u{e8}bye");
    assert_eq!((parts, code), ((Some(1000), Some("bye".to_owned())), Some(1000)), "{warnings:?}");
    assert!(warnings.iter().all(|w| !w.contains("close")), "{warnings:?}");
    let (parts, _, _) = close_of("\u{f}\u{a0}fermé");
    assert_eq!(parts, (Some(4000), Some("fermé".to_owned())));
    // The reason's UTF-8 bytes one character each, as the code's are: read back as the bytes ("café"), not as the
    // characters they look like ("cafÃ©"), with or without a `code` beside them.
    let (parts, code, _) = close_of("\u{3}\u{e8}caf\u{c3}\u{a9}");
    assert_eq!((parts, code), ((Some(1000), Some("café".to_owned())), Some(1000)));
    let mut with_code = har("\u{3}\u{e8}caf\u{c3}\u{a9}");
    with_code["log"]["entries"][0]["_webSocketMessages"][1]["code"] = json!(1000);
    let (records, _) = har_to_records(&with_code).unwrap();
    let reason = records.iter().find_map(|r| if let Record::Close(c) = r { c.reason.clone() } else { None });
    assert_eq!(reason.as_deref(), Some("café"));
    // The code's second byte lost (U+FFFD), or a reason alone: no code made up, and a warning quoting the data.
    for data in ["\u{3}\u{fffd}bye", "going away"] {
        let (parts, code, warnings) = close_of(data);
        assert_eq!((parts.0, code), (None, None), "{data:?}: no code made up");
        let quoted = format!("{data:?}");
        assert!(
            warnings.iter().any(|w| w.contains("entry 1, message 2: close `data` ")
                && w.contains(&quoted)
                && w.contains("imported without a code")),
            "{data:?}: {warnings:#?}"
        );
    }
}

/// A message `time` no capture can hold (1e300 seconds) is warned about, and the message kept, dated as the
/// message before it.
#[test]
fn a_message_time_out_of_range_is_warned_about_and_the_message_kept() {
    let har = json!({"log": {"creator": {"name": "WebInspector"}, "entries": [{
        "startedDateTime": "2026-11-26T10:00:00.000Z", "time": 5000, "_resourceType": "websocket",
        "request": {"method": "GET", "url": "wss://example.com/socket", "headers": []},
        "response": {"status": 101, "headers": []},
        "_webSocketMessages": [
            {"type": "send", "time": 1795687201.0, "opcode": 1, "data": "first"},
            {"type": "receive", "time": 1e300, "opcode": 1, "data": "far off"},
            {"type": "send", "time": 1795687203.0, "opcode": 1, "data": "last"}
        ]
    }]}});
    let (records, warnings) = har_to_records(&har).unwrap();
    let frames = frames(&records);
    let texts: Vec<&str> = frames.iter().map(|f| f.text().unwrap()).collect();
    assert_eq!(texts, ["first", "far off", "last"]);
    assert_eq!(frames[1].ts, frames[0].ts, "dated as the message before it");
    assert!(warnings.iter().any(|w| w.contains("entry 1, message 2: `time` 1e300 is out of range")), "{warnings:#?}");
}

/// A close time no capture can hold (`_webSocketClose.timestamp` 1e300, or a string), or an entry `time` that gives
/// none, is warned about as out-of-range message times are, saying what the close was dated by instead.
#[test]
fn a_close_time_out_of_range_is_warned_about_and_the_close_dated_otherwise() {
    let entry = |close: serde_json::Value, time: serde_json::Value| {
        let mut entry = json!({
            "startedDateTime": "2026-11-26T10:00:00.000Z", "time": time, "_resourceType": "websocket",
            "request": {"method": "GET", "url": "wss://example.com/socket", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketMessages": [
                {"type": "send", "time": 1795687201.0, "opcode": 1, "data": "first"},
                {"type": "receive", "time": 1795687202.0, "opcode": 8, "code": 1000, "data": "bye"}
            ]
        });
        if !close.is_null() {
            entry["_webSocketClose"] = close;
        }
        json!({"log": {"creator": {"name": "HTTP Toolkit"}, "entries": [entry]}})
    };
    let close_of = |records: &[Record]| {
        records.iter().find_map(|r| if let Record::Close(c) = r { Some(c.clone()) } else { None }).unwrap()
    };
    let cases = [
        (
            json!({"code": 1000, "reason": "bye", "timestamp": 1e300}),
            json!(900_000_000.0),
            "entry 1: `_webSocketClose.timestamp` 1e300 is out of range (no date a capture can hold): the close is \
             dated by startedDateTime + the entry's `time`",
        ),
        (
            json!({"code": 1000, "reason": "bye", "timestamp": "soon"}),
            json!(900_000_000.0),
            "entry 1: `_webSocketClose.timestamp` \"soon\" is not a number: the close is dated by startedDateTime + \
             the entry's `time`",
        ),
        (
            json!(null),
            json!(1e300),
            "entry 1: the entry's `time` 1e300 is out of range (no date a capture can hold): the close is dated by \
             startedDateTime",
        ),
    ];
    for (close, time, said) in cases {
        let (records, warnings) = har_to_records(&entry(close.clone(), time.clone())).unwrap();
        assert!(warnings.iter().any(|w| w == said), "{close} / {time}: {warnings:#?}");
        let close_record = close_of(&records);
        let started = frametap::event::Ts::from_micros(1_795_687_200_000_000).unwrap();
        let expected = match time.as_f64() {
            Some(ms) if ms < 1e12 => frametap::event::Ts::from_micros(started.micros() + (ms * 1000.0) as i64).unwrap(),
            _ => frames(&records).last().unwrap().ts,
        };
        assert_eq!(close_record.ts, expected, "{close} / {time}: dated as said");
    }
    // A usable timestamp is used, and nothing is said.
    let (records, warnings) =
        har_to_records(&entry(json!({"code": 1000, "timestamp": 1795687203.5}), json!(5))).unwrap();
    assert!(!warnings.iter().any(|w| w.contains("dated by")), "{warnings:#?}");
    assert_eq!(close_of(&records).ts.micros(), 1_795_687_203_500_000);
}

/// A HAR close's `duration_ms` is the span to the microsecond, as a capture writes spans: 1,476 µs reads 1.476,
/// never `1.4760000000000002` (seconds times 1000).
#[test]
fn an_imported_close_lasts_whole_microseconds() {
    // Dated by startedDateTime + `time`, rounded to the microsecond as every other HAR time is: 1.001 ms is
    // 1000.9999999999999 µs in floating point, which truncating made 1000.
    for (time, micros) in [(1.476, 1476), (1.001, 1001)] {
        let har = json!({"log": {"creator": {"name": "HTTP Toolkit", "version": "1"}, "entries": [{
            "startedDateTime": "2024-05-01T10:00:01.000Z", "time": time,
            "request": {"method": "GET", "url": "wss://example.test/ws", "headers": []},
            "response": {"status": 101, "headers": []},
            "_webSocketClose": {"code": 1000, "reason": ""},
            "_webSocketMessages": []
        }]}});
        let (records, _) = har_to_records(&har).unwrap();
        let close = records.iter().find_map(|r| if let Record::Close(c) = r { Some(c) } else { None }).unwrap();
        assert_eq!(json!(close.duration_ms).to_string(), json!(time).to_string());
        let started = Ts::from_micros(1_714_557_601_000_000).unwrap();
        assert_eq!(close.ts.micros() - started.micros(), micros, "{:?}", close.ts);
    }
}

/// A Chrome HAR of a WebSocket over HTTP/2 (RFC 8441): the extended CONNECT is answered 200, not 101, with a
/// `:status` pseudo-header. The import took it for an upgrade refused with 200 — "[certain] the WebSocket never
/// opened" beside the messages it carried — and `replay serve` answered 500 (":status" is no header name).
fn chrome_http2_websocket_har() -> serde_json::Value {
    json!({"log": {"creator": {"name": "WebInspector", "version": "537.36"}, "pages": [], "entries": [{
        "startedDateTime": "2026-11-26T10:00:00.000Z", "time": 2500.0, "_resourceType": "websocket",
        "request": {"method": "CONNECT", "url": "wss://chat.example.test/socket", "httpVersion": "h2", "headers": [
            {"name": ":method", "value": "CONNECT"}, {"name": ":protocol", "value": "websocket"},
            {"name": ":authority", "value": "chat.example.test"}, {"name": ":scheme", "value": "https"},
            {"name": ":path", "value": "/socket"}, {"name": "origin", "value": "https://shop.example.com"},
            {"name": "sec-websocket-version", "value": "13"}]},
        "response": {"status": 200, "statusText": "", "httpVersion": "h2",
            "headers": [{"name": ":status", "value": "200"}, {"name": "date", "value": "Thu, 26 Nov 2026 10:00:00 GMT"}],
            "content": {"size": 0, "mimeType": "x-unknown"}},
        "timings": {"blocked": -1, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": 12.5, "receive": 0},
        "_webSocketMessages": [
            {"type": "send", "time": 1795687200.5, "opcode": 1, "data": "{\"op\":\"hello\"}"},
            {"type": "receive", "time": 1795687201.0, "opcode": 1, "data": "{\"op\":\"welcome\"}"}
        ]
    }]}})
}

#[test]
fn a_chrome_websocket_over_http2_is_imported_as_opened() {
    let (records, warnings) = har_to_records(&chrome_http2_websocket_har()).unwrap();
    let open = records.iter().find_map(|r| if let Record::Open(o) = r { Some(o) } else { None }).unwrap();
    let response = open.response.as_ref().unwrap();
    assert_eq!(response.status, 101, "{open:?}");
    assert!(response.headers.iter().all(|(name, _)| !name.starts_with(':')), "{response:?}");
    assert_eq!(open.failed_ms, None);
    assert!(warnings.iter().any(|w| w.contains("a WebSocket over HTTP/2 or HTTP/3")), "{warnings:?}");
    let note = notes(&records).into_iter().find(|n| n.code == "har-import-incomplete").unwrap().message.clone();
    assert!(note.contains("opened over HTTP/2") && !note.contains("never opened"), "{note}");
    assert_eq!(frames(&records).len(), 2);
    let refused = records
        .iter()
        .any(|r| matches!(r, Record::Diagnosis(d) if format!("{:?}", d.details).contains("upgrade-refused")));
    assert!(!refused, "a WebSocket that carried messages is not a refused upgrade: {records:?}");
    // An HTTP/1.1 answer of 200 to an upgrade, with no message, stays what it is: a refusal.
    let mut plain = chrome_http2_websocket_har();
    let entry = &mut plain["log"]["entries"][0];
    entry["request"]["method"] = json!("GET");
    entry["request"]["httpVersion"] = json!("HTTP/1.1");
    entry["request"]["headers"] = json!([{"name": "Host", "value": "chat.example.test"}]);
    entry["response"]["httpVersion"] = json!("HTTP/1.1");
    entry["_webSocketMessages"] = json!([]);
    let (records, _) = har_to_records(&plain).unwrap();
    let open = records.iter().find_map(|r| if let Record::Open(o) = r { Some(o) } else { None }).unwrap();
    assert_eq!(open.response.as_ref().unwrap().status, 200);
}

/// `replay serve` of that HAR upgrades a real client and plays the recorded server message (it answered 500).
#[tokio::test]
async fn replay_serve_plays_a_chrome_websocket_over_http2() {
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("h2.har");
    std::fs::write(&har, chrome_http2_websocket_har().to_string()).unwrap();
    let (addr, stop, _reports) = support::start_serving(&har, &dir.path().join("out.jsonl")).await;
    let mut ws = support::connect(addr, "/socket").await;
    ws.send(true, Opcode::Text, b"{\"op\":\"hello\"}").await;
    let (opcode, _, payload) = support::read(&mut ws).await.expect("the recorded server message");
    assert_eq!((opcode, payload.as_slice()), (Opcode::Text, &b"{\"op\":\"welcome\"}"[..]));
    let _ = stop.send(());
}
