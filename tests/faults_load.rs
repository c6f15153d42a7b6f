//! Faults under load, against `frametap proxy` run as a child process: a UI subscriber that never reads,
//! and a storm of short connections (CI runs a bounded storm; the full 1,000/s for 10 s is
//! `cargo test --release --test faults_load -- --ignored --nocapture`, see docs/reliability.md).

// Unix only: its child proxy runs under a file-size limit (setrlimit) and is stopped with SIGTERM (tests/soak_support).
#![cfg(unix)]

mod common;
mod soak_support;

use common::raw::{self, RawWs, Received};
use common::start_echo_server;
use futures_util::{SinkExt, StreamExt};
use soak_support::{ChildOptions, ChildProxy};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// Sends `count` 1 KiB messages with 16 in flight and checks the echoes; returns how long it took.
async fn pump(url: &str, count: u64) -> Duration {
    let started = Instant::now();
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    let message = |seq: u64| format!("{seq:09}:{}", "x".repeat(1024));
    let (mut sent, mut received) = (0, 0);
    while received < count {
        while sent < count && sent - received < 16 {
            tx.feed(Message::text(message(sent))).await.unwrap();
            sent += 1;
        }
        tx.flush().await.unwrap();
        let echo = tokio::time::timeout(WAIT, rx.next()).await.expect("an echo in time").unwrap().unwrap();
        assert_eq!(echo.into_text().unwrap().as_str(), message(received));
        received += 1;
    }
    tx.send(Message::Close(None)).await.unwrap();
    started.elapsed()
}

/// Opens the UI's live stream with a hand-written upgrade and a tiny receive buffer, and never reads.
async fn stalled_subscriber(ui_url: &str) -> RawWs {
    let rest = ui_url.strip_prefix("http://").unwrap();
    let (host, query) = rest.split_once('/').unwrap();
    let addr: SocketAddr = host.parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /api/stream{} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        query.trim_start_matches('/')
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (head, leftover) = raw::read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "the UI accepts the subscriber: {head}");
    RawWs::new(stream, leftover, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_ui_subscriber_does_not_slow_the_relay_and_is_resynced() {
    const MESSAGES: u64 = 8_000;
    let echo = start_echo_server().await;
    let mut proxy = ChildProxy::start(echo, ChildOptions { ui: true, ..ChildOptions::default() }).await;
    // The quicker of two runs each way: the machine may be busy with other work.
    let baseline =
        pump(&proxy.ws_url("/baseline-1"), MESSAGES).await.min(pump(&proxy.ws_url("/baseline-2"), MESSAGES).await);
    let mut subscriber = stalled_subscriber(proxy.ui_url.as_deref().unwrap()).await;
    // A second one stays stalled to the end: it must not hold up the proxy's exit for long.
    let _never_reads = stalled_subscriber(proxy.ui_url.as_deref().unwrap()).await;
    // The first run fills the subscriber's socket buffers (the UI's sending costs CPU until then).
    let filling = pump(&proxy.ws_url("/filling"), MESSAGES).await;
    let stalled =
        pump(&proxy.ws_url("/stalled-1"), MESSAGES).await.min(pump(&proxy.ws_url("/stalled-2"), MESSAGES).await);
    eprintln!(
        "{MESSAGES} echoed 1 KiB messages: {baseline:?} without a subscriber; with a stalled one: {filling:?} \
         while its buffers fill, then {stalled:?}"
    );
    // A relay held up by the subscriber would not finish at all (pump times out); this bound only
    // allows for a busy machine.
    assert!(
        stalled <= baseline * 3 + Duration::from_millis(500),
        "a stalled subscriber slowed the relay: {baseline:?} before, {stalled:?} while stalled"
    );
    // When it reads again, it is told it fell behind and is resynced from history.
    let mut read = 0;
    let resynced = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match subscriber.recv().await {
                Received::Frame(frame) => {
                    read += 1;
                    let text = String::from_utf8_lossy(&frame.payload);
                    if text.starts_with(r#"{"t":"hello""#) && text.contains(r#""reason":"lag""#) {
                        return text.into_owned();
                    }
                }
                other => panic!("the stream ended instead of resyncing: {other:?}"),
            }
        }
    })
    .await
    .expect("a lag resync in time");
    assert!(resynced.contains(r#""missed":"#), "{resynced}");
    let stopping = Instant::now();
    let status = proxy.stop(Duration::from_secs(20)).await;
    let stopped_in = stopping.elapsed();
    assert!(status.success(), "{status}: {}", proxy.stderr_text());
    eprintln!(
        "the subscriber read {read} messages before the resync; with one still stalled, SIGTERM took {stopped_in:?}"
    );
    assert!(
        stopped_in <= frametap::ui::UI_STOP_TIMEOUT + Duration::from_secs(5),
        "a stalled subscriber held up the exit for {stopped_in:?}"
    );
}

/// One short connection: handshake, one echo, a clean close.
async fn one_attempt(url: String, n: u64) -> Result<(), String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.map_err(|e| format!("connect: {e}"))?;
    let text = format!("storm {n}");
    ws.send(Message::text(text.clone())).await.map_err(|e| format!("send: {e}"))?;
    match ws.next().await {
        Some(Ok(Message::Text(echo))) if echo.as_str() == text => {}
        other => return Err(format!("echo: {other:?}")),
    }
    ws.close(None).await.map_err(|e| format!("close: {e}"))?;
    while let Some(message) = ws.next().await {
        message.map_err(|e| format!("closing: {e}"))?;
    }
    Ok(())
}

/// A connection that ping-pongs every 10 ms during the storm; returns (round trips, slowest).
async fn probe(url: String, stop: Arc<AtomicBool>) -> (u64, Duration) {
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut rounds, mut slowest) = (0, Duration::ZERO);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let started = Instant::now();
        ws.send(Message::text(format!("probe {rounds}"))).await.unwrap();
        let echo = tokio::time::timeout(WAIT, ws.next()).await.expect("the proxy stays responsive").unwrap().unwrap();
        assert_eq!(echo.into_text().unwrap().as_str(), format!("probe {rounds}"));
        slowest = slowest.max(started.elapsed());
        rounds += 1;
    }
    ws.close(None).await.unwrap();
    while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, ws.next()).await {}
    (rounds, slowest)
}

async fn storm(per_second: u64, seconds: u64, slowest_allowed: Duration) {
    let echo = start_echo_server().await;
    let mut proxy = ChildProxy::start(echo, ChildOptions::default()).await;
    one_attempt(proxy.ws_url("/warm-up"), 0).await.unwrap();
    let fds_before = proxy.open_fds();
    let stop_probe = Arc::new(AtomicBool::new(false));
    let prober = tokio::spawn(probe(proxy.ws_url("/probe"), stop_probe.clone()));
    let attempts = per_second * seconds;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second as u32);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(attempts as usize);
    for n in 0..attempts {
        tick.tick().await;
        let url = proxy.ws_url(&format!("/storm/{n}"));
        tasks.push(tokio::spawn(tokio::time::timeout(WAIT, one_attempt(url, n))));
    }
    let issued_in = started.elapsed();
    let (mut completed, mut failed, mut hung) = (0u64, Vec::new(), 0u64);
    for task in tasks {
        match task.await.unwrap() {
            Ok(Ok(())) => completed += 1,
            Ok(Err(e)) => failed.push(e),
            Err(_) => hung += 1,
        }
    }
    stop_probe.store(true, Ordering::Relaxed);
    let (rounds, slowest) = prober.await.unwrap();
    // The proxy releases each connection's two sockets once both sides are closed; wait (bounded).
    let mut fds_after = proxy.open_fds();
    for _ in 0..200 {
        if fds_after <= fds_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        fds_after = proxy.open_fds();
    }
    eprintln!(
        "storm: {attempts} attempts issued in {issued_in:.1?}: {completed} completed, {} failed cleanly, {hung} hung; \
         probe: {rounds} round trips, slowest {slowest:?}; proxy fds {fds_before} before, {fds_after} after; first failures: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert_eq!(hung, 0, "every attempt completes or fails cleanly");
    assert!(failed.is_empty(), "{} attempts failed: {:?}", failed.len(), &failed[..failed.len().min(5)]);
    assert!(rounds > 0 && slowest <= slowest_allowed, "the proxy stayed responsive: slowest round trip {slowest:?}");
    assert!(fds_after <= fds_before, "file descriptors leaked: {fds_before} before, {fds_after} after");
    let status = proxy.stop(Duration::from_secs(30)).await;
    let stderr = proxy.stderr_text();
    assert!(status.success(), "{status}: {stderr}");
    let saved = format!("({} connections,", attempts + 2);
    assert!(stderr.contains(&saved) && !stderr.contains("INCOMPLETE"), "every connection captured: {stderr}");
}

/// CI's bounded storm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_storm_completes_cleanly_without_leaking() {
    storm(200, 2, Duration::from_secs(1)).await;
}

/// The full storm: 1,000 connection attempts per second for 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with `cargo test --release --test faults_load -- --ignored --nocapture`"]
async fn a_connection_storm_of_1000_per_second_for_10_seconds() {
    storm(1_000, 10, Duration::from_secs(1)).await;
}
