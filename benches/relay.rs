//! Relay benchmark: the same load through a direct connection, a byte-level TCP relay (the floor any relay
//! can reach here), and frametap with capture off and on (JSON Lines, and compact) — in one run, as medians
//! of several runs.
//!
//! `cargo bench --bench relay` (options after `--`: `--runs N`, `--seconds S`, `--idle N`, `--write-docs`;
//! while profiling, `--scenario TEXT` and `--target TEXT` keep only the scenarios and relays whose names contain
//! TEXT — direct and the TCP relay always run, as the ratios need them — and `--baseline PATH` adds another
//! frametap binary (say, a build of the previous commit; repeatable), in the same modes, to compare a change in
//! one run).
//! Results and the machine go to stdout and, with `--write-docs`, to docs/performance.md.

use bytes::{Buf, BytesMut};
use frametap::event::Opcode;
use frametap::wire::{encode_frame, FrameScanner, Step};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    connections: usize,
    in_flight: usize,
    size: usize,
}

const SCENARIOS: [Scenario; 3] = [
    Scenario { name: "ping-pong 1 conn, 128 B", connections: 1, in_flight: 1, size: 128 },
    Scenario { name: "20 conns x 16 in flight, 128 B", connections: 20, in_flight: 16, size: 128 },
    Scenario { name: "4 conns x 8 in flight, 64 KiB", connections: 4, in_flight: 8, size: 64 * 1024 },
];

struct Options {
    runs: usize,
    seconds: f64,
    idle: usize,
    write_docs: bool,
    scenario: Option<String>,
    target: Option<String>,
    baselines: Vec<std::path::PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        runs: 5,
        seconds: 1.0,
        idle: 1000,
        write_docs: false,
        scenario: None,
        target: None,
        baselines: Vec::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--runs" => o.runs = value().parse().expect("--runs N"),
            "--seconds" => o.seconds = value().parse().expect("--seconds S"),
            "--idle" => o.idle = value().parse().expect("--idle N"),
            "--scenario" => o.scenario = Some(value()),
            "--target" => o.target = Some(value()),
            "--baseline" => o.baselines.push(value().into()),
            "--write-docs" => {
                o.write_docs = true;
                i -= 1;
            }
            "--bench" => i -= 1,
            other if other.starts_with("--tcp-relay") => {}
            other => panic!(
                "unknown option {other}; use --runs N --seconds S --idle N --write-docs --scenario TEXT --target TEXT --baseline PATH"
            ),
        }
        i += 2;
    }
    assert!(
        !(o.write_docs && (o.scenario.is_some() || o.target.is_some() || !o.baselines.is_empty())),
        "--write-docs writes the whole table of this build: drop --scenario, --target and --baseline"
    );
    o
}

/// One measured run.
#[derive(Clone, Copy, Default)]
struct Sample {
    msgs_per_sec: f64,
    mb_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
}

// ---------- the echo server and the load client (raw frames, cheap, identical for every target) ----------

async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = BytesMut::with_capacity(64 * 1024);
                let head = loop {
                    if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break String::from_utf8_lossy(&buf[..end]).into_owned();
                    }
                };
                let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                buf.advance(end);
                let key = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().starts_with("sec-websocket-key:").then(|| l[18..].trim().to_owned())
                    })
                    .unwrap();
                let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
                let response = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
                if stream.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
                let mut scanner = FrameScanner::new(u64::MAX);
                let mut out = Vec::with_capacity(64 * 1024);
                loop {
                    loop {
                        let (used, step) = scanner.step(&buf);
                        buf.advance(used);
                        match step {
                            Step::Frame(f) if f.header.opcode == Opcode::Close => {
                                let _ = stream.write_all(&encode_frame(true, Opcode::Close, &f.payload, None)).await;
                                return;
                            }
                            Step::Frame(f) => {
                                out.extend_from_slice(&encode_frame(true, f.header.opcode, &f.payload, None))
                            }
                            _ => break,
                        }
                    }
                    if !out.is_empty() {
                        if stream.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                    buf.reserve(64 * 1024);
                    match stream.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    addr
}

async fn open_ws(addr: SocketAddr) -> (TcpStream, BytesMut) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let request = format!("GET /bench HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        assert!(stream.read_buf(&mut buf).await.unwrap() > 0, "handshake failed");
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(buf.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&buf));
            buf.advance(end + 4);
            return (stream, buf);
        }
    }
}

/// Keeps `in_flight` messages outstanding on one connection for `duration`; returns round trips and RTTs.
async fn load_connection(addr: SocketAddr, scenario: Scenario, duration: Duration) -> (u64, Vec<u32>) {
    let (mut stream, mut buf) = open_ws(addr).await;
    let payload = vec![b'x'; scenario.size];
    let frame = encode_frame(true, Opcode::Binary, &payload, Some([1, 2, 3, 4]));
    let mut sent_at = std::collections::VecDeque::with_capacity(scenario.in_flight);
    let mut batch = Vec::with_capacity(frame.len() * scenario.in_flight);
    for _ in 0..scenario.in_flight {
        batch.extend_from_slice(&frame);
        sent_at.push_back(Instant::now());
    }
    stream.write_all(&batch).await.unwrap();
    let mut scanner = FrameScanner::new(u64::MAX);
    let started = Instant::now();
    let (mut done, mut rtts) = (0u64, Vec::with_capacity(1 << 16));
    loop {
        buf.reserve(64 * 1024);
        if stream.read_buf(&mut buf).await.unwrap() == 0 {
            panic!("the relay closed the connection during the benchmark");
        }
        let mut replies = 0;
        loop {
            let (used, step) = scanner.step(&buf);
            buf.advance(used);
            match step {
                Step::Frame(_) => {
                    replies += 1;
                    let at = sent_at.pop_front().unwrap();
                    if rtts.len() < 1 << 20 {
                        rtts.push(at.elapsed().as_nanos() as u32);
                    }
                }
                _ => break,
            }
        }
        done += replies;
        if started.elapsed() >= duration {
            break;
        }
        batch.clear();
        for _ in 0..replies {
            batch.extend_from_slice(&frame);
            sent_at.push_back(Instant::now());
        }
        if !batch.is_empty() {
            stream.write_all(&batch).await.unwrap();
        }
    }
    let _ = stream.write_all(&encode_frame(true, Opcode::Close, b"\x03\xe8", Some([1, 2, 3, 4]))).await;
    (done, rtts)
}

async fn run_scenario(addr: SocketAddr, scenario: Scenario, seconds: f64) -> Sample {
    let duration = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> =
        (0..scenario.connections).map(|_| tokio::spawn(load_connection(addr, scenario, duration))).collect();
    let (mut total, mut rtts) = (0u64, Vec::new());
    for task in tasks {
        let (n, r) = task.await.unwrap();
        total += n;
        rtts.extend(r);
    }
    let elapsed = started.elapsed().as_secs_f64();
    rtts.sort_unstable();
    let pct = |p: f64| {
        rtts.get(((rtts.len() as f64 * p) as usize).min(rtts.len().saturating_sub(1))).copied().unwrap_or(0) as f64
            / 1000.0
    };
    let msgs = total as f64 / elapsed;
    Sample { msgs_per_sec: msgs, mb_per_sec: msgs * scenario.size as f64 / 1e6, p50_us: pct(0.5), p99_us: pct(0.99) }
}

// ---------- the relays under test ----------

/// A relay process under test (or none, for the direct connection).
struct Target {
    name: String,
    addr: SocketAddr,
    child: Option<tokio::process::Child>,
    /// Where frametap writes its capture, for the targets with capture on.
    capture: Option<Capture>,
}

/// A frametap target's capture: its file and `--capture-format`, and the frametap binary that writes it.
#[derive(Clone)]
struct Capture {
    path: std::path::PathBuf,
    format: &'static str,
    binary: std::path::PathBuf,
}

async fn spawn_listening(mut command: tokio::process::Command, marker: &str) -> (tokio::process::Child, SocketAddr) {
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next_line().await.unwrap().expect("the relay printed its address");
        if let Some(rest) = line.split(marker).nth(1) {
            let addr = rest.split_whitespace().next().unwrap().trim_start_matches("ws://").trim_end_matches("/<path>");
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (child, addr.parse().unwrap());
        }
    }
}

async fn frametap(echo: SocketAddr, capture: Option<Capture>) -> Target {
    let binary = capture.as_ref().map_or(env!("CARGO_BIN_EXE_frametap").into(), |c| c.binary.clone());
    frametap_binary(&binary, echo, capture).await
}

async fn frametap_binary(binary: &std::path::Path, echo: SocketAddr, capture: Option<Capture>) -> Target {
    let mut command = tokio::process::Command::new(binary);
    command.args(["proxy", "--listen", "127.0.0.1:0", "--quiet", "--no-ui", "--upstream", &format!("ws://{echo}")]);
    match &capture {
        Some(capture) => command.arg("--capture").arg(&capture.path).args(["--capture-format", capture.format]),
        None => command.arg("--no-capture"),
    };
    let (child, addr) = spawn_listening(command, "point your WebSocket client at").await;
    let name = match &capture {
        None => "frametap, capture off".to_owned(),
        Some(Capture { format: "jsonl", .. }) => "frametap, capture on".to_owned(),
        Some(Capture { format, .. }) => format!("frametap, capture on ({format})"),
    };
    Target { name, addr, child: Some(child), capture }
}

async fn tcp_relay(echo: SocketAddr) -> Target {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command.arg(format!("--tcp-relay={echo}"));
    let (child, addr) = spawn_listening(command, "tcp relay on").await;
    Target { name: "TCP relay (copy_bidirectional)".into(), addr, child: Some(child), capture: None }
}

/// A free loopback port (for tools that cannot be told to pick one and print it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts connections on `addr` (bounded): the tool's own readiness signal.
async fn wait_listening(addr: SocketAddr) -> bool {
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// websocat and mitmproxy as relays, when they are installed (measured in the same run, for scale).
async fn other_tools(echo: SocketAddr) -> Vec<Target> {
    let mut targets = Vec::new();
    let found = |tool: &str| std::process::Command::new("which").arg(tool).output().is_ok_and(|o| o.status.success());
    let candidates: [(&str, &str, Vec<String>); 2] = [
        ("websocat", "websocat", vec!["--binary".into(), "-E".into(), "ws-l:ADDR".into(), format!("ws://{echo}/")]),
        (
            "mitmproxy (mitmdump)",
            "mitmdump",
            vec![
                "-q".into(),
                "--mode".into(),
                format!("reverse:http://{echo}"),
                "--listen-host".into(),
                "127.0.0.1".into(),
                "-p".into(),
                "PORT".into(),
            ],
        ),
    ];
    for (name, tool, args) in candidates {
        if !found(tool) {
            println!("({name} is not installed: not measured)");
            continue;
        }
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let args: Vec<String> =
            args.iter().map(|a| a.replace("ADDR", &addr.to_string()).replace("PORT", &port.to_string())).collect();
        let child = tokio::process::Command::new(tool)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(child) if wait_listening(addr).await => {
                targets.push(Target { name: name.into(), addr, child: Some(child), capture: None })
            }
            _ => println!("({name} did not start listening: not measured)"),
        }
    }
    targets
}

/// The floor: a byte-level relay that parses nothing (run as a child process: `--tcp-relay=UPSTREAM`).
async fn serve_tcp_relay(upstream: SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    eprintln!("tcp relay on {}", listener.local_addr().unwrap());
    while let Ok((mut client, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let Ok(mut server) = TcpStream::connect(upstream).await else { return };
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}

fn proc_stat(pid: u32) -> (f64, u64) {
    let ticks = 100.0; // USER_HZ on Linux
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let cpu = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let _ = kb("VmRSS:");
    (cpu / ticks, kb("VmHWM:"))
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn median(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (values[values.len() / 2], values[0], values[values.len() - 1])
}

/// Raises the open-file limit for this process and its children (frametap needs two descriptors per
/// relayed connection): to 65,536 when allowed (root may raise the hard limit), else to the hard limit.
#[cfg(unix)]
fn raise_file_limit() -> u64 {
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
fn raise_file_limit() -> u64 {
    u64::MAX
}

/// Holds `count` idle WebSocket connections through frametap and reports its RSS per connection.
async fn idle_memory(echo: SocketAddr, count: usize) -> (u64, u64, usize) {
    let target = frametap(echo, None).await;
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

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {}", kernel.trim())
}

fn main() {
    let relay_arg = std::env::args().find_map(|a| a.strip_prefix("--tcp-relay=").map(str::to_owned));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(upstream) = relay_arg {
        // The same multi-threaded runtime frametap uses, so the floor is not handicapped.
        runtime.block_on(serve_tcp_relay(upstream.parse().unwrap()));
        return;
    }
    let options = options();
    runtime.block_on(bench(options));
}

async fn bench(options: Options) {
    let echo = echo_server().await;
    let capture_dir = tempfile::tempdir().unwrap();
    let frametap_exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_frametap"));
    let capture = |format: &'static str, binary: &std::path::Path, n: usize| Capture {
        path: capture_dir.path().join(format!("bench{n}.{format}")),
        format,
        binary: binary.to_owned(),
    };
    let mut targets = vec![
        Target { name: "direct".into(), addr: echo, child: None, capture: None },
        tcp_relay(echo).await,
        frametap(echo, None).await,
        frametap(echo, Some(capture("jsonl", &frametap_exe, 0))).await,
        frametap(echo, Some(capture("compact", &frametap_exe, 0))).await,
    ];
    targets.extend(other_tools(echo).await);
    if let Some(wanted) = &options.target {
        targets.retain(|t| t.name == "direct" || t.name.starts_with("TCP relay") || t.name.contains(wanted.as_str()));
    }
    // Measured first, before any capture has filled the page cache with dirty pages.
    let disk_mb_per_sec = targets.iter().any(|t| t.capture.is_some()).then(|| disk_write_speed(capture_dir.path()));
    // Each baseline runs in every frametap mode kept by --target.
    let modes: Vec<Option<&'static str>> = targets
        .iter()
        .filter(|t| t.name.starts_with("frametap"))
        .map(|t| t.capture.as_ref().map(|c| c.format))
        .collect();
    for (n, binary) in options.baselines.iter().enumerate() {
        for mode in &modes {
            let mut baseline = frametap_binary(binary, echo, mode.map(|format| capture(format, binary, n + 1))).await;
            baseline.name = baseline.name.replacen("frametap", &format!("baseline {}", binary.display()), 1);
            targets.push(baseline);
        }
    }
    let mut report = String::new();
    let mut floor = [0.0f64; 3];
    let mut floor_p50 = 0.0;
    let mut ratios: Vec<(String, usize, f64)> = Vec::new();
    report +=
        "| scenario | target | msgs/s (median [min–max]) | MB/s | p50 RTT µs | p99 RTT µs | × direct | × TCP relay |\n";
    report += "|---|---|---|---|---|---|---|---|\n";
    let mut direct = [0.0f64; 3];
    let mut cpu_report = String::new();
    let mut capture_report = String::new();
    for (i, scenario) in SCENARIOS.iter().enumerate() {
        if options.scenario.as_ref().is_some_and(|wanted| !scenario.name.contains(wanted.as_str())) {
            continue;
        }
        // A fresh capture file per scenario: one scenario's gigabytes must not leave the page cache full of
        // dirty pages that throttle the next one's writes.
        for target in targets.iter_mut() {
            let Some(capture) = target.capture.clone() else { continue };
            if let Some(mut child) = target.child.take() {
                let _ = child.kill().await;
            }
            let _ = std::fs::remove_file(&capture.path);
            let name = std::mem::take(&mut target.name);
            *target = frametap_binary(&capture.binary.clone(), echo, Some(capture)).await;
            target.name = name;
        }
        // Runs are interleaved (each target once per round), so the VM's drift in speed hits every target alike.
        let pids: Vec<Option<u32>> = targets.iter().map(|t| t.child.as_ref().and_then(|c| c.id())).collect();
        let cpu_before: Vec<f64> = pids.iter().map(|pid| pid.map(|p| proc_stat(p).0).unwrap_or(0.0)).collect();
        // Warm-up: one short run each.
        for target in &targets {
            let _ = run_scenario(target.addr, *scenario, options.seconds / 4.0).await;
        }
        let mut samples_of: Vec<Vec<Sample>> = vec![Vec::new(); targets.len()];
        for _ in 0..options.runs {
            for (target, samples) in targets.iter().zip(&mut samples_of) {
                samples.push(run_scenario(target.addr, *scenario, options.seconds).await);
                // The kernel writes a capture's dirty pages back after the run; done now, so that work (and its
                // CPU, on 2 cores) is not charged to the next target's run.
                if let Some(capture) = &target.capture {
                    settle(&capture.path);
                }
            }
        }
        for ((target, samples), (pid, cpu_before)) in targets.iter().zip(&samples_of).zip(pids.iter().zip(&cpu_before))
        {
            let (msgs, min, max) = median(samples.iter().map(|s| s.msgs_per_sec).collect());
            let mb = median(samples.iter().map(|s| s.mb_per_sec).collect()).0;
            let p50 = median(samples.iter().map(|s| s.p50_us).collect()).0;
            let p99 = median(samples.iter().map(|s| s.p99_us).collect()).0;
            match target.name.as_str() {
                "direct" => direct[i] = msgs,
                n if n.starts_with("TCP relay") => {
                    floor[i] = msgs;
                    if i == 0 {
                        floor_p50 = p50;
                    }
                }
                _ => {}
            }
            let vs_floor = if floor[i] > 0.0 { msgs / floor[i] } else { f64::NAN };
            let vs_floor_text = if vs_floor.is_nan() { "—".to_owned() } else { format!("{vs_floor:.2}") };
            if let Some(pid) = *pid {
                let (cpu_after, peak) = proc_stat(pid);
                cpu_report += &format!(
                    "| {} | {} | {:.2} s CPU for {:.0} msgs ({:.2} µs/msg) | peak RSS {:.1} MB |\n",
                    scenario.name,
                    target.name,
                    cpu_after - cpu_before,
                    msgs * options.seconds * options.runs as f64,
                    (cpu_after - cpu_before) * 1e6 / (msgs * options.seconds * (options.runs as f64 + 0.25)),
                    peak as f64 / 1024.0
                );
            }
            if let Some(capture) = &target.capture {
                let written = std::fs::metadata(&capture.path).map(|m| m.len()).unwrap_or(0) as f64;
                // Payload bytes that crossed frametap (both ways), the warm-up's estimated at the same rate.
                let messages = samples.iter().map(|s| s.msgs_per_sec).sum::<f64>() * options.seconds;
                let relayed =
                    2.0 * scenario.size as f64 * messages * (options.runs as f64 + 0.25) / options.runs as f64;
                capture_report += &format!(
                    "| {} | {} | {:.0} MB | {:.0} MB/s | {:.2} |\n",
                    scenario.name,
                    capture.format,
                    written / 1e6,
                    written / 1e6 / (options.seconds * (options.runs as f64 + 0.25)),
                    written / relayed.max(1.0)
                );
            }
            if target.name.starts_with("frametap") {
                ratios.push((target.name.clone(), i, vs_floor));
                if i == 0 {
                    ratios.push((format!("{} p50 added µs vs floor", target.name), 9, p50 - floor_p50));
                }
            }
            let line = format!(
                "| {} | {} | {:.0} [{:.0}–{:.0}] | {:.1} | {:.1} | {:.1} | {:.2} | {} |\n",
                scenario.name,
                target.name,
                msgs,
                min,
                max,
                mb,
                p50,
                p99,
                msgs / direct[i],
                vs_floor_text
            );
            print!("{line}");
            report += &line;
        }
    }
    for target in &mut targets {
        if let Some(child) = target.child.as_mut() {
            let _ = child.kill().await;
        }
    }
    let limit = raise_file_limit();
    // This process holds two descriptors per idle connection (client and echo server), frametap two.
    let idle = options.idle.min(limit.saturating_sub(200) as usize / 2);
    if idle < options.idle {
        println!("(the open-file limit {limit} allows {idle} idle connections, not {})", options.idle);
    }
    let (before, after, opened) = idle_memory(echo, idle).await;
    let per_conn = (after.saturating_sub(before)) as f64 / opened.max(1) as f64;
    let idle_line = if opened == 0 {
        format!(
            "Idle connections: not measured (frametap at {:.1} MB RSS after one connection).\n",
            before as f64 / 1024.0
        )
    } else {
        format!(
            "Idle connections: frametap at {:.1} MB RSS after one connection; {opened} idle connections held add {:.1} KiB each ({:.1} MB total).\n",
            before as f64 / 1024.0,
            per_conn,
            after as f64 / 1024.0
        )
    };
    println!("\n{idle_line}");
    let mut verdicts = String::new();
    for (name, i, ratio) in &ratios {
        if *i == 9 {
            verdicts += &format!("- {name}: {ratio:.1} µs (target ≤ 10 µs)\n");
        } else {
            let target = if name.contains("capture on") { 0.8 } else { 0.9 };
            let mark = if *ratio >= target { "meets" } else { "MISSES" };
            verdicts += &format!(
                "- {name}, {}: {ratio:.2}× the TCP relay — {mark} the ≥ {target}× target\n",
                SCENARIOS[*i].name
            );
        }
    }
    let capture_section = match disk_mb_per_sec {
        Some(disk) => format!(
            "Capture files (capture on; a fresh file per scenario):\n\n| scenario | format | written | write rate while measured | bytes written per payload byte relayed |\n|---|---|---|---|---|\n{capture_report}\nThe disk they went to sustains {disk:.0} MB/s ({} GiB written, then `fdatasync`, before the scenarios).\n",
            DISK_TEST_MIB / 1024
        ),
        None => String::new(),
    };
    println!("{verdicts}");
    println!("{cpu_report}");
    println!("{capture_section}");
    if options.write_docs {
        write_docs(&options, &report, &format!("{cpu_report}\n{capture_section}"), &idle_line, &verdicts);
    }
}

/// Waits until what was written to `path` is on disk.
fn settle(path: &std::path::Path) {
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.sync_data();
    }
}

/// What the disk-speed test writes: more than a host's write cache is likely to absorb.
const DISK_TEST_MIB: usize = 4096;

/// How fast `dir`'s disk takes a long write, in MB/s: what a capture can sustain once the page cache is full.
fn disk_write_speed(dir: &std::path::Path) -> f64 {
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

fn write_docs(options: &Options, table: &str, cpu: &str, idle: &str, verdicts: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/performance.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let marker_start = "<!-- bench:start -->";
    let marker_end = "<!-- bench:end -->";
    let body = format!(
        "{marker_start}\nMeasured {} on {} with `cargo bench --bench relay -- --runs {} --seconds {} --idle {} --write-docs`.\n\n{table}\n| scenario | relay | CPU | memory |\n|---|---|---|---|\n{cpu}\n{idle}\nAgainst the targets:\n\n{verdicts}{marker_end}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine(),
        options.runs,
        options.seconds,
        options.idle
    );
    let updated = match (existing.find(marker_start), existing.find(marker_end)) {
        (Some(a), Some(b)) => format!("{}{body}{}", &existing[..a], &existing[b + marker_end.len()..]),
        _ => format!("{existing}\n{body}\n"),
    };
    std::fs::write(&path, updated).unwrap();
    println!("wrote {}", path.display());
}
