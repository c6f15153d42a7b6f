//! `inspect`, `redact` and `convert` on a load test's capture (96 MiB of 64 KiB frames, compact): each reads it as
//! it goes, so its peak memory stays far below the capture's size.
//!
//! In a file of its own, and checking outputs without holding them: a child's peak memory (`ru_maxrss`) starts from
//! the peak of the test process that spawned it, so that must stay small.

mod common;

use common::large::{peak_rss_of, write_chrome_har, write_load_capture, HAR_MESSAGES, LOAD_FRAMES};
use frametap::event::Record;
use std::path::Path;

/// The frames of a capture and whether it read complete, counted as it is read.
fn frames_in(path: &Path) -> (u64, bool) {
    let mut stream = frametap::capture::open_capture(path).unwrap();
    let mut frames = 0;
    while let Some(record) = stream.next_record().unwrap() {
        frames += u64::from(matches!(record, Record::Frame(_)));
    }
    let end = stream.finish().unwrap();
    (frames, end.has_end && end.problems.is_empty())
}

#[test]
fn a_large_capture_is_inspected_as_it_is_read_not_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.ftcap");
    let size = write_load_capture(&path);
    let out_path = dir.path().join("report.txt");
    let mut command = common::binary::frametap_command();
    command.args(["inspect".as_ref(), path.as_os_str()]).stdout(std::fs::File::create(&out_path).unwrap());
    let peak = peak_rss_of(command);
    let report = std::fs::read_to_string(&out_path).unwrap();
    assert!(report.contains(&format!("#{LOAD_FRAMES} server→client binary 65536B  <65536 bytes>")), "{report:.2000}");
    assert!(report.contains("closed"), "{report:.2000}");
    assert!(peak < size / 3, "inspect peaked at {} MiB for a {} MiB capture", peak >> 20, size >> 20);
}

#[test]
fn a_large_capture_is_redacted_as_it_is_read_not_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.ftcap");
    let size = write_load_capture(&path);
    let copy = dir.path().join("copy.ftcap");
    let mut command = common::binary::frametap_command();
    command.args(["redact".as_ref(), path.as_os_str(), copy.as_os_str()]).stderr(std::process::Stdio::null());
    let peak = peak_rss_of(command);
    assert_eq!(frames_in(&copy), (LOAD_FRAMES, true));
    assert!(peak < size / 3, "redact peaked at {} MiB for a {} MiB capture", peak >> 20, size >> 20);
}

#[test]
fn a_large_compact_capture_converts_to_json_lines_as_it_is_read_not_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.ftcap");
    let size = write_load_capture(&path);
    let lines = dir.path().join("load.jsonl");
    let mut command = common::binary::frametap_command();
    command.args(["convert".as_ref(), path.as_os_str(), lines.as_os_str()]).stdout(std::process::Stdio::null());
    let peak = peak_rss_of(command);
    assert_eq!(frames_in(&lines), (LOAD_FRAMES, true));
    assert!(!dir.path().join("load.jsonl.part").exists(), "the part file became OUT");
    assert!(peak < size / 3, "convert peaked at {} MiB for a {} MiB capture", peak >> 20, size >> 20);
}

#[test]
fn a_large_chrome_har_imports_in_a_few_times_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chrome.har");
    let size = write_chrome_har(&path);
    let capture = dir.path().join("chrome.jsonl");
    let mut command = common::binary::frametap_command();
    command.args(["convert".as_ref(), path.as_os_str(), capture.as_os_str()]).stdout(std::process::Stdio::null());
    let peak = peak_rss_of(command);
    assert_eq!(frames_in(&capture), (HAR_MESSAGES, true));
    // Measured: 202 MiB for the 43 MiB HAR (it was 5xx MiB when the import built a serde_json::Value of the file and
    // held every derived record).
    assert!(peak < size * 6, "convert peaked at {} MiB for a {} MiB HAR", peak >> 20, size >> 20);
}

#[test]
fn a_large_capture_exports_to_a_har_without_building_it_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.ftcap");
    let size = write_load_capture(&path);
    let har = dir.path().join("load.har");
    let mut command = common::binary::frametap_command();
    command.args(["convert".as_ref(), path.as_os_str(), har.as_os_str()]).stdout(std::process::Stdio::null());
    let peak = peak_rss_of(command);
    // Measured: 111 MiB for the 96 MiB capture, whose records convert holds (620 MiB when it built a
    // serde_json::Value of the HAR, then its text).
    assert!(peak < size * 3 / 2, "convert peaked at {} MiB for a {} MiB capture", peak >> 20, size >> 20);
}
