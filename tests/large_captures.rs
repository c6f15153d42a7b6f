//! `inspect`, `redact` and `convert` on a load test's capture (96 MiB of 64 KiB frames, compact): each reads it as
//! it goes, so its peak memory stays far below the capture's size.
//!
//! In a file of its own, and checking outputs without holding them: a child's peak memory (`ru_maxrss`) starts from
//! the peak of the test process that spawned it, so that must stay small.

// Unix only: it reads a command's peak memory from wait4 and /proc.
#![cfg(unix)]

mod common;

use common::large::{
    frames_in, peak_rss_and_status_of, peak_rss_of, peak_rss_once_ready, write_load_capture,
    write_many_connections_capture, LOAD_FRAMES,
};

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

/// A port nothing listens on: bound, then let go.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `frametap replay VERB` of connection 2 of a capture of many connections, in `home`, without capture or UI.
fn replay_of_many(verb: &str, capture: &std::path::Path, home: &std::path::Path) -> std::process::Command {
    let mut command = common::binary::frametap_command();
    command.args(["replay".as_ref(), verb.as_ref(), capture.as_os_str()]).env("FRAMETAP_HOME", home);
    command.args(["--conn", "2", "--no-capture"]);
    command
}

#[test]
fn replay_send_holds_the_connection_it_plays_not_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.ftcap");
    let size = write_many_connections_capture(&path);
    let mut command = replay_of_many("send", &path, dir.path());
    command.args(["--upstream", &format!("ws://127.0.0.1:{}", closed_port())]);
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    // The upstream refuses the connection: the replay has read the capture by then, and says so on failing.
    let (peak, _) = peak_rss_and_status_of(command);
    assert!(peak < size / 4, "replay send peaked at {} MiB for a {} MiB capture", peak >> 20, size >> 20);
}

#[test]
fn replay_serve_holds_the_connection_it_plays_not_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.ftcap");
    let size = write_many_connections_capture(&path);
    let mut command = replay_of_many("serve", &path, dir.path());
    command.args(["--listen", "127.0.0.1:0", "--no-ui"]);
    let peak = peak_rss_once_ready(command, "Ctrl-C stops", true);
    assert!(peak < size / 4, "replay serve peaked at {} MiB for a {} MiB capture", peak >> 20, size >> 20);
}

#[test]
fn ui_file_holds_what_it_serves_and_no_copy_of_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.ftcap");
    let size = write_load_capture(&path);
    let mut command = common::binary::frametap_command();
    command.args(["ui".as_ref(), path.as_os_str()]).env("FRAMETAP_HOME", dir.path());
    command.args(["--ui", "127.0.0.1:0"]);
    let peak = peak_rss_once_ready(command, "http://127.0.0.1:", false);
    assert!(peak < size * 2, "ui FILE peaked at {} MiB for a {} MiB capture", peak >> 20, size >> 20);
}
