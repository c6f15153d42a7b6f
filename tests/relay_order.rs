//! The order of a relayed connection's records: they reach the capture and the analysis in the order frametap
//! read the frames, across both directions, also while one direction waits to write to an endpoint that does not
//! read (backpressure). Real client, proxy and upstream on 127.0.0.1:0.

// Unix only: its child proxy runs under a file-size limit (setrlimit) and is stopped with SIGTERM (tests/soak_support).
#![cfg(unix)]

mod common;
mod soak_support;

use common::raw::{self, RawWs, Received};
use frametap::capture::read_capture;
use frametap::event::{Frame, Opcode, Peer, Record};
use frametap::wire::{close_payload, encode_frame};
use soak_support::{ChildOptions, ChildProxy};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// The client's frames, written 16 at a time: small enough that every read frametap makes completes some, so the
/// read whose write waits holds frames already numbered.
const CLIENT_FRAME: usize = 1000;
const FRAMES_PER_WRITE: usize = 16;

const WAIT: Duration = Duration::from_secs(20);
/// How long the client's socket must stay full before the test takes it that frametap stopped reading it (it is
/// waiting to write to the upstream): frametap reads within microseconds when it can, so on a busy machine a
/// longer stall only makes the test check an easier case, never fail.
const QUIET: Duration = Duration::from_millis(200);

/// The upstream's listening socket, with a small receive buffer (no autotuning), so that frametap's writes to it
/// soon wait.
fn small_buffered_listener() -> TcpSocket {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    socket
}

/// Writes copies of `block` without waiting, until the socket takes no more (the path to the upstream is full and
/// frametap stopped reading the client); returns where in a block the last write stopped, and the bytes written.
fn send_until_full(stream: &TcpStream, block: &[u8], mut at: usize) -> (usize, u64) {
    let mut bytes = 0;
    loop {
        match stream.try_write(&block[at..]) {
            Ok(n) => {
                at = (at + n) % block.len();
                bytes += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return (at, bytes),
            Err(e) => panic!("writing to the proxy failed: {e}"),
        }
    }
}

#[tokio::test]
async fn a_close_read_while_the_other_direction_waits_to_write_comes_after_the_frames_read_before_it() {
    // The upstream's socket is handed to the test, which reads only a first frame from it until it has closed.
    let (sockets_tx, mut sockets) = tokio::sync::mpsc::unbounded_channel::<RawWs>();
    let listener = small_buffered_listener().listen(16).unwrap();
    let (upstream, _) = raw::start_raw_server_on(listener, raw::upgrade_all, move |ws| {
        let _ = sockets_tx.send(ws);
        async {}
    });
    // A child process: frametap runs on its own while the test fills the sockets.
    let mut proxy = ChildProxy::start(upstream, ChildOptions::default()).await;
    // The client's send buffer bounded too (no autotuning to megabytes), to keep the capture small.
    let client_socket = TcpSocket::new_v4().unwrap();
    client_socket.set_send_buffer_size(128 * 1024).unwrap();
    let stream = client_socket.connect(proxy.addr).await.unwrap();
    let (head, client, _) = raw::upgrade(stream, proxy.addr, "/order", &[]).await;
    let mut client = client.unwrap_or_else(|| panic!("not upgraded: {head}"));
    let mut server = tokio::time::timeout(WAIT, sockets.recv()).await.unwrap().unwrap();
    // A first frame through: the relay runs (else the client could fill the sockets before it starts).
    client.send(true, Opcode::Text, b"hello").await;
    let hello = tokio::time::timeout(WAIT, server.frame()).await.expect("the first frame passes");
    assert_eq!(&hello.payload[..], b"hello");

    // The client sends until nothing more goes: frametap is waiting to write to the upstream, with the frames of
    // its last read already numbered.
    let block = encode_frame(true, Opcode::Binary, &[b'c'; CLIENT_FRAME], Some([1, 2, 3, 4])).repeat(FRAMES_PER_WRITE);
    let (mut at, mut sent) = (0, 0);
    let flooding = async {
        loop {
            let (stopped_at, bytes) = send_until_full(&client.stream, &block, at);
            (at, sent) = (stopped_at, sent + bytes);
            // The socket takes more once frametap reads again; when it stays full, frametap has stopped reading.
            match tokio::time::timeout(QUIET, client.stream.writable()).await {
                Ok(ready) => ready.unwrap(),
                Err(_) => return,
            }
        }
    };
    tokio::time::timeout(WAIT, flooding).await.expect("frametap stops reading the client");
    eprintln!("the client sent {sent} bytes before the path to the upstream was full");
    // Meanwhile the upstream closes: frametap reads that close after the client's frames it is holding.
    server.send(true, Opcode::Close, &close_payload(1000, "done")).await;
    let draining = tokio::spawn(async move {
        // Now the upstream reads everything, up to the client's answer to its close, and ends TCP.
        loop {
            match server.recv().await {
                Received::Frame(f) if f.header.opcode == Opcode::Close => return,
                Received::Frame(_) => {}
                other => panic!("the upstream's connection ended before the client's close: {other:?}"),
            }
        }
    });
    let close = tokio::time::timeout(WAIT, client.frame()).await.expect("the upstream's close passes on");
    assert_eq!(close.header.opcode, Opcode::Close);
    tokio::time::timeout(WAIT, async {
        client.stream.write_all(&block[at..]).await.unwrap();
        client.send(true, Opcode::Close, &close_payload(1000, "")).await;
        while let Received::Frame(_) = client.recv().await {}
    })
    .await
    .expect("the client's frames and close pass once the upstream reads");
    tokio::time::timeout(WAIT, draining).await.unwrap().unwrap();
    drop(client);

    let status = proxy.stop(WAIT).await;
    assert!(status.success(), "{status}: {}", proxy.stderr_text());
    let capture = read_capture(&proxy.capture).unwrap();
    let frames: Vec<&Frame> = common::frames(&capture);
    let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
    let out_of_order = seqs.windows(2).position(|pair| pair[1] < pair[0]);
    assert!(
        out_of_order.is_none(),
        "the connection's {} frames are not in seq order: #{} is followed by #{}",
        seqs.len(),
        seqs[out_of_order.unwrap()],
        seqs[out_of_order.unwrap() + 1]
    );
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "every frame once");
    let server_close = frames.iter().find(|f| f.opcode == Opcode::Close).unwrap();
    assert_eq!(server_close.from, Peer::Server, "the upstream closed first");
    let read_before_close = frames.iter().filter(|f| f.opcode.is_data() && f.seq < server_close.seq).last().unwrap();
    assert_eq!(read_before_close.from, Peer::Client);
    assert!(
        frames.iter().any(|f| f.from == Peer::Client && f.opcode.is_data() && f.seq > server_close.seq),
        "the client's frames held up by the upstream are read after its close"
    );
    let diagnosis = capture
        .records
        .iter()
        .find_map(|r| match r {
            Record::Diagnosis(d) => Some(d),
            _ => None,
        })
        .expect("a diagnosis");
    assert_eq!(diagnosis.details["initiator"], "server");
    assert_eq!(
        diagnosis.details["preceding"]["seq"], read_before_close.seq,
        "the preceding frame is the last one read before the close (#{}), in {}",
        server_close.seq, diagnosis.details["preceding"]
    );
}
