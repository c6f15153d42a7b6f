//! A raw WebSocket peer over TCP for frame-exact tests: hand-written handshakes, frames sent and read as bytes.

use bytes::{Buf, BytesMut};
use frametap::event::Opcode;
use frametap::wire::{encode_frame, FrameScanner, ScannedFrame, Step};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One end of a WebSocket connection, frames in and out as raw bytes.
pub struct RawWs {
    pub stream: TcpStream,
    buf: BytesMut,
    scanner: FrameScanner,
    /// True for the client end: frames it sends are masked.
    mask: bool,
}

/// What `recv` found.
#[derive(Debug)]
pub enum Received {
    Frame(ScannedFrame),
    /// The peer closed TCP (FIN) with no frame pending.
    Eof,
    /// The peer reset the connection.
    Reset,
}

impl RawWs {
    pub fn new(stream: TcpStream, leftover: BytesMut, mask: bool) -> Self {
        RawWs { stream, buf: leftover, scanner: FrameScanner::new(u64::MAX), mask }
    }

    /// Sends one frame (masked when this is the client end).
    pub async fn send(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) {
        let mask = self.mask.then_some([0x37, 0xfa, 0x21, 0x3d]);
        let bytes = encode_frame(fin, opcode, payload, mask);
        self.stream.write_all(&bytes).await.unwrap();
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads the next whole frame, or how the stream ended.
    pub async fn recv(&mut self) -> Received {
        loop {
            let (used, step) = self.scanner.step(&self.buf);
            self.buf.advance(used);
            if let Step::Frame(frame) = step {
                return Received::Frame(frame);
            }
            self.buf.reserve(64 * 1024);
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return Received::Eof,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Received::Reset,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    /// A second handle on the socket, for writing from another task while this one reads.
    pub fn writer(&self) -> TcpStream {
        TcpStream::from_std(duplicate(&self.stream)).unwrap()
    }

    /// Reads the next frame; panics on end of stream.
    pub async fn frame(&mut self) -> ScannedFrame {
        match self.recv().await {
            Received::Frame(frame) => frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// Reads an HTTP head (up to the blank line); returns it and any bytes after it.
pub async fn read_head(stream: &mut TcpStream) -> (String, BytesMut) {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buf[..end].to_vec()).unwrap();
            buf.advance(end + 4);
            return (head, buf);
        }
        let n = stream.read_buf(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the HTTP head ended: {:?}", String::from_utf8_lossy(&buf));
    }
}

/// Headers of an HTTP head as lowercase-name pairs.
pub fn head_headers(head: &str) -> Vec<(String, String)> {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// The `Sec-WebSocket-Accept` that answers the upgrade request `head` (from its `Sec-WebSocket-Key`).
pub fn accept_for(head: &str) -> String {
    let key = head_header(&head_headers(head), "sec-websocket-key").map(str::to_owned).expect("a Sec-WebSocket-Key");
    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes())
}

pub fn head_header<'a>(head: &'a [(String, String)], name: &str) -> Option<&'a str> {
    head.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Opens a WebSocket as a client with a hand-written request; returns the response head and, on 101, the socket.
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    extra_headers: &[(&str, &str)],
) -> (String, Option<RawWs>, BytesMut) {
    upgrade(TcpStream::connect(addr).await.unwrap(), addr, path, extra_headers).await
}

/// [`connect`] over a TCP connection already open to `addr` (one whose socket options the test chose).
pub async fn upgrade(
    mut stream: TcpStream,
    addr: SocketAddr,
    path: &str,
    extra_headers: &[(&str, &str)],
) -> (String, Option<RawWs>, BytesMut) {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    for (name, value) in extra_headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let (head, rest) = read_head(&mut stream).await;
    if head.starts_with("HTTP/1.1 101") {
        assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "wrong accept key in {head}");
        (head, Some(RawWs::new(stream, rest, true)), BytesMut::new())
    } else {
        (head, None, rest)
    }
}

/// How a raw test server answers each upgrade request.
pub enum Answer {
    /// 101 with these extra headers; then the handler gets the socket.
    Upgrade(Vec<(String, String)>),
    /// Any other status, with headers and body.
    Refuse(u16, Vec<(String, String)>, Vec<u8>),
}

/// A raw WebSocket server on 127.0.0.1:0: `decide` sees the request head, `handler` drives the upgraded socket.
/// Request heads are sent on the returned channel.
pub async fn start_raw_server<F: std::future::Future<Output = ()> + Send + 'static>(
    decide: impl Fn(&str) -> Answer + Send + Sync + 'static,
    handler: impl Fn(RawWs) -> F + Send + Sync + 'static,
) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<String>) {
    start_raw_server_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), decide, handler)
}

/// [`start_raw_server`] on a listener the test made (with the socket options it chose).
pub fn start_raw_server_on<D, H, F>(
    listener: TcpListener,
    decide: D,
    handler: H,
) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<String>)
where
    D: Fn(&str) -> Answer + Send + Sync + 'static,
    H: Fn(RawWs) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let addr = listener.local_addr().unwrap();
    let (heads_tx, heads_rx) = tokio::sync::mpsc::unbounded_channel();
    let decide = std::sync::Arc::new(decide);
    let handler = std::sync::Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (decide, handler, heads_tx) = (decide.clone(), handler.clone(), heads_tx.clone());
            tokio::spawn(async move {
                let (head, rest) = read_head(&mut stream).await;
                let _ = heads_tx.send(head.clone());
                match decide(&head) {
                    Answer::Upgrade(extra) => {
                        let accept = accept_for(&head);
                        let mut response = format!(
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                        );
                        for (n, v) in extra {
                            response += &format!("{n}: {v}\r\n");
                        }
                        response += "\r\n";
                        stream.write_all(response.as_bytes()).await.unwrap();
                        handler(RawWs::new(stream, rest, false)).await;
                    }
                    Answer::Refuse(status, headers, body) => {
                        let mut response = format!("HTTP/1.1 {status} Refused\r\nContent-Length: {}\r\n", body.len());
                        for (n, v) in headers {
                            response += &format!("{n}: {v}\r\n");
                        }
                        response += "\r\n";
                        stream.write_all(response.as_bytes()).await.unwrap();
                        stream.write_all(&body).await.unwrap();
                    }
                }
            });
        }
    });
    (addr, heads_rx)
}

/// A server that upgrades every request.
pub fn upgrade_all(_: &str) -> Answer {
    Answer::Upgrade(Vec::new())
}

/// A raw server that echoes data frames and answers a close with the same close, then ends TCP.
pub async fn raw_echo(mut ws: RawWs) {
    loop {
        match ws.recv().await {
            Received::Frame(f) if f.header.opcode == Opcode::Close => {
                ws.send(true, Opcode::Close, &f.payload).await;
                return;
            }
            Received::Frame(f) if f.header.opcode.is_data() => ws.send(f.header.fin, f.header.opcode, &f.payload).await,
            Received::Frame(_) => {}
            _ => return,
        }
    }
}

/// A second handle on `stream`'s socket (a `dup` of its descriptor).
#[cfg(unix)]
fn duplicate(stream: &TcpStream) -> std::net::TcpStream {
    use std::os::fd::AsFd;
    std::net::TcpStream::from(stream.as_fd().try_clone_to_owned().unwrap())
}

/// A second handle on `stream`'s socket (`WSADuplicateSocket`).
#[cfg(windows)]
fn duplicate(stream: &TcpStream) -> std::net::TcpStream {
    use std::os::windows::io::AsSocket;
    std::net::TcpStream::from(stream.as_socket().try_clone_to_owned().unwrap())
}
