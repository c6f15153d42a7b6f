//! What the bench reads besides throughput: a process's CPU time and memory from /proc, medians, the held
//! idle connections' memory, the open-file limit, and the capture disk's sustained write speed.

use crate::load::open_ws;
use crate::targets::frametap_binary;
use frametap::event::Opcode;
use frametap::wire::encode_frame;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A process's CPU time (user and system, seconds) and peak RSS (KiB), from /proc.
pub(crate) fn proc_stat(pid: u32) -> (f64, u64) {
    let ticks = 100.0; // USER_HZ on Linux
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let cpu = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (cpu / ticks, status_kb(pid, "VmHWM:"))
}

/// CPU time this machine's cores spent waiting for the hypervisor so far (seconds, all cores; `steal` in
/// /proc/stat): on a VM, time the host or its other guests took. 0 where /proc/stat has no such field.
pub(crate) fn steal_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let steal = stat.lines().next().and_then(|cpu| cpu.split_whitespace().nth(8)).and_then(|s| s.parse::<f64>().ok());
    steal.unwrap_or(0.0) / 100.0 // USER_HZ
}

/// The order of `count` targets for one round: a fresh permutation each time (xorshift, seeded by the clock), so
/// whatever a run leaves behind (a capture's disk writes, the host's work on them) does not always fall on the same
/// target.
pub(crate) fn shuffled(count: usize) -> Vec<usize> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(1);
    let mut state = (nanos as u64) | 1;
    let mut order: Vec<usize> = (0..count).collect();
    for i in (1..count).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

/// A process's resident memory now (KiB).
pub(crate) fn rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmRSS:")
}

/// The KiB figure of line `key` in /proc/PID/status (0 when the process or the line is gone).
fn status_kb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn median(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (values[values.len() / 2], values[0], values[values.len() - 1])
}

/// Raises the open-file limit for this process and its children (frametap needs two descriptors per
/// relayed connection): to 65,536 when allowed (root may raise the hard limit), else to the hard limit.
#[cfg(unix)]
pub(crate) fn raise_file_limit() -> u64 {
    const WANTED: u64 = 65_536;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain getrlimit/setrlimit on this process with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        let raised = libc::rlimit { rlim_cur: WANTED.max(limit.rlim_cur), rlim_max: WANTED.max(limit.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// Windows has no open-file limit to raise: sockets are bounded by memory, not by a per-process count. What is
/// returned stands for "no limit" in the report.
#[cfg(not(unix))]
pub(crate) fn raise_file_limit() -> u64 {
    u64::MAX
}

/// Holds `count` idle WebSocket connections through the frametap at `binary` (capture off) and reports its RSS
/// before and after them, and how many it held.
pub(crate) async fn idle_memory(binary: &Path, echo: SocketAddr, count: usize) -> (u64, u64, usize) {
    let target = frametap_binary(binary, echo, None).await;
    let pid = target.child.as_ref().unwrap().id().unwrap();
    let mut warm = open_ws(target.addr).await;
    let _ = warm.0.write_all(&encode_frame(true, Opcode::Text, b"warm", Some([0; 4]))).await;
    let _ = warm.0.read_buf(&mut warm.1).await;
    let before = rss_kb(pid);
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        match tokio::time::timeout(Duration::from_secs(5), open_ws(target.addr)).await {
            Ok(conn) => held.push(conn),
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // let frametap settle before reading /proc (not a readiness wait)
    let after = rss_kb(pid);
    let opened = held.len();
    drop(held);
    (before, after, opened)
}

/// Waits until what was written to `path` is on disk.
pub(crate) fn settle(path: &std::path::Path) {
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.sync_data();
    }
}

/// What the disk-speed test writes: more than a host's write cache is likely to absorb.
pub(crate) const DISK_TEST_MIB: usize = 4096;

/// How fast `dir`'s disk takes a long write, in MB/s: what a capture can sustain once the page cache is full.
pub(crate) fn disk_write_speed(dir: &std::path::Path) -> f64 {
    use std::io::Write as _;
    let path = dir.join("disk-speed.bin");
    let chunk = vec![0x5au8; 1 << 20];
    let mut file = std::fs::File::create(&path).unwrap();
    let start = Instant::now();
    for _ in 0..DISK_TEST_MIB {
        file.write_all(&chunk).unwrap();
    }
    file.sync_data().unwrap();
    let seconds = start.elapsed().as_secs_f64();
    drop(file);
    let _ = std::fs::remove_file(&path);
    DISK_TEST_MIB as f64 * 1024.0 * 1024.0 / 1e6 / seconds
}
