//! Faults, each on real sockets: an endpoint killed mid-stream, a capture that cannot be written while the
//! relay runs, and clients that never finish their handshake. (The stalled UI subscriber and the
//! connection storm are in faults_load.rs.)

// Unix only: its child proxy runs under a file-size limit (setrlimit) and is stopped with SIGTERM (tests/soak_support).
#![cfg(unix)]

mod common;
mod soak_support;

use common::raw::{self, RawWs, Received};
use common::{close_of, frames, start_echo_server, start_proxy, test_config};
use frametap::capture::CaptureWriter;
use frametap::event::{Opcode, Peer, Record};
use futures_util::{SinkExt, StreamExt};
use soak_support::{payload, ChildOptions, ChildProxy};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// Sends numbered frames in bursts of 10 and reads each burst's echoes until the connection ends;
/// returns how many echoes came back (checked in order) and how it ended.
async fn burst_until_it_ends(mut ws: RawWs) -> (u64, Received) {
    ws.stream.set_nodelay(true).unwrap();
    let mut echoed = 0;
    for round in 0..1_000u64 {
        for i in 0..10 {
            ws.send(true, Opcode::Text, payload(0, round * 10 + i).as_bytes()).await;
        }
        for _ in 0..10 {
            match tokio::time::timeout(WAIT, ws.recv()).await.expect("an echo or the end in time") {
                Received::Frame(frame) => {
                    assert_eq!(&frame.payload[..], payload(0, echoed).as_bytes(), "echoes arrive in order, intact");
                    echoed += 1;
                }
                end => return (echoed, end),
            }
        }
    }
    panic!("the upstream never died");
}

#[tokio::test]
async fn an_upstream_killed_mid_stream_reaches_the_client_as_a_drop() {
    const ECHOES: u64 = 305;
    let (server, _) = raw::start_raw_server(raw::upgrade_all, |mut ws: RawWs| async move {
        ws.stream.set_nodelay(true).unwrap();
        for _ in 0..ECHOES {
            match ws.recv().await {
                Received::Frame(f) => ws.send(true, f.header.opcode, &f.payload).await,
                _ => return,
            }
        }
        // Killed mid-burst: a process that dies with unread input gets its sockets reset, as here.
        frametap::proxy::stream::reset_on_close(ws.stream.as_raw_fd());
    })
    .await;
    // Directly first: what the client sees without frametap.
    let direct = raw::connect(server, "/killed", &[]).await.1.unwrap();
    let (direct_echoed, direct_end) = burst_until_it_ends(direct).await;
    assert!(matches!(direct_end, Received::Reset), "{direct_end:?}");
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let ws = raw::connect(proxy.addr, "/killed", &[]).await.1.unwrap();
    let (echoed, end) = burst_until_it_ends(ws).await;
    eprintln!("direct: {direct_echoed} echoes, then {direct_end:?}; through frametap: {echoed}, then {end:?}");
    assert!(matches!(end, Received::Reset), "a reset, as directly; never a close frame or a FIN: {end:?}");
    assert!((300..=ECHOES).contains(&echoed), "the echoes before the burst all arrive: {echoed}");
    let capture = proxy.stop().await;
    let close = close_of(&capture, 1);
    assert_eq!(
        (close.initiator, close.code, close.clean, close.dropped_by),
        (Peer::Server, None, false, Some(Peer::Server))
    );
    assert!(close.detail.as_deref().unwrap_or("").contains("reset"), "{close:?}");
    let from_server: Vec<_> = frames(&capture).into_iter().filter(|f| f.from == Peer::Server).collect();
    assert!(from_server.len() as u64 >= echoed, "the capture holds every echo the client got");
    assert!(frames(&capture).iter().all(|f| f.opcode == Opcode::Text), "no close frame was made up for the client");
}

#[tokio::test]
async fn a_client_killed_mid_stream_reaches_the_upstream_as_a_drop() {
    let (ended_tx, mut ended_rx) = tokio::sync::mpsc::unbounded_channel();
    let (server, _) = raw::start_raw_server(raw::upgrade_all, move |mut ws: RawWs| {
        let ended_tx = ended_tx.clone();
        async move {
            ws.stream.set_nodelay(true).unwrap();
            let mut echoed = 0u64;
            loop {
                match ws.recv().await {
                    Received::Frame(f) if f.header.opcode == Opcode::Close => {
                        ended_tx.send(format!("close frame after {echoed}")).unwrap();
                        return;
                    }
                    Received::Frame(f) => {
                        echoed += 1;
                        // The client may be gone by now; a failed echo is part of the drop.
                        let bytes = frametap::wire::encode_frame(true, f.header.opcode, &f.payload, None);
                        if ws.stream.write_all(&bytes).await.is_err() {
                            ended_tx.send(format!("write failed after {echoed}")).unwrap();
                            return;
                        }
                    }
                    other => {
                        ended_tx.send(format!("{other:?} after {echoed}")).unwrap();
                        return;
                    }
                }
            }
        }
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/killed", &[]).await.1.unwrap();
    ws.stream.set_nodelay(true).unwrap();
    for round in 0..20u64 {
        for i in 0..10 {
            ws.send(true, Opcode::Text, payload(1, round * 10 + i).as_bytes()).await;
        }
        for i in 0..10 {
            assert_eq!(&ws.frame().await.payload[..], payload(1, round * 10 + i).as_bytes());
        }
    }
    // More frames in flight, then the process dies: its socket is reset.
    for seq in 200..210 {
        ws.send(true, Opcode::Text, payload(1, seq).as_bytes()).await;
    }
    frametap::proxy::stream::reset_on_close(ws.stream.as_raw_fd());
    drop(ws);
    let ended = tokio::time::timeout(WAIT, ended_rx.recv()).await.expect("the upstream sees the end").unwrap();
    assert!(ended.starts_with("Reset") || ended.starts_with("Eof") || ended.starts_with("write failed"), "{ended}");
    let capture = proxy.stop().await;
    let close = close_of(&capture, 1);
    assert_eq!(
        (close.initiator, close.code, close.clean, close.dropped_by),
        (Peer::Client, None, false, Some(Peer::Client))
    );
    assert!(frames(&capture).iter().all(|f| f.opcode == Opcode::Text), "no close frame was made up for the upstream");
}

/// Sends `count` numbered messages on a new connection and checks every echo.
async fn echo_round(url: &str, conn: u32, count: u64) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for seq in 0..count {
        ws.send(Message::text(payload(conn, seq))).await.unwrap();
        let echo = tokio::time::timeout(WAIT, ws.next()).await.expect("an echo in time").unwrap().unwrap();
        assert_eq!(echo.into_text().unwrap().as_str(), payload(conn, seq));
    }
    ws.close(None).await.unwrap();
    while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, ws.next()).await {}
}

#[tokio::test]
async fn a_full_disk_stops_the_capture_not_the_relay() {
    // /dev/full accepts the open and fails every write with ENOSPC, like a disk that filled up.
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.jsonl");
    let echo = start_echo_server().await;
    let (addr, stop, task) = common::serve_in_process(
        common::capture_only(CaptureWriter::from_file(&path, full)),
        test_config(&format!("ws://{echo}")),
    )
    .await;
    // Far past the writer's buffer, and a second connection after the failure.
    echo_round(&format!("ws://{addr}/first"), 1, 2_000).await;
    echo_round(&format!("ws://{addr}/after-the-failure"), 2, 200).await;
    stop.send(()).unwrap();
    let summary = tokio::time::timeout(WAIT, task).await.expect("the proxy stops in time").unwrap();
    assert!(!summary.end.complete, "the capture is marked incomplete: {:?}", summary.end);
    let error = summary.end.errors.first().expect("the error is recorded");
    assert!(error.contains("No space left on device") && error.contains("capture.jsonl"), "{error}");
    assert_eq!(summary.end.connections, 2, "records were still counted");
}

#[tokio::test]
async fn a_capture_past_the_file_size_limit_is_reported_and_the_relay_goes_on() {
    const LIMIT: u64 = 64 * 1024;
    let echo = start_echo_server().await;
    let options = ChildOptions { file_size_limit: Some(LIMIT), ..ChildOptions::default() };
    let mut proxy = ChildProxy::start(echo, options).await;
    echo_round(&proxy.ws_url("/first"), 1, 2_000).await;
    echo_round(&proxy.ws_url("/after-the-failure"), 2, 200).await;
    let status = proxy.stop(Duration::from_secs(20)).await;
    let stderr = proxy.stderr_text();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("writing the capture") && stderr.contains("File too large"), "a clear error: {stderr}");
    // Said as frametap's other runtime warnings are (docs/architecture.md), not as a raw tracing `ERROR` line.
    let said = stderr.lines().find(|l| l.contains("File too large")).unwrap_or_default();
    assert!(said.starts_with("frametap: warning: writing the capture") && !said.contains("ERROR"), "{said}");
    let last = stderr.lines().rev().find(|l| l.contains("capture")).unwrap_or_default();
    assert!(
        last.starts_with("frametap: capture INCOMPLETE: ") && last.contains("holds only part of what was relayed"),
        "the final summary says the capture is incomplete, and does not call it saved: {stderr}"
    );
    let text = std::fs::read(&proxy.capture).unwrap();
    assert!(text.len() as u64 <= LIMIT);
    let text = String::from_utf8_lossy(&text);
    let records: Vec<Record> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(records.iter().any(|r| matches!(r, Record::Frame(_))), "what fit was written");
    assert!(!records.iter().any(|r| matches!(r, Record::End(_))), "no end record: readers see it is incomplete");
}

#[tokio::test]
async fn clients_that_never_finish_their_handshake_are_dropped_and_others_go_on() {
    const TIMEOUT: Duration = Duration::from_millis(400);
    let echo = start_echo_server().await;
    let mut config = test_config(&format!("ws://{echo}"));
    config.handshake_timeout = TIMEOUT;
    let proxy = start_proxy(config).await;
    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        // Half a request head, then nothing.
        stream.write_all(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n").await.unwrap();
        stalled.push(stream);
    }
    // Meanwhile a well-behaved client works normally.
    let (mut ws, _) = tokio_tungstenite::connect_async(proxy.ws_url("/ok")).await.unwrap();
    for seq in 0..50 {
        ws.send(Message::text(payload(9, seq))).await.unwrap();
        let echo = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(echo.into_text().unwrap().as_str(), payload(9, seq));
    }
    for mut stream in stalled {
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(WAIT, stream.read_to_end(&mut rest)).await;
        assert!(ended.is_ok(), "a stalled handshake is dropped after the handshake timeout");
    }
    assert!(started.elapsed() >= TIMEOUT, "not dropped before the timeout ({:?})", started.elapsed());
    // The good connection outlived them.
    ws.send(Message::text(payload(9, 50))).await.unwrap();
    let echo = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(echo.into_text().unwrap().as_str(), payload(9, 50));
    ws.close(None).await.unwrap();
    while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, ws.next()).await {}
    let capture = proxy.stop().await;
    let opens: Vec<_> = capture.records.iter().filter(|r| matches!(r, Record::Open(_))).collect();
    assert_eq!(opens.len(), 1, "only the finished handshake became a connection");
    assert!(close_of(&capture, 1).clean);
}
