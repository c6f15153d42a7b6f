//! A load test's capture, large enough that a command holding it whole would show in its memory, and the peak
//! memory of a frametap command run on it.

use frametap::capture::{CaptureFormat, CaptureWriter};
use frametap::event::{Frame, Opcode, Peer, Record, Ts};
use std::path::Path;

/// The frames [`write_load_capture`] writes: binary, 64 KiB each, alternating client and server.
pub const LOAD_FRAMES: u64 = 1536;

/// Writes a complete compact capture of one connection carrying [`LOAD_FRAMES`] frames of 64 KiB (96 MiB of
/// payload) to `path`; returns its size in bytes.
pub fn write_load_capture(path: &Path) -> u64 {
    let line = |json: &str| -> Record { serde_json::from_str(json).unwrap() };
    let mut writer = CaptureWriter::create_as(path, CaptureFormat::Compact).unwrap();
    writer.write(&line(
        r#"{"kind":"meta","ts":"2026-11-25T10:00:00.000000Z","format":"frametap-capture","version":2,"frametap":"0.1.0","command":["frametap","proxy"],"mode":"proxy","redacted":false}"#,
    ));
    writer.write(&line(
        r#"{"kind":"open","conn":1,"ts":"2026-11-25T10:00:00.000000Z","request":{"method":"GET","path":"/load","headers":[]},"response":{"status":101,"headers":[]}}"#,
    ));
    let payload = bytes::Bytes::from(vec![0xA5u8; 64 * 1024]);
    for seq in 1..=LOAD_FRAMES {
        let ts = Ts(chrono::DateTime::from_timestamp_micros(1_795_600_800_000_000 + seq as i64).unwrap());
        let from = if seq % 2 == 1 { Peer::Client } else { Peer::Server };
        writer.write(&Record::Frame(Frame::whole(1, ts, seq, from, Opcode::Binary, payload.clone())));
    }
    writer.write(&line(
        r#"{"kind":"close","conn":1,"ts":"2026-11-25T10:00:01.000000Z","initiator":"client","clean":true,"duration_ms":1000.0,"code":1000,"reason":""}"#,
    ));
    writer.write(&line(&format!(
        r#"{{"kind":"end","ts":"2026-11-25T10:00:01.000000Z","connections":1,"frames":{LOAD_FRAMES},"records":{},"dropped":0,"complete":true}}"#,
        LOAD_FRAMES + 3
    )));
    writer.flush();
    assert!(writer.failed().is_none(), "{:?}", writer.failed());
    drop(writer);
    let size = std::fs::metadata(path).unwrap().len();
    assert!(size > LOAD_FRAMES * 64 * 1024, "{size}");
    size
}

/// Runs `command` and returns its peak resident memory in bytes, from `wait4` (Linux's `ru_maxrss`, in KiB); the
/// command must succeed. That peak starts from the spawning process's own (the child begins as its copy), so the
/// caller must keep its memory small: see tests/large_captures.rs.
pub fn peak_rss_of(mut command: std::process::Command) -> u64 {
    // Reaped by wait4 below, which also gives its peak memory (std's wait does not).
    #[allow(clippy::zombie_processes)]
    let child = command.stdin(std::process::Stdio::null()).spawn().unwrap();
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct that wait4 fills; the pid is this child's, not waited for before.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the command failed: status {status:#x}");
    usage.ru_maxrss as u64 * 1024
}
