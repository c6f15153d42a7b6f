//! `convert` of a large Chrome HAR to a capture, and of a load test's capture to a HAR: the import holds the file, its
//! parse and its records but not what the analysis derives from them, and the export writes the HAR as it makes it
//! from a spill of the capture, holding one connection's records at a time and their payloads one message at a time.
//!
//! In a test binary of its own, apart from tests/large_captures.rs, and checking outputs without holding them: a
//! child's peak memory (`ru_maxrss`) starts from the peak of the test process that spawned it, so each test here
//! must keep the process small for the others' measures, and these larger peaks must not touch that file's tighter
//! bounds.

// Unix only: it reads a command's peak memory from wait4.
#![cfg(unix)]

mod common;

use common::large::{
    frames_in, peak_rss_of, write_chrome_har, write_load_capture, write_many_connections_capture, HAR_MESSAGES,
    MANY_CONNECTIONS,
};
use std::io::{BufRead, Read, Seek};

#[test]
fn a_large_chrome_har_converts_in_a_few_times_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chrome.har");
    let size = write_chrome_har(&path);
    let capture = dir.path().join("chrome.jsonl");
    let mut command = common::binary::frametap_command();
    command.args(["convert".as_ref(), path.as_os_str(), capture.as_os_str()]);
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let peak = peak_rss_of(command);
    assert_eq!(frames_in(&capture), (HAR_MESSAGES, true));
    // Measured: 202 MiB for this 43 MiB HAR; 494 MiB when the import built a serde_json::Value of the HAR and held
    // every record the analysis derived before writing any.
    assert!(peak < size * 6, "convert peaked at {} MiB for a {} MiB HAR", peak >> 20, size >> 20);
}

#[test]
fn a_large_capture_of_one_connection_converts_to_a_har_one_message_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.ftcap");
    let size = write_load_capture(&path);
    let har = dir.path().join("load.har");
    let mut command = common::binary::frametap_command();
    command.args(["convert".as_ref(), path.as_os_str(), har.as_os_str()]).stdout(std::process::Stdio::null());
    let peak = peak_rss_of(command);
    // The HAR is all there (its base64 messages, then the log's `_frametap` block last), read from its end only.
    let mut file = std::fs::File::open(&har).unwrap();
    let har_size = file.metadata().unwrap().len();
    assert!(har_size > size * 4 / 3, "{har_size} bytes of HAR for {size} bytes of capture");
    file.seek(std::io::SeekFrom::End(-2048)).unwrap();
    let mut tail = String::new();
    file.read_to_string(&mut tail).unwrap();
    assert!(tail.contains("\"format\": \"frametap-har\"") && tail.trim_end().ends_with('}'), "{tail}");
    // Measured: 9 MiB for this 96 MiB capture of one connection, whose frames convert holds without their payloads,
    // read back from its spill one message at a time; 111 MiB when it held every record, 636 MiB when it built a
    // serde_json::Value of the HAR, then its text.
    assert!(peak < size / 4, "convert peaked at {} MiB for a {} MiB capture", peak >> 20, size >> 20);
}

#[test]
fn a_capture_of_many_connections_converts_to_a_har_one_connection_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.ftcap");
    let size = write_many_connections_capture(&path);
    let har = dir.path().join("many.har");
    let mut command = common::binary::frametap_command();
    command.args(["convert".as_ref(), path.as_os_str(), har.as_os_str()]).stdout(std::process::Stdio::null());
    let peak = peak_rss_of(command);
    // Every connection is an entry (counted line by line: the HAR is pretty-printed), and the spill is gone.
    let lines = std::io::BufReader::new(std::fs::File::open(&har).unwrap()).lines();
    let entries = lines.map(Result::unwrap).filter(|line| line.trim() == r#""_resourceType": "websocket","#).count();
    assert_eq!(entries as u64, MANY_CONNECTIONS);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "only the capture and the HAR: {left:?}");
    // Measured: 9 MiB for this 96 MiB capture of 48 connections of 2 MiB, the records set aside in a spill and read
    // back one connection at a time (its payloads one message at a time); 112 MiB when convert held every record.
    assert!(peak < size / 4, "convert peaked at {} MiB for a {} MiB capture", peak >> 20, size >> 20);
}
