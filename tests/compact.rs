//! Compact captures (`--capture-format compact`, format version 2): the same session as JSON Lines in fewer
//! bytes, read by every command, converted to JSON Lines and back without a byte changed.

mod common;

use common::raw::{self, Received};
use common::{close_of, frames, start_proxy_as, test_config, Proxy};
use frametap::capture::{read_capture, CaptureFile, CaptureFormat};
use frametap::convert::{convert, ConvertCommand};
use frametap::event::{Opcode, Record};
use std::path::Path;

/// A session token in the connection's URL (for the redaction test).
const SECRET: &str = "9f1c2a3b-aaaa-4bbb-8ccc-123456789abc";

/// One connection through `proxy` to a raw echo server: text, binary with every byte value, a ping, a
/// fragmented text message, a 100 KB binary frame, then a close handshake.
async fn session(proxy: &Proxy) {
    let (head, ws, _) = raw::connect(proxy.addr, &format!("/v1?deploymentId=abc&token={SECRET}"), &[]).await;
    let mut ws = ws.unwrap_or_else(|| panic!("not upgraded: {head}"));
    let every_byte: Vec<u8> = (0..=255).collect();
    let big = vec![0xA5; 100_000];
    let sent: [(bool, Opcode, &[u8]); 6] = [
        (true, Opcode::Text, "{\"action\":\"echo\",\"text\":\"héllo\\n\"}".as_bytes()),
        (true, Opcode::Binary, &every_byte),
        (true, Opcode::Ping, b"are you there"),
        (false, Opcode::Text, "split \u{e9}".as_bytes()),
        (true, Opcode::Continuation, b" message"),
        (true, Opcode::Binary, &big),
    ];
    for (fin, opcode, payload) in sent {
        ws.send(fin, opcode, payload).await;
    }
    // The echoes of the two data frames, the pong, both fragments and the big frame.
    for _ in 0..6 {
        ws.frame().await;
    }
    ws.send(true, Opcode::Close, b"\x03\xe8bye").await;
    let close = ws.frame().await;
    assert!(close.header.opcode == Opcode::Close && close.payload[..] == b"\x03\xe8bye"[..], "the close comes back");
    assert!(matches!(ws.recv().await, Received::Eof));
}

/// A raw server that echoes data frames as sent, answers pings, and answers a close with the same close.
async fn echo(mut ws: raw::RawWs) {
    loop {
        match ws.recv().await {
            Received::Frame(f) if f.header.opcode == Opcode::Close => {
                ws.send(true, Opcode::Close, &f.payload).await;
                return;
            }
            Received::Frame(f) if f.header.opcode == Opcode::Ping => ws.send(true, Opcode::Pong, &f.payload).await,
            Received::Frame(f) if f.header.opcode.is_data() => ws.send(f.header.fin, f.header.opcode, &f.payload).await,
            Received::Frame(_) => {}
            _ => return,
        }
    }
}

/// What must be the same in two captures of the same session: every frame as the capture format writes it,
/// but for its time.
fn frames_as_written(capture: &CaptureFile) -> Vec<serde_json::Value> {
    frames(capture)
        .into_iter()
        .map(|frame| {
            let mut value = serde_json::to_value(Record::Frame(frame.clone())).unwrap();
            value.as_object_mut().unwrap().remove("ts");
            value
        })
        .collect()
}

/// [`session`] through a proxy with a compact capture: the capture as read, and its bytes.
async fn compact_session(server: std::net::SocketAddr) -> (CaptureFile, Vec<u8>) {
    let proxy = start_proxy_as(test_config(&format!("ws://{server}")), CaptureFormat::Compact).await;
    session(&proxy).await;
    proxy.stop_with_bytes().await
}

fn convert_file(input: &Path, output: &Path) {
    let cmd = ConvertCommand { input: input.into(), output: output.into(), redact: false, partial: false };
    convert(&cmd).unwrap();
}

#[tokio::test]
async fn a_compact_capture_holds_the_same_session_as_json_lines_in_fewer_bytes() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, echo).await;
    let mut captures = Vec::new();
    for format in [CaptureFormat::Jsonl, CaptureFormat::Compact] {
        let proxy = start_proxy_as(test_config(&format!("ws://{server}")), format).await;
        session(&proxy).await;
        let (capture, bytes) = proxy.stop_with_bytes().await;
        captures.push((capture, bytes.len()));
    }
    let [(jsonl, jsonl_size), (compact, compact_size)] = &captures[..] else { unreachable!() };
    assert_eq!(compact.meta().unwrap().version, 2, "a compact capture says so, so older readers refuse it");
    assert_eq!(jsonl.meta().unwrap().version, 1);
    assert!(compact.problems.is_empty() && compact.has_end, "{:?}", compact.problems);
    assert_eq!(frames(compact).len(), 14);
    assert_eq!(frames_as_written(compact), frames_as_written(jsonl));
    assert_eq!(close_of(compact, 1).code, Some(1000));
    assert!(compact_size * 4 < jsonl_size * 3, "compact {compact_size} bytes against JSON Lines {jsonl_size}");
}

#[tokio::test]
async fn convert_turns_a_compact_capture_into_json_lines_and_back_without_a_byte_changed() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, echo).await;
    let (capture, bytes) = compact_session(server).await;
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("session.ftcap");
    std::fs::write(&original, &bytes).unwrap();
    let (lines, back) = (dir.path().join("session.jsonl"), dir.path().join("again.ftcap"));
    convert_file(&original, &lines);
    let text = std::fs::read_to_string(&lines).expect("JSON Lines are text");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every line is JSON (for jq)");
    }
    let as_lines = read_capture(&lines).unwrap();
    assert_eq!(as_lines.meta().unwrap().version, 1, "JSON Lines are version 1 again");
    assert_eq!(as_lines.records.len(), capture.records.len());
    assert_eq!(frames_as_written(&as_lines), frames_as_written(&capture));
    convert_file(&lines, &back);
    let again = std::fs::read(&back).unwrap();
    if let Some(at) = again.iter().zip(&bytes).position(|(a, b)| a != b) {
        let show = |b: &[u8]| String::from_utf8_lossy(&b[at.saturating_sub(80)..(at + 80).min(b.len())]).into_owned();
        panic!("the compact file written again differs at byte {at}:\n{}\n{}", show(&again), show(&bytes));
    }
    assert_eq!(again.len(), bytes.len(), "the compact file written again is the same, byte for byte");

    let same_kind =
        ConvertCommand { input: original.clone(), output: dir.path().join("x.ftcap"), redact: false, partial: false };
    let error = convert(&same_kind).unwrap_err().to_string();
    assert!(error.contains("same kind of file") && error.contains("pass --partial"), "{error}");
}

/// `frametap convert --partial IN OUT` with IN and OUT of the same format, as a user runs it: what it prints, and
/// the repaired capture it wrote.
fn repair(input: &Path, output: &Path) -> (std::process::Output, CaptureFile) {
    let out = common::binary::frametap_command().args(["convert", "--partial"]).args([input, output]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "convert --partial {} {} failed: {stderr}", input.display(), output.display());
    (out, read_capture(output).unwrap())
}

/// What a repaired capture must be: complete to read, every record the cut one held kept (but its own `end`, if
/// any), then a `convert-partial` note and an `end` record saying records were lost.
fn assert_repaired(cut: &CaptureFile, repaired: &CaptureFile) {
    assert!(repaired.problems.is_empty() && repaired.has_end, "{:?}", repaired.problems);
    assert!(repaired.incomplete().is_none(), "the repaired file reads without --partial");
    let kept = cut.records.len();
    assert_eq!(repaired.records.len(), kept + 2, "every readable record, a note and an end");
    for (before, after) in cut.records.iter().zip(&repaired.records) {
        assert_eq!(serde_json::to_value(before).unwrap(), serde_json::to_value(after).unwrap());
    }
    let Record::Note(note) = &repaired.records[kept] else { panic!("{:?}", repaired.records[kept]) };
    assert_eq!(note.code, "convert-partial");
    let Record::End(end) = &repaired.records[kept + 1] else { panic!("{:?}", repaired.records[kept + 1]) };
    assert!(!end.complete, "{end:?}");
    assert_eq!(end.records, kept as u64 + 1, "{end:?}");
    assert!(end.errors.iter().any(|e| e.contains("no end record: it was cut short")), "{end:?}");
}

#[tokio::test]
async fn convert_partial_repairs_a_cut_off_capture_into_one_of_the_same_format() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, echo).await;
    let (_, bytes) = compact_session(server).await;
    let dir = tempfile::tempdir().unwrap();
    let (cut_path, fixed) = (dir.path().join("cut.ftcap"), dir.path().join("fixed.ftcap"));
    let cut = bytes.windows(64).position(|w| w.iter().all(|&b| b == 0xA5)).unwrap() + 1000;
    std::fs::write(&cut_path, &bytes[..cut]).unwrap();

    let refused = common::binary::frametap_command().arg("convert").args([&cut_path, &fixed]).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("pass --partial"), "{stderr}");
    assert!(!fixed.exists(), "nothing written without --partial");

    let (out, repaired) = repair(&cut_path, &fixed);
    assert_eq!(repaired.meta().unwrap().version, 2, "a compact capture repaired stays compact");
    assert_repaired(&read_capture(&cut_path).unwrap(), &repaired);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("compact frame at byte"), "the skipped bytes are named: {stderr}");

    // JSON Lines to JSON Lines too: the repaired compact capture written as lines, then cut mid-line.
    let (lines, cut_lines, fixed_lines) =
        (dir.path().join("a.jsonl"), dir.path().join("cut.jsonl"), dir.path().join("fixed.jsonl"));
    convert_file(&cut_path.with_file_name("fixed.ftcap"), &lines);
    let text = std::fs::read_to_string(&lines).unwrap();
    std::fs::write(&cut_lines, &text[..text.len() - 30]).unwrap();
    let (_, repaired) = repair(&cut_lines, &fixed_lines);
    assert_eq!(repaired.meta().unwrap().version, 1);
    assert_repaired(&read_capture(&cut_lines).unwrap(), &repaired);

    // A complete capture has nothing to repair: it is copied, and the user is told so.
    let (out, copy) = repair(&fixed_lines, &dir.path().join("copy.jsonl"));
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(warned.contains("nothing to repair"), "{warned}");
    assert_eq!(warned.matches("fixed.jsonl").count(), 1, "the warning names the input once: {warned}");
    assert_eq!(copy.records.len(), repaired.records.len());
}

#[tokio::test]
async fn a_cut_off_compact_capture_keeps_every_record_before_the_cut() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, echo).await;
    let (whole, bytes) = compact_session(server).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.ftcap");
    // Cut inside the 100 KB frame's payload (the largest record).
    let cut = bytes.windows(64).position(|w| w.iter().all(|&b| b == 0xA5)).unwrap() + 1000;
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let partial = read_capture(&path).unwrap();
    assert!(!partial.has_end);
    assert_eq!(partial.problems.len(), 1, "{:?}", partial.problems);
    let problem = &partial.problems[0];
    assert!(problem.truncated(), "{problem}");
    assert!(problem.to_string().contains("compact frame at byte"), "{problem}");
    let kept = partial.records.len();
    assert_eq!(
        &whole.records[..kept].iter().map(Record::kind).collect::<Vec<_>>(),
        &partial.records.iter().map(Record::kind).collect::<Vec<_>>()
    );
    assert!(matches!(&whole.records[kept], Record::Frame(f) if f.len == 100_000), "the cut frame is the one lost");
}

#[tokio::test]
async fn a_redacted_copy_of_a_compact_capture_stays_compact() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, echo).await;
    let (capture, bytes) = compact_session(server).await;
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.ftcap"), dir.path().join("out.ftcap"));
    std::fs::write(&input, &bytes).unwrap();
    let status = crate::common::binary::frametap_command().arg("redact").args([&input, &output]).status().unwrap();
    assert!(status.success());
    let written = std::fs::read(&output).unwrap();
    assert!(!String::from_utf8_lossy(&written).contains(SECRET), "the session token is masked");
    let redacted = read_capture(&output).unwrap();
    let meta = redacted.meta().unwrap();
    assert!(meta.redacted && meta.version == 2, "{meta:?}");
    assert_eq!(
        frames_as_written(&redacted),
        frames_as_written(&capture),
        "frames without secrets are kept as they were"
    );
    assert!(written.len() < bytes.len() + 1000, "frames stay compact: {} bytes from {}", written.len(), bytes.len());
}

#[test]
fn a_joined_capture_converts_with_its_records_in_place() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/relayed-session.jsonl");
    let session = std::fs::read_to_string(golden).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let joined = dir.path().join("joined.jsonl");
    // The second session's connection numbers follow the first's, as a join by hand would renumber them.
    let second = session.replace("\"conn\":1,", "\"conn\":101,");
    std::fs::write(&joined, format!("{session}{second}")).unwrap();
    let compact = dir.path().join("joined.ftcap");
    convert_file(&joined, &compact);
    let kinds =
        |path: &Path| -> Vec<&'static str> { read_capture(path).unwrap().records.iter().map(Record::kind).collect() };
    let original = kinds(&joined);
    assert_eq!(original.iter().filter(|kind| **kind == "end").count(), 2);
    assert_eq!(kinds(&compact), original);
}
