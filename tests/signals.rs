//! Ctrl-C and SIGTERM are caught from the moment a command asks for its shutdown signal (before it prints
//! "Ctrl-C stops"), not from when its accept loop first polls the signal: on a busy machine that came after
//! the first connection was already being served, and a SIGTERM then killed frametap outright (no 1001 to
//! clients, no `end` record in the capture). Its own process: the signals are raised at this test binary.
//!
//! A second Ctrl-C cuts the shutdown's wait for close handshakes short, as a user who presses it again expects:
//! tested on the real binary, for the proxy, the simulator, `replay serve`, `replay send` and `frametap ui FILE`
//! (whose wait is for a download still being sent).

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
    let rest = second_ctrl_c(&mut proxy.child, stderr, first, CLOSE_WAIT - Duration::from_secs(1)).await;
    assert!(rest.contains("Ctrl-C again: stopping at once"), "{rest}");
    assert!(rest.contains("capture saved to"), "{rest}");

    let capture = frametap::capture::read_capture(std::path::Path::new(&capture_path)).unwrap();
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
    let close = the_close_cut_short(&capture);
    assert_eq!(close.initiator, Peer::Proxy, "{close:?}");
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
    // Its close wait is 3 s.
    let rest = second_ctrl_c(&mut sim, stderr, first, Duration::from_secs(2)).await;
    assert!(rest.contains("Ctrl-C again: stopping at once; connections still closing are cut short"), "{rest}");
    assert!(!rest.contains("capture"), "the simulator writes no capture, so it promises none: {rest}");
}

/// The recorded session every test below uses: a client text first, then the server's answer, … a close handshake.
fn golden_session() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/relayed-session.jsonl")
}

/// `frametap replay COMMAND` of [`golden_session`] with `args`, in the FRAMETAP_HOME `home`; its stderr piped.
fn replay_golden_session(command: &str, args: &[&str], home: &std::path::Path) -> tokio::process::Child {
    common::binary::frametap()
        .args(["replay", command])
        .arg(golden_session())
        .args(args)
        .env("FRAMETAP_HOME", home)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Reads `stderr` up to the line that says frametap is shutting down (its first Ctrl-C was seen), and returns it.
async fn until_shutting_down(
    stderr: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
) -> String {
    let read = async {
        loop {
            let line = stderr.next_line().await.unwrap().expect("frametap says it is shutting down");
            if line.contains("shutting down") {
                assert!(line.contains("Ctrl-C again stops at once"), "the first Ctrl-C tells: {line:?}");
                return line;
            }
        }
    };
    tokio::time::timeout(WAIT, read).await.expect("the shutting-down line")
}

/// Sends the second Ctrl-C to `child` and waits for it to exit successfully, less than `within` after the `first`
/// Ctrl-C (the wait it cuts short is longer); returns what it said from then on.
async fn second_ctrl_c(
    child: &mut tokio::process::Child,
    mut stderr: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
    first: Instant,
    within: Duration,
) -> String {
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGINT) };
    let status = tokio::time::timeout(WAIT, child.wait()).await.expect("frametap exits").unwrap();
    let took = first.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < within, "two Ctrl-C took {took:?}: the wait was not cut short");
    let mut rest = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        rest.push(line);
    }
    rest.join("\n")
}

/// What a replay stopped by two Ctrl-C says as it stops (`rest`), and the capture it names (see
/// [`the_close_cut_short`]).
fn assert_replay_cut_short(rest: &str) {
    assert!(rest.contains(&format!("{SAID_CUT_SHORT} (and say so in the capture)")), "{rest}");
    let saved = rest.lines().find_map(|l| l.split("capture saved to ").nth(1)).unwrap_or_else(|| panic!("{rest}"));
    the_close_cut_short(
        &frametap::capture::read_capture(std::path::Path::new(saved.split(" (").next().unwrap())).unwrap(),
    );
}

/// A capture stopped by two Ctrl-C: whole, its one `close` a 1001 whose detail says the second Ctrl-C cut the close
/// handshake short.
fn the_close_cut_short(capture: &frametap::capture::CaptureFile) -> frametap::event::Close {
    assert!(capture.has_end && capture.problems.is_empty(), "a whole capture: {:?}", capture.problems);
    let closes: Vec<_> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Close(c) => Some(c),
            _ => None,
        })
        .collect();
    let [close] = closes[..] else { panic!("one close record: {closes:?}") };
    assert_eq!((close.code, close.clean), (Some(1001), false), "{close:?}");
    let detail = close.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("a second Ctrl-C or SIGTERM stopped frametap before the close handshake finished"),
        "{detail}"
    );
    close.clone()
}

const SAID_CUT_SHORT: &str = "Ctrl-C again: stopping at once; connections still closing are cut short";

/// `replay serve`: stopped while it waits for the client's first recorded frame, it sends a 1001 and waits for the
/// close handshake; a second Ctrl-C ends that wait at once, and the capture's close says so.
#[tokio::test]
async fn a_second_ctrl_c_cuts_replay_serves_close_wait_short_and_the_capture_says_so() {
    let home = tempfile::tempdir().unwrap();
    let mut serve = replay_golden_session("serve", &["--listen", "127.0.0.1:0", "--no-ui"], home.path());
    let mut banner = common::binary::read_banner(serve.stderr.take().unwrap()).await;
    let (addr, path) = banner.url.trim_start_matches("ws://").split_once('/').unwrap();
    let (head, ws, _) = common::raw::connect(addr.parse().unwrap(), &format!("/{path}"), &[]).await;
    let mut client = ws.unwrap_or_else(|| panic!("replay serve upgrades: {head}"));
    let mut stderr = banner.stderr.take().unwrap();

    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(serve.id().unwrap() as i32, libc::SIGINT) };
    let first = Instant::now();
    until_shutting_down(&mut stderr).await;
    // The replay's 1001: its close wait has begun. This client never answers it.
    let close = tokio::time::timeout(WAIT, client.frame()).await.expect("the replay's close");
    assert_eq!((close.header.opcode, &close.payload[..2]), (Opcode::Close, &1001u16.to_be_bytes()[..]));
    let rest = second_ctrl_c(&mut serve, stderr, first, CLOSE_WAIT - Duration::from_secs(1)).await;
    assert_replay_cut_short(&rest);
}

/// `replay send`: stopped while it waits for the live server's answer, it sends a 1001 and waits for the server's
/// close; a second Ctrl-C ends that wait at once, and the capture's close says so.
#[tokio::test]
async fn a_second_ctrl_c_cuts_replay_sends_close_wait_short_and_the_capture_says_so() {
    use tokio::io::AsyncBufReadExt;
    // A server that reads every frame (passing each on) and answers none, its close included.
    let (got_tx, mut got) = tokio::sync::mpsc::unbounded_channel::<(Opcode, Vec<u8>)>();
    let (server, _) = common::raw::start_raw_server(common::raw::upgrade_all, move |mut ws| {
        let got_tx = got_tx.clone();
        async move {
            while let common::raw::Received::Frame(f) = ws.recv().await {
                let _ = got_tx.send((f.header.opcode, f.payload.to_vec()));
            }
        }
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut send = replay_golden_session("send", &["--upstream", &format!("ws://{server}")], home.path());
    let mut stderr = tokio::io::BufReader::new(send.stderr.take().unwrap()).lines();
    // The recording's first client frame: the replay now waits for the server's answer.
    let (opcode, _) = tokio::time::timeout(WAIT, got.recv()).await.expect("the first frame").unwrap();
    assert_eq!(opcode, Opcode::Text);

    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(send.id().unwrap() as i32, libc::SIGINT) };
    let first = Instant::now();
    until_shutting_down(&mut stderr).await;
    // The replay's 1001: its close wait has begun. This server never answers it.
    let close = loop {
        let (opcode, payload) = tokio::time::timeout(WAIT, got.recv()).await.expect("the replay's close").unwrap();
        if opcode == Opcode::Close {
            break payload;
        }
    };
    assert_eq!(&close[..2], &1001u16.to_be_bytes()[..]);
    let rest = second_ctrl_c(&mut send, stderr, first, CLOSE_WAIT - Duration::from_secs(1)).await;
    assert_replay_cut_short(&rest);
}

/// `frametap ui FILE` with a download a browser stopped reading: the first Ctrl-C waits for it (at most
/// `ui::UI_STOP_TIMEOUT`), a second one stops at once, promising no capture (it writes none). Before, the server
/// waited for every response to be sent, and no Ctrl-C stopped it.
#[tokio::test]
async fn a_second_ctrl_c_stops_ui_file_at_once_with_a_download_still_being_sent() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    // 16 MB of frames: more than the loopback's socket buffers hold, so the download stalls.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("large.jsonl");
    let golden = std::fs::read_to_string(golden_session()).unwrap();
    let mut text: String = golden.lines().take(2).map(|l| format!("{l}\n")).collect();
    let payload = bytes::Bytes::from("x".repeat(10_000));
    let ts = frametap::event::Ts::now();
    for seq in 1..=1600 {
        let frame = frametap::event::Frame::whole(1, ts, seq, Peer::Client, Opcode::Text, payload.clone());
        text += &(serde_json::to_string(&Record::Frame(frame)).unwrap() + "\n");
    }
    std::fs::write(&file, text).unwrap();
    let mut ui = common::binary::frametap()
        .arg("ui")
        .arg(&file)
        .args(["--ui", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(ui.stdout.take().unwrap()).lines();
    let first_line = tokio::time::timeout(WAIT, stdout.next_line()).await.unwrap().unwrap().unwrap();
    let url = first_line.rsplit(": ").next().unwrap().trim_start_matches("http://").to_owned();
    let (addr, query) = url.split_once("/?").unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut download = socket.connect(addr.parse().unwrap()).await.unwrap();
    let request = format!("GET /api/conn/1/capture?{query} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    download.write_all(request.as_bytes()).await.unwrap();
    // The response has begun; from here on nothing is read.
    let mut head = [0u8; 12];
    download.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "the download starts");
    let mut stderr = tokio::io::BufReader::new(ui.stderr.take().unwrap()).lines();

    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(ui.id().unwrap() as i32, libc::SIGINT) };
    let first = Instant::now();
    let said = until_shutting_down(&mut stderr).await;
    // It relays no connection: what it waits for, and cuts short, is the download.
    assert!(said.contains("without waiting for downloads still being sent"), "{said}");
    let rest = second_ctrl_c(&mut ui, stderr, first, CLOSE_WAIT - Duration::from_secs(1)).await;
    assert!(rest.contains("Ctrl-C again: stopping at once; downloads still being sent are cut short"), "{rest}");
    assert!(!rest.contains("capture"), "ui FILE writes no capture, so it promises none: {rest}");
    drop(download);
}
