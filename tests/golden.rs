//! Captures read back against golden files: the capture format is a public contract (docs/capture-format.md).
//! Regenerate after an intended format change with `FRAMETAP_UPDATE_GOLDEN=1 cargo test --test golden` (one run
//! writes every file: the compact form is made from the session just recorded, not from the file being rewritten,
//! and the copies of the JSON Lines ones in the capture reader's fuzz corpus).

mod common;

use common::raw::{self, Answer, RawWs, Received};
use common::{start_proxy, test_config};
use frametap::event::Opcode;
use serde_json::Value;
use std::path::Path;

/// Replaces what differs between runs (times, ports, keys, durations) with fixed placeholders.
fn normalise(value: &mut Value, ports: &[u16]) {
    match value {
        Value::Object(map) => {
            // Optional and platform-dependent (the kernel's round trip, Linux only): the golden files stay as
            // captures without it were written, so they also prove that readers accept its absence.
            map.remove("upstream_tcp_rtt_ms");
            for (key, field) in map.iter_mut() {
                match key.as_str() {
                    "ts" => *field = "2000-01-01T00:00:00.000000Z".into(),
                    "client_addr" => *field = "127.0.0.1:CLIENT_PORT".into(),
                    "handshake_ms" | "duration_ms" | "failed_ms" | "upgraded_ms" => *field = serde_json::json!(0.0),
                    "frametap" => *field = "VERSION".into(),
                    _ => normalise(field, ports),
                }
            }
        }
        Value::Array(items) => {
            if let [Value::String(name), Value::String(v)] = items.as_mut_slice() {
                if ["sec-websocket-key", "sec-websocket-accept"].contains(&name.as_str()) {
                    *v = "KEY".into();
                }
            }
            for item in items {
                normalise(item, ports);
            }
        }
        Value::String(text) => {
            for (port, name) in ports.iter().zip(["SERVER_PORT", "PROXY_PORT"]) {
                *text = text.replace(&format!(":{port}"), &format!(":{name}"));
            }
        }
        _ => {}
    }
}

/// Checks the capture `text`, normalised, against `tests/golden/<name>` (writing it first under
/// FRAMETAP_UPDATE_GOLDEN), and returns the normalised text.
fn check_golden(name: &str, text: &str, ports: &[u16]) -> String {
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut value: Value = serde_json::from_str(line).unwrap();
        normalise(&mut value, ports);
        lines.push(serde_json::to_string(&value).unwrap());
    }
    let actual = lines.join("\n") + "\n";
    let golden_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("FRAMETAP_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &actual).unwrap();
        // The capture reader's fuzz corpus starts from the golden captures (tests/fuzz_corpus.rs checks the copy).
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus/capture_reader").join(name);
        std::fs::write(seed, &actual).unwrap();
    }
    let golden = std::fs::read_to_string(&golden_path)
        .unwrap_or_else(|e| panic!("{}: {e} (FRAMETAP_UPDATE_GOLDEN=1 creates it)", golden_path.display()));
    assert_eq!(actual, golden, "the capture differs from {}", golden_path.display());
    // The golden file itself reads back, record for record, and re-serialises to the same lines.
    let capture = frametap::capture::parse_capture(&golden).unwrap();
    assert!(capture.problems.is_empty() && capture.has_end);
    for (record, line) in capture.records.iter().zip(golden.lines()) {
        let again: Value = serde_json::to_value(record).unwrap();
        assert_eq!(again, serde_json::from_str::<Value>(line).unwrap());
    }
    actual
}

#[tokio::test]
async fn a_relayed_session_matches_the_golden_capture() {
    let (server, _) = raw::start_raw_server(
        |_| Answer::Upgrade(vec![("Sec-WebSocket-Protocol".into(), "chat".into())]),
        |mut ws: RawWs| async move {
            loop {
                let Received::Frame(f) = ws.recv().await else { return };
                match f.header.opcode {
                    Opcode::Ping => ws.send(true, Opcode::Pong, &f.payload).await,
                    Opcode::Close => {
                        ws.send(true, Opcode::Close, &f.payload).await;
                        return;
                    }
                    Opcode::Continuation if f.header.fin => ws.send(true, Opcode::Text, &f.payload).await,
                    op if f.header.fin => ws.send(true, op, &f.payload).await,
                    _ => {}
                }
            }
        },
    )
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let (_, ws, _) = raw::connect(
        proxy.addr,
        "/v1?deploymentId=00000000-0000-0000-0000-000000000001",
        &[("Origin", "https://app.example"), ("Sec-WebSocket-Protocol", "chat"), ("Cookie", "other_app=1")],
    )
    .await;
    let mut ws = ws.unwrap();
    ws.send(true, Opcode::Text, br#"{"action":"configureSession","token":"t-1"}"#).await;
    ws.frame().await;
    ws.send(true, Opcode::Binary, &[0xde, 0xad, 0xbe, 0xef]).await;
    ws.frame().await;
    ws.send(true, Opcode::Ping, b"hb").await;
    ws.frame().await;
    ws.send(false, Opcode::Text, b"part one, ").await;
    ws.send(true, Opcode::Continuation, b"part two").await;
    ws.frame().await;
    ws.send(true, Opcode::Text, &[0xff, 0xfe]).await;
    ws.frame().await;
    ws.send(true, Opcode::Close, b"\x03\xe8done").await;
    ws.frame().await;
    assert!(matches!(ws.recv().await, Received::Eof));
    drop(ws);
    let proxy_port = proxy.addr.port();
    let (capture, text) = proxy.stop_with_text().await;
    if cfg!(target_os = "linux") {
        let open = common::open_of(&capture, 1);
        assert!(open.upstream_tcp_rtt_ms.is_some_and(|ms| ms > 0.0), "the kernel's round trip: {open:?}");
    }
    let jsonl = check_golden("relayed-session.jsonl", &text, &[server.port(), proxy_port]);
    check_compact_golden(&jsonl);
}

#[tokio::test]
async fn a_refused_upgrade_matches_the_golden_capture() {
    let (server, _) = raw::start_raw_server(
        |_| Answer::Refuse(403, vec![("Content-Type".into(), "text/plain".into())], b"deployment not allowed".to_vec()),
        |_ws: RawWs| async {},
    )
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let (head, _, _) = raw::connect(proxy.addr, "/v1?deploymentId=bad", &[]).await;
    assert!(head.starts_with("HTTP/1.1 403"));
    let proxy_port = proxy.addr.port();
    let (_, text) = proxy.stop_with_text().await;
    check_golden("refused-upgrade.jsonl", &text, &[server.port(), proxy_port]);
}

/// The compact form (format version 2) is a contract too: the golden session converted to it must give the
/// bytes of tests/golden/relayed-session.ftcap, and converted back, the golden JSON Lines byte for byte. `jsonl` is
/// the session the test just recorded (equal to the golden file once checked), so under FRAMETAP_UPDATE_GOLDEN both
/// files are written from it in one run; reading the JSON Lines file instead raced the test rewriting it.
fn check_compact_golden(jsonl: &str) {
    use frametap::convert::{convert, ConvertCommand};
    let dir = tempfile::tempdir().unwrap();
    let (recorded, compact, back) =
        (dir.path().join("recorded.jsonl"), dir.path().join("session.ftcap"), dir.path().join("session.jsonl"));
    std::fs::write(&recorded, jsonl).unwrap();
    let run = |input: &Path, output: &Path| {
        convert(&ConvertCommand { input: input.into(), output: output.into(), redact: false, partial: false }).unwrap()
    };
    run(&recorded, &compact);
    let actual = std::fs::read(&compact).unwrap();
    let golden_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/relayed-session.ftcap");
    if std::env::var_os("FRAMETAP_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &actual).unwrap();
    }
    let golden = std::fs::read(&golden_path)
        .unwrap_or_else(|e| panic!("{}: {e} (FRAMETAP_UPDATE_GOLDEN=1 creates it)", golden_path.display()));
    assert!(actual == golden, "the compact form differs from {}", golden_path.display());
    run(&compact, &back);
    assert!(
        std::fs::read(&back).unwrap() == jsonl.as_bytes(),
        "compact and back is the golden JSON Lines, byte for byte"
    );
}
