//! `inspect`, `redact` and `convert` on a load test's capture (96 MiB of 64 KiB frames, compact): each reads it as
//! it goes, so its peak memory stays far below the capture's size.
//!
//! In a file of its own, and checking outputs without holding them: a child's peak memory (`ru_maxrss`) starts from
//! the peak of the test process that spawned it, so that must stay small.

mod common;

use common::large::{frames_in, peak_rss_of, write_load_capture, LOAD_FRAMES};

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
