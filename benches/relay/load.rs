//! The bench's load: the scenarios, a frame-level echo server and a load client that keeps messages in flight
//! and times each round trip (raw frames, cheap, identical for every target).

use bytes::{Buf, BytesMut};
use frametap::event::Opcode;
use frametap::wire::{encode_frame, FrameScanner, Step};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy)]
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) connections: usize,
    pub(crate) in_flight: usize,
    pub(crate) size: usize,
}

/// How long each target's warm-up run lasts, as a share of a measured run (its messages count in the CPU time).
pub(crate) const WARM_UP: f64 = 0.25;

pub(crate) const SCENARIOS: [Scenario; 3] = [
    Scenario { name: "ping-pong 1 conn, 128 B", connections: 1, in_flight: 1, size: 128 },
    Scenario { name: "20 conns x 16 in flight, 128 B", connections: 20, in_flight: 16, size: 128 },
    Scenario { name: "4 conns x 8 in flight, 64 KiB", connections: 4, in_flight: 8, size: 64 * 1024 },
];

/// One measured run.
#[derive(Clone, Copy, Default)]
pub(crate) struct Sample {
    pub(crate) msgs_per_sec: f64,
    pub(crate) mb_per_sec: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
}

pub(crate) async fn echo_server() -> SocketAddr {
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

pub(crate) async fn open_ws(addr: SocketAddr) -> (TcpStream, BytesMut) {
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
pub(crate) async fn load_connection(addr: SocketAddr, scenario: Scenario, duration: Duration) -> (u64, Vec<u32>) {
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

pub(crate) async fn run_scenario(addr: SocketAddr, scenario: Scenario, seconds: f64) -> Sample {
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
