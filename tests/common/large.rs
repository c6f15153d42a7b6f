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
    write_connections_capture(path, 1, LOAD_FRAMES)
}

/// The connections [`write_many_connections_capture`] writes, and the 64 KiB frames each carries.
pub const MANY_CONNECTIONS: u64 = 48;
pub const FRAMES_PER_CONNECTION: u64 = 32;

/// Writes a complete compact capture of [`MANY_CONNECTIONS`] connections open at once, their 64 KiB binary frames
/// interleaved ([`FRAMES_PER_CONNECTION`] each, 96 MiB of payload in all), to `path`; returns its size in bytes.
pub fn write_many_connections_capture(path: &Path) -> u64 {
    write_connections_capture(path, MANY_CONNECTIONS, FRAMES_PER_CONNECTION)
}

/// Writes a complete compact capture of `connections` open at once, each carrying `frames_each` binary frames of
/// 64 KiB (alternating client and server), interleaved, to `path`; returns its size in bytes.
fn write_connections_capture(path: &Path, connections: u64, frames_each: u64) -> u64 {
    let line = |json: &str| -> Record { serde_json::from_str(json).unwrap() };
    let mut writer = CaptureWriter::create_as(path, CaptureFormat::Compact).unwrap();
    writer.write(&line(
        r#"{"kind":"meta","ts":"2026-11-25T10:00:00.000000Z","format":"frametap-capture","version":2,"frametap":"0.1.0","command":["frametap","proxy"],"mode":"proxy","redacted":false}"#,
    ));
    for conn in 1..=connections {
        writer.write(&line(&format!(
            r#"{{"kind":"open","conn":{conn},"ts":"2026-11-25T10:00:00.000000Z","request":{{"method":"GET","path":"/load/{conn}","headers":[]}},"response":{{"status":101,"headers":[]}}}}"#
        )));
    }
    let payload = bytes::Bytes::from(vec![0xA5u8; 64 * 1024]);
    for seq in 1..=frames_each {
        let from = if seq % 2 == 1 { Peer::Client } else { Peer::Server };
        for conn in 1..=connections {
            let ts =
                Ts(chrono::DateTime::from_timestamp_micros(1_795_600_800_000_000 + (seq * 100 + conn) as i64).unwrap());
            writer.write(&Record::Frame(Frame::whole(conn, ts, seq, from, Opcode::Binary, payload.clone())));
        }
    }
    for conn in 1..=connections {
        writer.write(&line(&format!(
            r#"{{"kind":"close","conn":{conn},"ts":"2026-11-25T10:00:01.000000Z","initiator":"client","clean":true,"duration_ms":1000.0,"code":1000,"reason":""}}"#
        )));
    }
    let frames = connections * frames_each;
    writer.write(&line(&format!(
        r#"{{"kind":"end","ts":"2026-11-25T10:00:01.000000Z","connections":{connections},"frames":{frames},"records":{},"dropped":0,"complete":true}}"#,
        frames + 2 * connections + 1
    )));
    writer.flush();
    assert!(writer.failed().is_none(), "{:?}", writer.failed());
    drop(writer);
    let size = std::fs::metadata(path).unwrap().len();
    assert!(size > frames * 64 * 1024, "{size}");
    size
}

/// The frames of a capture and whether it read complete, counted as it is read.
pub fn frames_in(path: &Path) -> (u64, bool) {
    let mut stream = frametap::capture::open_capture(path).unwrap();
    let mut frames = 0;
    while let Some(record) = stream.next_record().unwrap() {
        frames += u64::from(matches!(record, Record::Frame(_)));
    }
    let end = stream.finish().unwrap();
    (frames, end.has_end && end.problems.is_empty())
}

/// Runs `command` and returns its peak resident memory in bytes, from `wait4` (Linux's `ru_maxrss`, in KiB); the
/// command must succeed. That peak starts from the spawning process's own (the child begins as its copy), so the
/// caller must keep its memory small: see tests/large_captures.rs.
#[cfg(unix)]
pub fn peak_rss_of(command: std::process::Command) -> u64 {
    let (peak, status) = peak_rss_and_status_of(command);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the command failed: status {status:#x}");
    peak
}

/// [`peak_rss_of`] for a command that may fail: its peak resident memory and its `wait4` status.
#[cfg(unix)]
pub fn peak_rss_and_status_of(mut command: std::process::Command) -> (u64, i32) {
    // Reaped by wait4 below, which also gives its peak memory (std's wait does not).
    #[allow(clippy::zombie_processes)]
    let child = command.stdin(std::process::Stdio::null()).spawn().unwrap();
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct that wait4 fills; the pid is this child's, not waited for before.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed: {}", std::io::Error::last_os_error());
    (usage.ru_maxrss as u64 * 1024, status)
}

/// Starts `command`, a server, reads its stdout (or stderr) up to the first line containing `ready`, and returns its
/// peak resident memory so far (`VmHWM`, from /proc: its own since it started, unlike `ru_maxrss`), then kills it.
#[cfg(unix)]
pub fn peak_rss_once_ready(mut command: std::process::Command, ready: &str, on_stderr: bool) -> u64 {
    use std::io::BufRead;
    let pipe = || std::process::Stdio::piped();
    let null = std::process::Stdio::null;
    let (out, err) = if on_stderr { (null(), pipe()) } else { (pipe(), null()) };
    let mut child = command.stdin(null()).stdout(out).stderr(err).spawn().unwrap();
    let stream: Box<dyn std::io::Read> = match on_stderr {
        true => Box::new(child.stderr.take().unwrap()),
        false => Box::new(child.stdout.take().unwrap()),
    };
    let mut lines = std::io::BufReader::new(stream).lines();
    let said: Vec<String> = lines.by_ref().map(Result::unwrap).take_while(|line| !line.contains(ready)).collect();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let peak = status.lines().find_map(|line| line.strip_prefix("VmHWM:")).unwrap_or_else(|| panic!("{said:?}"));
    peak.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap() * 1024
}

/// The WebSocket messages [`write_chrome_har`] writes: a Genesys Web Messaging session, half sent, half received.
pub const HAR_MESSAGES: u64 = 200_000;

/// Writes a Chrome DevTools HAR of one WebSocket entry carrying [`HAR_MESSAGES`] text messages of a Genesys Web
/// Messaging session (`configureSession`, then `onMessage` requests and `StructuredMessage` events: JSON, so their
/// `data` is full of escaped quotes, as Chrome saves them; about 46 MB) and a plain HTTP entry, as it goes, so the
/// test process stays small; returns its size in bytes.
pub fn write_chrome_har(path: &Path) -> u64 {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write!(
        out,
        r#"{{"log":{{"version":"1.2","creator":{{"name":"WebInspector","version":"537.36"}},"pages":[],"entries":[{{"_initiator":{{"type":"script","stack":{{"callFrames":[]}}}},"_resourceType":"websocket","cache":{{}},"connection":"4711","request":{{"method":"GET","url":"wss://webmessaging.mypurecloud.com/v1?deploymentId=d","httpVersion":"HTTP/1.1","headers":[{{"name":"Host","value":"webmessaging.mypurecloud.com"}},{{"name":"Upgrade","value":"websocket"}}],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0}},"response":{{"status":101,"statusText":"Switching Protocols","httpVersion":"HTTP/1.1","headers":[{{"name":"Upgrade","value":"websocket"}}],"cookies":[],"content":{{"size":0,"mimeType":"x-unknown"}},"redirectURL":"","headersSize":-1,"bodySize":0,"_transferSize":0,"_error":null}},"serverIPAddress":"192.0.2.1","startedDateTime":"2026-11-25T10:00:00.000Z","time":2000.0,"timings":{{"blocked":-1,"dns":-1,"ssl":-1,"connect":-1,"send":0,"wait":1.5,"receive":0}},"_webSocketMessages":["#
    )
    .unwrap();
    let token = "3f2a4b1c-8d7e-4f60-9a1b-2c3d4e5f6a7b";
    for m in 0..HAR_MESSAGES {
        let (kind, data) = match m {
            0 => ("send", format!(r#"{{\"action\":\"configureSession\",\"deploymentId\":\"d\",\"token\":\"{token}\"}}"#)),
            1 => ("receive", r#"{\"type\":\"response\",\"class\":\"SessionResponse\",\"code\":200,\"body\":{\"connected\":true,\"newSession\":true}}"#.to_owned()),
            _ if m % 2 == 0 => ("send", format!(r#"{{\"action\":\"onMessage\",\"token\":\"{token}\",\"message\":{{\"type\":\"Text\",\"text\":\"message {m}\"}}}}"#)),
            _ => ("receive", format!(r#"{{\"type\":\"message\",\"class\":\"StructuredMessage\",\"code\":200,\"body\":{{\"text\":\"message {m}\",\"direction\":\"Inbound\",\"id\":\"{m:08x}-0000-4000-8000-000000000000\",\"type\":\"Text\"}}}}"#)),
        };
        let separator = if m == 0 { "" } else { "," };
        let time = 1_795_600_800.0 + m as f64 * 0.001;
        write!(out, r#"{separator}{{"type":"{kind}","time":{time:.6},"opcode":1,"data":"{data}"}}"#).unwrap();
    }
    write!(
        out,
        r#"]}},{{"_resourceType":"fetch","request":{{"method":"GET","url":"https://api.example.com/v1/config","headers":[]}},"response":{{"status":200,"headers":[],"content":{{"size":2,"mimeType":"application/json","text":"{{}}"}}}},"startedDateTime":"2026-11-25T10:00:00.000Z","time":1.0,"timings":{{}}}}]}}}}"#
    )
    .unwrap();
    out.flush().unwrap();
    drop(out);
    std::fs::metadata(path).unwrap().len()
}
