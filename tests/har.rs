//! HAR export: lossless round trips through a HAR, the Chrome HAR shape, timings and the golden HAR
//! (import: har_import.rs, har_import_close.rs; `frametap convert`: har_convert.rs).

mod common;

use common::har::*;
use frametap::capture::read_capture;
use frametap::convert::convert;
use frametap::event::*;
use frametap::har::{capture_to_har, har_to_records, HarSource};
use serde_json::json;

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
