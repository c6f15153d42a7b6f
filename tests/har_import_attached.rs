//! HAR import of Playwright's attached messages: with `content: "attach"` (the default for a `.zip` path) each
//! WebSocket's messages are a JSON Lines file of their own, inside the `.zip` or beside the `.har`. Both fixtures were
//! recorded by Playwright 1.65.1 driving headless Chromium 156 against `frametap sim genesys` (the `.har` one without
//! the page body's attached file, which the import does not read).

mod common;

use common::har::*;
use frametap::convert::convert;
use frametap::event::*;
use frametap::har::{har_to_records, HarSource};
use serde_json::json;
use std::path::Path;

const MESSAGES_FILE: &str = "837352e90cfed7943cd1f9b9771364dd.jsonl";

#[test]
fn a_playwright_zip_imports_with_the_messages_it_keeps_beside_its_har() {
    let (records, warnings, report) = import_fixture("playwright-genesys.zip");
    assert_eq!(report.source, Some(HarSource::Playwright));
    assert_eq!((report.connections, report.frames), (1, 8), "every message of the attached file");
    assert_eq!(warnings, ["skipped 1 entry that is not a WebSocket connection (plain HTTP)"]);
    let frames = frames(&records);
    assert!(frames[0].text().unwrap().contains("configureSession") && frames[0].from == Peer::Client);
    assert!(frames[1].text().unwrap().contains("SessionResponse") && frames[1].from == Peer::Server);
    assert!(frames[4].text().unwrap().contains("no action"));
    assert!(frames.windows(2).all(|w| w[0].ts <= w[1].ts), "millisecond times, in order");
}

/// `inspect` (and `ui FILE`, `redact`, the replays, which open files the same way) takes the `.zip` as a HAR.
#[test]
fn inspect_reads_a_playwright_zip() {
    let report = inspect_report(fixture("playwright-genesys.zip"));
    assert!(report.contains("genesys-no-action: frame #5 has no `action`"), "{report}");
}

#[test]
fn a_har_recorded_with_attach_reads_the_file_beside_it() {
    let (records, warnings, _) = import_fixture("playwright-attach/pw.har");
    assert_eq!(frames(&records).len(), 7, "{warnings:#?}");
    assert_eq!(warnings, ["skipped 1 entry that is not a WebSocket connection (plain HTTP)"]);
}

/// A HAR copied without its attached file still imports its connection, and the warning says where the file was
/// looked for and what to do.
#[test]
fn an_attached_file_left_behind_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("pw.har");
    std::fs::copy(fixture("playwright-attach/pw.har"), &har).unwrap();
    let (report, records) = import(&har);
    assert_eq!((report.connections, report.frames), (1, 0));
    assert!(records.iter().any(|r| matches!(r, Record::Open(_))));
    let said = report.warnings.iter().find(|w| w.contains(MESSAGES_FILE)).expect("the file is named");
    for part in ["could not be read beside the HAR", &dir.path().display().to_string(), "keep that file beside the HAR"]
    {
        assert!(said.contains(part), "{part:?} in {said}");
    }
}

/// A recorder stopped mid-write leaves its last line cut: the lines before it import, and the warning counts both.
#[test]
fn a_cut_last_line_is_skipped_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("pw.har");
    std::fs::copy(fixture("playwright-attach/pw.har"), &har).unwrap();
    let whole = std::fs::read(fixture(&format!("playwright-attach/{MESSAGES_FILE}"))).unwrap();
    let last_line_starts = whole[..whole.len() - 1].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    std::fs::write(dir.path().join(MESSAGES_FILE), &whole[..last_line_starts + 40]).unwrap();
    let (report, _) = import(&har);
    assert_eq!(report.frames, 6);
    let said = report.warnings.iter().find(|w| w.contains("no JSON message")).expect("the cut line is said");
    assert!(
        said.contains("1 line that is no JSON message (the first: line 7") && said.contains("other 6 messages kept")
    );
}

/// The file name comes from the HAR: one with a folder part is not followed out of the HAR's folder.
#[test]
fn an_attached_name_outside_the_folder_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("inner")).unwrap();
    std::fs::write(dir.path().join("secret.jsonl"), r#"{"type":"send","time":1795781535114.8,"opcode":1,"data":"x"}"#)
        .unwrap();
    let har = dir.path().join("inner/pw.har");
    std::fs::write(&har, serde_json::to_vec(&attached_har("../secret.jsonl")).unwrap()).unwrap();
    let (report, _) = import(&har);
    assert_eq!(report.frames, 0, "the file outside the HAR's folder was not read");
    assert!(report.warnings.iter().any(|w| w.contains("is not a file name")), "{:#?}", report.warnings);
}

/// A HAR given as JSON has no folder to look in: said so.
#[test]
fn a_har_given_as_json_says_its_attached_file_cannot_be_looked_for() {
    let (_, warnings) = har_to_records(&attached_har("0f3c.jsonl")).unwrap();
    let said = warnings.iter().find(|w| w.contains("0f3c.jsonl")).unwrap_or_else(|| panic!("{warnings:#?}"));
    assert!(said.contains("given as JSON, not read from a file"), "{said}");
}

#[test]
fn a_zip_that_is_not_one_or_holds_no_har_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let not_zip = dir.path().join("x.zip");
    std::fs::write(&not_zip, b"{\"log\":{}}").unwrap();
    let out = dir.path().join("out.jsonl");
    let error = convert(&cmd(&not_zip, &out)).unwrap_err().to_string();
    assert!(error.contains("not a zip archive"), "{error}");
    let no_har = dir.path().join("y.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&no_har).unwrap());
    zip.start_file("notes.txt", zip::write::SimpleFileOptions::default()).unwrap();
    std::io::Write::write_all(&mut zip, b"hello").unwrap();
    zip.finish().unwrap();
    let error = convert(&cmd(&no_har, &out)).unwrap_err().to_string();
    assert!(error.contains("a zip archive with no .har file in it"), "{error}");
    let raw = std::fs::read(fixture("playwright-genesys.zip")).unwrap();
    let cut = dir.path().join("cut.zip");
    std::fs::write(&cut, &raw[..raw.len() / 2]).unwrap();
    let error = format!("{:#}", convert(&cmd(&cut, &out)).unwrap_err());
    assert!(error.contains("corrupt or was cut off"), "{error}");
    assert!(!out.exists(), "nothing written");
}

fn import(har: &Path) -> (frametap::convert::ConvertReport, Vec<Record>) {
    let out = har.with_extension("jsonl");
    let report = convert(&cmd(har, &out)).unwrap();
    (report, frametap::capture::read_capture(&out).unwrap().records)
}

fn attached_har(file: &str) -> serde_json::Value {
    json!({"log": {"creator": {"name": "Playwright", "version": "1.65.1"}, "entries": [{
        "startedDateTime": "2026-11-27T12:12:15.114Z", "time": -1, "_resourceType": "websocket",
        "request": {"method": "GET", "url": "ws://127.0.0.1:19555/v1?deploymentId=d", "headers": []},
        "response": {"status": 101, "headers": [], "content": {"size": -1, "mimeType": "x-unknown", "_file": file}}
    }]}})
}
