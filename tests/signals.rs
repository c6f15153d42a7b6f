//! Ctrl-C and SIGTERM are caught from the moment a command asks for its shutdown signal (before it prints
//! "Ctrl-C stops"), not from when its accept loop first polls the signal: on a busy machine that came after
//! the first connection was already being served, and a SIGTERM then killed frametap outright (no 1001 to
//! clients, no `end` record in the capture). Its own process: the signals are raised at this test binary.
//!
//! A second Ctrl-C cuts the shutdown's wait for close handshakes short, as a user who presses it again expects:
//! tested on the real binary.

#![cfg(unix)]

mod common;

use common::binary::RunningProxy;
use frametap::commands::shutdown;
use frametap::event::{Opcode, Peer, Record};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_signal_that_arrives_before_the_shutdown_future_is_polled_still_stops() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let stop = shutdown::signal();
        // SAFETY: raising a signal at this process, which `shutdown::signal` has just installed a handler for
        // (without one, the test binary dies here and the test fails).
        assert_eq!(unsafe { libc::raise(signal) }, 0);
        tokio::time::timeout(WAIT, stop).await.unwrap_or_else(|_| panic!("signal {signal} was not seen"));
    }
}

/// The 1001 close wait on shutdown is up to this long (`proxy::CLOSE_TIMEOUT`): a second Ctrl-C must not wait it out.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_second_ctrl_c_stops_at_once_and_the_capture_keeps_every_record() {
    let mut proxy = RunningProxy::start(&["--no-ui"]).await;
    let capture_path = proxy.banner.capture.clone().expect("a capture");
    // ws://127.0.0.1:PORT/v1?deploymentId=… (the built-in simulator's example URL)
    let (addr, path) = proxy.banner.url.trim_start_matches("ws://").split_once('/').unwrap();
    let (head, ws, _) = common::raw::connect(addr.parse().unwrap(), &format!("/{path}"), &[]).await;
    let mut client = ws.unwrap_or_else(|| panic!("the simulator upgrades: {head}"));
    client.send(true, Opcode::Ping, b"still here").await;
    assert_eq!(client.frame().await.header.opcode, Opcode::Pong);
    let mut stderr = proxy.banner.stderr.take().unwrap();
    let pid = proxy.child.id().unwrap() as i32;

    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let first = Instant::now();
    let shutting_down = loop {
        let line = stderr.next_line().await.unwrap().expect("frametap says it is shutting down");
        if line.contains("shutting down") {
            break line;
        }
    };
    assert!(shutting_down.contains("Ctrl-C again stops at once"), "the first Ctrl-C tells: {shutting_down:?}");
    // frametap's 1001: the close wait has begun. This client never answers it.
    let close = client.frame().await;
    assert_eq!((close.header.opcode, &close.payload[..2]), (Opcode::Close, &1001u16.to_be_bytes()[..]));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = tokio::time::timeout(WAIT, proxy.child.wait()).await.expect("frametap exits").unwrap();
    let took = first.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < CLOSE_WAIT - Duration::from_secs(1), "two Ctrl-C took {took:?}: the close wait was not cut short");
    let mut rest = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        rest.push(line);
    }
    let rest = rest.join("\n");
    assert!(rest.contains("Ctrl-C again: stopping at once"), "{rest}");
    assert!(rest.contains("capture saved to"), "{rest}");

    let capture = frametap::capture::read_capture(std::path::Path::new(&capture_path)).unwrap();
    assert!(capture.has_end && capture.problems.is_empty(), "a whole capture: {:?}", capture.problems);
    let frames: Vec<(Peer, Opcode)> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) => Some((f.from, f.opcode)),
            _ => None,
        })
        .collect();
    assert_eq!(frames[..2], [(Peer::Client, Opcode::Ping), (Peer::Server, Opcode::Pong)], "{frames:?}");
    assert!(frames.contains(&(Peer::Proxy, Opcode::Close)), "frametap's 1001 is recorded: {frames:?}");
    let closes: Vec<_> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Close(c) => Some(c),
            _ => None,
        })
        .collect();
    let [close] = closes[..] else { panic!("one close record: {closes:?}") };
    assert_eq!((close.initiator, close.code, close.clean), (Peer::Proxy, Some(1001), false), "{close:?}");
    let detail = close.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("a second Ctrl-C or SIGTERM stopped frametap before the close handshake finished"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_second_ctrl_c_stops_the_simulator_at_once_and_promises_no_capture() {
    let mut sim = common::binary::frametap()
        .args(["sim", "genesys", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut stderr = tokio::io::BufReader::new(sim.stderr.take().unwrap()).lines();
    let url = loop {
        let line = stderr.next_line().await.unwrap().expect("the simulator's banner");
        if let Some(url) = line.trim().strip_prefix("Connect to: ws://") {
            break url.to_owned();
        }
    };
    let (addr, path) = url.split_once('/').unwrap();
    let (head, ws, _) = common::raw::connect(addr.parse().unwrap(), &format!("/{path}"), &[]).await;
    let mut client = ws.unwrap_or_else(|| panic!("the simulator upgrades: {head}"));
    client.send(true, Opcode::Ping, b"still here").await;
    assert_eq!(client.frame().await.header.opcode, Opcode::Pong);
    let pid = sim.id().unwrap() as i32;
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let first = Instant::now();
    // The simulator's 1001: its close wait has begun. This client never answers it.
    let close = client.frame().await;
    assert_eq!((close.header.opcode, &close.payload[..2]), (Opcode::Close, &1001u16.to_be_bytes()[..]));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = tokio::time::timeout(WAIT, sim.wait()).await.expect("the simulator exits").unwrap();
    let took = first.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(2), "two Ctrl-C took {took:?}: the close wait (3 s) was not cut short");
    let mut rest = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        rest.push(line);
    }
    let rest = rest.join("\n");
    assert!(rest.contains("Ctrl-C again: stopping at once; connections still closing are cut short"), "{rest}");
    assert!(!rest.contains("capture"), "the simulator writes no capture, so it promises none: {rest}");
}
