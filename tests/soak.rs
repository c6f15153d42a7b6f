//! Soak: many sequence-numbered messages over many connections through a real `frametap proxy` child
//! process to a real echo server. Nothing lost, reordered or corrupted on the wire; the capture holds
//! every frame in order; the proxy's memory stays flat. CI runs `soak_fast`; the 1,000,000-message run is
//! `cargo test --release --test soak -- --ignored --nocapture` (docs/reliability.md).

// Unix only: its child proxy runs under a file-size limit (setrlimit) and is stopped with SIGTERM (tests/soak_support).
#![cfg(unix)]

mod common;
mod soak_support;

use frametap::event::{End, Opcode, Peer, Record};
use futures_util::{SinkExt, StreamExt};
use soak_support::{parse_payload, payload, ChildOptions, ChildProxy};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// One soak run's size.
struct Plan {
    connections: u32,
    /// Messages each client sends (each is echoed, so twice as many data frames cross the proxy).
    messages: u64,
    /// Messages each client keeps in flight.
    window: usize,
    /// Run the web UI too (its history fills up to a fixed limit, so only long runs can show it flat).
    ui: bool,
    /// How much the proxy's RSS may grow from the middle of the run to its end.
    rss_growth_limit: u64,
    /// Capture in the compact form instead of JSON Lines.
    compact: bool,
}

/// CI's version: well under 30 s in a debug build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_fast() {
    run(Plan { connections: 20, messages: 1_000, window: 16, ui: false, rss_growth_limit: 8 << 20, compact: false })
        .await;
}

/// CI's version with a compact capture: every frame must read back from the binary form too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_fast_compact() {
    run(Plan { connections: 20, messages: 1_000, window: 16, ui: false, rss_growth_limit: 8 << 20, compact: true })
        .await;
}

/// The full soak: 1,000,000 messages (2,000,000 data frames) over 100 connections, the UI on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with `cargo test --release --test soak -- --ignored --nocapture`"]
async fn soak_full() {
    run(Plan { connections: 100, messages: 10_000, window: 16, ui: true, rss_growth_limit: 8 << 20, compact: false })
        .await;
}

/// The full soak with a compact capture (`--capture-format compact`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with `cargo test --release --test soak -- --ignored --nocapture`"]
async fn soak_full_compact() {
    run(Plan { connections: 100, messages: 10_000, window: 16, ui: true, rss_growth_limit: 8 << 20, compact: true })
        .await;
}

/// What one client saw.
#[derive(Default, Debug)]
struct Tally {
    received: u64,
    lost: u64,
    reordered: u64,
    corrupted: u64,
}

async fn run(plan: Plan) {
    let echo = common::start_echo_server().await;
    let options = ChildOptions { ui: plan.ui, compact: plan.compact, ..ChildOptions::default() };
    let mut proxy = ChildProxy::start(echo, options).await;
    let total = plan.connections as u64 * plan.messages;
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_rss(proxy.pid, total, progress.clone(), done.clone()));
    let started = Instant::now();
    let clients: Vec<_> = (0..plan.connections)
        .map(|conn| {
            let url = proxy.ws_url(&format!("/soak/{conn}"));
            tokio::spawn(drive(url, conn, plan.messages, plan.window, progress.clone()))
        })
        .collect();
    let mut sum = Tally::default();
    for client in clients {
        let tally = client.await.unwrap();
        sum.received += tally.received;
        sum.lost += tally.lost;
        sum.reordered += tally.reordered;
        sum.corrupted += tally.corrupted;
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let samples = sampler.await.unwrap();
    let status = proxy.stop(Duration::from_secs(60)).await;
    let stderr = proxy.stderr_text();
    let capture = check_capture(&proxy.capture, &plan);
    eprintln!(
        "soak: {} connections x {} messages in {:.1} s ({:.0} echoed messages/s); {sum:?}; capture: {} connections, \
         {} out of order or corrupted, {} clean closes, end {:?}",
        plan.connections,
        plan.messages,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        capture.connections,
        capture.mismatched,
        capture.clean_closes,
        capture.end,
    );
    eprintln!(
        "soak: proxy RSS (MiB) at each 5% of progress: {:?}",
        samples.iter().map(|s| s >> 20).collect::<Vec<_>>()
    );
    assert!(status.success(), "frametap exited with {status}: {stderr}");
    assert_eq!((sum.lost, sum.reordered, sum.corrupted), (0, 0, 0), "{sum:?}");
    assert_eq!(sum.received, total);
    capture.assert_complete(&plan);
    assert_flat(&samples, plan.rss_growth_limit);
}

/// Samples the proxy's RSS at every 5% of progress; returns the 20 samples.
async fn sample_rss(pid: u32, total: u64, progress: Arc<AtomicU64>, done: Arc<AtomicBool>) -> Vec<u64> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while samples.len() < 20 {
        tick.tick().await;
        let reached = progress.load(Ordering::Relaxed) * 20 / total;
        while (samples.len() as u64) < reached.min(20) {
            samples.push(soak_support::rss_of(pid));
        }
        if done.load(Ordering::Relaxed) && (samples.len() as u64) >= reached {
            break;
        }
    }
    samples
}

/// The late samples (75–100%) may not exceed the middle ones (25–50%) by more than `limit`
/// (sample i is taken once (i + 1) × 5% of the echoes are back).
fn assert_flat(samples: &[u64], limit: u64) {
    assert_eq!(samples.len(), 20, "one sample per 5% of progress");
    let middle = samples[4..10].iter().max().unwrap();
    let late = samples[14..].iter().max().unwrap();
    assert!(
        *late <= middle + limit,
        "the proxy's memory kept growing: {} MiB mid-run, {} MiB late (limit +{} MiB)",
        middle >> 20,
        late >> 20,
        limit >> 20
    );
}

/// One client: sends `messages` numbered messages with `window` in flight, checks every echo.
async fn drive(url: String, conn: u32, messages: u64, window: usize, progress: Arc<AtomicU64>) -> Tally {
    let (ws, _) = tokio_tungstenite::connect_async(&url).await.expect("the proxy accepts the connection");
    let (mut tx, mut rx) = ws.split();
    let credits = Arc::new(Semaphore::new(window));
    let writer = {
        let credits = credits.clone();
        tokio::spawn(async move {
            for seq in 0..messages {
                let permit = match credits.try_acquire() {
                    Ok(permit) => permit,
                    Err(_) => {
                        tx.flush().await.unwrap();
                        credits.acquire().await.unwrap()
                    }
                };
                permit.forget();
                tx.feed(Message::text(payload(conn, seq))).await.unwrap();
            }
            tx.flush().await.unwrap();
            tx
        })
    };
    let mut tally = Tally::default();
    let (mut seen, mut next) = (0, 0);
    while seen < messages {
        match tokio::time::timeout(Duration::from_secs(30), rx.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                seen += 1;
                credits.add_permits(1);
                progress.fetch_add(1, Ordering::Relaxed);
                match parse_payload(&text) {
                    Some((c, seq)) if c == conn && text.as_str() == payload(c, seq) => {
                        tally.reordered += u64::from(seq != next);
                        next = seq + 1;
                        tally.received += 1;
                    }
                    _ => tally.corrupted += 1,
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    tally.lost = messages - seen;
    let mut tx = writer.await.unwrap();
    let close = CloseFrame { code: CloseCode::Normal, reason: "soak done".into() };
    tx.send(Message::Close(Some(close))).await.unwrap();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(10), rx.next()).await {
        if message.is_close() {
            break;
        }
    }
    tally
}

/// What the capture file holds, read line by line (a full run's capture is hundreds of MB).
#[derive(Debug)]
struct CaptureTally {
    connections: usize,
    /// Per connection: client → server messages found in order, server → client messages in order.
    in_order: Vec<(u64, u64)>,
    mismatched: u64,
    clean_closes: u64,
    end: Option<End>,
}

impl CaptureTally {
    fn assert_complete(&self, plan: &Plan) {
        assert_eq!(self.connections, plan.connections as usize, "one open record per connection");
        assert_eq!(self.mismatched, 0, "frames out of order or corrupted in the capture");
        for (conn, (client, server)) in self.in_order.iter().enumerate() {
            assert_eq!((*client, *server), (plan.messages, plan.messages), "capture of connection {conn}");
        }
        assert_eq!(self.clean_closes, plan.connections as u64, "every connection closed cleanly");
        let end = self.end.as_ref().expect("the capture has its end record");
        assert!(end.complete && end.dropped == 0 && end.errors.is_empty(), "{end:?}");
        // Data frames both ways, plus the two close frames per connection.
        assert_eq!(end.frames, plan.connections as u64 * (2 * plan.messages + 2));
    }
}

/// The capture's records: JSON Lines streamed line by line (a full soak's capture is gigabytes), a compact
/// capture through the reader every command uses.
fn capture_records(path: &Path, plan: &Plan) -> Box<dyn Iterator<Item = Record>> {
    if plan.compact {
        let capture = frametap::capture::read_capture(path).expect("the compact capture reads");
        assert!(capture.problems.is_empty(), "{:?}", &capture.problems[..capture.problems.len().min(3)]);
        return Box::new(capture.records.into_iter());
    }
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("the capture exists"));
    Box::new(file.lines().map(|line| {
        let line = line.unwrap();
        serde_json::from_str::<Record>(&line).unwrap_or_else(|e| panic!("bad capture line {e}: {line}"))
    }))
}

fn check_capture(path: &Path, plan: &Plan) -> CaptureTally {
    let mut index_of = HashMap::new();
    let mut in_order = vec![(0u64, 0u64); plan.connections as usize];
    let (mut mismatched, mut clean_closes, mut end) = (0, 0, None);
    for record in capture_records(path, plan) {
        match record {
            Record::Open(open) => {
                let index: u32 = open.request.path.strip_prefix("/soak/").unwrap().parse().unwrap();
                index_of.insert(open.conn, index);
            }
            Record::Frame(frame) if frame.opcode == Opcode::Text => {
                let index = index_of[&frame.conn];
                let counts = &mut in_order[index as usize];
                let next = if frame.from == Peer::Client { &mut counts.0 } else { &mut counts.1 };
                if frame.text() == Some(payload(index, *next).as_str()) {
                    *next += 1;
                } else {
                    mismatched += 1;
                }
            }
            Record::Close(close) => clean_closes += u64::from(close.clean),
            Record::End(e) => end = Some(e),
            _ => {}
        }
    }
    CaptureTally { connections: index_of.len(), in_order, mismatched, clean_closes, end }
}
