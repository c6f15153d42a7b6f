//! The frame-level relay: forwards each endpoint's bytes exactly as sent, records every frame, and ends
//! the connection the way the endpoints did (a close handshake, or a TCP drop mirrored as a drop).
//!
//! frametap never speaks for an endpoint: pings, pongs and closes are answered by the far end. The only
//! frames it sends itself are close frames marked `"from": "proxy"` (1001 on shutdown, 1009 past
//! `--max-message`); see docs/architecture.md.

use super::ending::EndState;
use super::stream::{raw_socket, reset_on_close, RawSocket, RelayStream};
use crate::event::{Close, Frame, Note, Opcode, Peer, Record, Ts};
use crate::pipeline::ConnSink;
use crate::wire::{encode_close, random_mask, FrameScanner, ScannedFrame, Step};
use bytes::{Buf, Bytes, BytesMut};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// Bytes read from a socket at a time; small so that thousands of idle connections stay cheap.
pub const READ_CHUNK: usize = 16 * 1024;

/// Limits of one relayed connection.
#[derive(Clone, Copy, Debug)]
pub struct RelayOptions {
    /// `--max-message`: the largest frame or reassembled message passed on.
    pub max_message: u64,
    /// How long a started close handshake (or a one-sided TCP close) may take before frametap drops both sides.
    pub close_timeout: Duration,
}

/// Both legs of an upgraded connection, with bytes already read past each handshake.
pub struct Ends<C, S> {
    pub client: C,
    pub client_prefix: Bytes,
    pub server: S,
    pub server_prefix: Bytes,
}

/// The reason of frametap's 1009 close.
const TOO_BIG_REASON: &str = "message too big for frametap --max-message";

/// Why frametap itself sends a close frame.
type ProxyClose = Option<(u16, &'static str)>;

struct Shared<'s> {
    /// Numbers the frames as it takes them (both directions share it): `seq` is the pipeline's order.
    sink: &'s ConnSink,
    state: Mutex<EndState>,
    proxy_close: watch::Sender<ProxyClose>,
    /// Set once any close frame has been seen or sent: starts the close timeout.
    closing: watch::Sender<bool>,
    /// Told each time a close frame is delivered: the second one ends a connection one of whose sides has gone.
    close_delivered: tokio::sync::Notify,
    max_message: u64,
}

impl Shared<'_> {
    fn saw_close(&self, from: Peer, code: Option<u16>, reason: Option<String>) {
        let mut state = self.state.lock().unwrap();
        match from {
            Peer::Client => state.close_from_client = true,
            Peer::Server => state.close_from_server = true,
            Peer::Proxy => {}
        }
        if state.first_close.is_none() && state.drop.is_none() {
            state.first_close = Some((from, code, reason));
        }
        drop(state);
        self.closing.send_replace(true);
    }

    /// Both close frames were delivered: once one side ends TCP, the connection is over (as a server closes
    /// its socket after the close handshake without waiting for the client's FIN, RFC 6455 §7.1.1).
    fn closes_delivered(&self) -> bool {
        let state = self.state.lock().unwrap();
        state.delivered_from_client && state.delivered_from_server
    }

    fn delivered_close(&self, from: Peer) {
        let mut state = self.state.lock().unwrap();
        match from {
            Peer::Client => state.delivered_from_client = true,
            Peer::Server => state.delivered_from_server = true,
            Peer::Proxy => {}
        }
        drop(state);
        self.close_delivered.notify_one();
    }

    /// frametap sent `peer` a close of its own (1001 at shutdown, 1009) that `peer` has not answered yet.
    fn awaits_answer_from(&self, peer: Peer) -> bool {
        let state = self.state.lock().unwrap();
        match peer {
            Peer::Client => state.proxy_closed_client && !state.close_from_client,
            Peer::Server => state.proxy_closed_server && !state.close_from_server,
            Peer::Proxy => false,
        }
    }

    fn sent_close(&self, from: Peer) -> bool {
        let state = self.state.lock().unwrap();
        match from {
            Peer::Client => state.close_from_client,
            Peer::Server => state.close_from_server,
            Peer::Proxy => true,
        }
    }

    /// Records why frametap closes the connection itself (the first reason stands).
    fn proxy_closes(&self, why: String) {
        self.state.lock().unwrap().proxy_reason.get_or_insert(why);
    }

    /// frametap wrote a close frame of its own to `to`.
    fn proxy_closed(&self, to: Peer) {
        let mut state = self.state.lock().unwrap();
        match to {
            Peer::Client => state.proxy_closed_client = true,
            Peer::Server => state.proxy_closed_server = true,
            Peer::Proxy => {}
        }
    }

    /// `from` ended TCP after its close frame: early when the close handshake had not completed and no close had
    /// reached `from` before (a server that answers frametap's own close, or the client's relayed one, and then
    /// ends TCP does what RFC 6455 §7.1.1 asks of it: its own close handshake is complete).
    fn ended_after_close(&self, from: Peer) {
        let mut state = self.state.lock().unwrap();
        let answered = match from {
            Peer::Client => state.delivered_from_server || state.proxy_closed_client,
            Peer::Server => state.delivered_from_client || state.proxy_closed_server,
            Peer::Proxy => true,
        };
        if !state.handshake_done() && !answered && state.left_early.is_none() {
            state.left_early = Some(from);
        }
    }

    fn dropped(&self, by: Peer, how: String) {
        let mut state = self.state.lock().unwrap();
        // After both close frames crossed, the close handshake is done: how TCP ends is housekeeping.
        if state.drop.is_none() && !state.handshake_done() {
            state.drop = Some((by, how));
        }
    }
}

/// How one direction ended.
#[derive(Debug, PartialEq)]
enum PumpEnd {
    /// The sender closed TCP after its close frame: the orderly end.
    Eof,
    /// The sender dropped TCP (or a write to the receiver failed): end the whole connection now.
    Dropped,
}

struct Pump<'a, R, W> {
    from: Peer,
    to: Peer,
    reader: R,
    writer: W,
    to_socket: Option<RawSocket>,
    buf: BytesMut,
    scanner: FrameScanner,
    shared: &'a Shared<'a>,
    /// Bytes of an oversized frame still to discard.
    skip: u64,
    /// True once a frame or message from `from` went past `--max-message`: the fragments of that message still to
    /// come are discarded too, without a note or a close of their own (one message, one warning).
    refused_too_big: bool,
    /// False once frametap closed towards `to`, or refused a frame from `from`: nothing more is passed on.
    forwarding: bool,
    /// True once a close frame went to `to`: frametap then sends it no close of its own.
    close_forwarded: bool,
    /// Close frames received from `from` so far.
    closes_seen: u32,
    /// Records of the current read, handed to the pipeline together.
    pending: Vec<Record>,
}

impl<'a, R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Pump<'a, R, W> {
    fn new(
        from: Peer,
        reader: R,
        writer: W,
        to_socket: Option<RawSocket>,
        prefix: Bytes,
        shared: &'a Shared<'a>,
    ) -> Self {
        let mut buf = BytesMut::with_capacity(READ_CHUNK.max(prefix.len()));
        buf.extend_from_slice(&prefix);
        Pump {
            from,
            to: from.other(),
            reader,
            writer,
            to_socket,
            buf,
            scanner: FrameScanner::new(shared.max_message),
            shared,
            skip: 0,
            refused_too_big: false,
            forwarding: true,
            close_forwarded: false,
            closes_seen: 0,
            pending: Vec::with_capacity(16),
        }
    }

    async fn run(mut self) -> PumpEnd {
        let shared = self.shared;
        // Created once and kept across reads (re-creating it per read registered and deregistered a waiter).
        let mut proxy_close = shared.proxy_close.subscribe();
        let close_signal = async move {
            let _ = proxy_close.wait_for(Option::is_some).await;
        };
        tokio::pin!(close_signal);
        let mut proxy_closed = false;
        loop {
            if !self.buf.is_empty() {
                if let Err(e) = self.drain().await {
                    return self.write_failed(e);
                }
            }
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
                self.buf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                () = &mut close_signal, if !proxy_closed => {
                    proxy_closed = true;
                    let Some((code, reason)) = *shared.proxy_close.borrow() else { continue };
                    if self.close_forwarded {
                        continue;
                    }
                    self.forwarding = false;
                    if let Err(e) = self.send_proxy_close(code, reason).await {
                        return self.write_failed(e);
                    }
                }
                read = self.reader.read_buf(&mut self.buf) => match read {
                    Ok(0) => return self.eof().await,
                    // A TLS peer that closed TCP without close_notify: for WebSocket purposes, a FIN.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return self.eof().await,
                    Ok(_) => {}
                    Err(e) => return self.read_failed(e),
                },
            }
        }
    }

    /// Scans buffered bytes, records complete frames, and forwards what may be forwarded.
    async fn drain(&mut self) -> std::io::Result<()> {
        let forwarding = self.forwarding;
        let closes_before = self.closes_seen;
        let mut pos = 0;
        // Where forwarding stops: the start of a frame refused as too big (nothing after it passes).
        let mut forward_end = None;
        let mut read_at = None;
        while pos < self.buf.len() {
            if self.skip > 0 {
                let n = self.skip.min((self.buf.len() - pos) as u64) as usize;
                pos += n;
                self.skip -= n as u64;
                continue;
            }
            let (used, step) = self.scanner.step(&self.buf[pos..]);
            pos += used;
            match step {
                Step::NeedMore => break,
                // Frames that arrived in one read share its time: one clock read per read, not per frame.
                Step::Frame(frame) => {
                    let ts = *read_at.get_or_insert_with(Ts::now);
                    self.record(frame, ts)
                }
                Step::TooBig { header, message_len } => {
                    forward_end.get_or_insert(pos);
                    self.refuse_too_big(header.opcode, message_len);
                    self.skip = header.header_len as u64 + header.payload_len;
                }
            }
        }
        // Emitted (and so numbered) before the write: a write that waits for a slow receiver then holds up nothing
        // the other direction reads meanwhile, and its frames never follow later ones into the pipeline. Recorded
        // also when the write then fails: frames that arrived are never dropped.
        if !self.pending.is_empty() {
            self.shared.sink.emit_all(&mut self.pending).await;
        }
        let end = forward_end.unwrap_or(pos);
        let written = if forwarding && end > 0 {
            match self.writer.write_all(&self.buf[..end]).await {
                Ok(()) => self.writer.flush().await,
                Err(e) => Err(e),
            }
        } else {
            Ok(())
        };
        self.buf.advance(pos);
        if written.is_ok() && self.closes_seen > closes_before {
            self.shared.delivered_close(self.from);
        }
        written
    }

    fn record(&mut self, scanned: ScannedFrame, ts: Ts) {
        let header = scanned.header;
        if header.opcode == Opcode::Close {
            let (code, reason) = crate::event::parse_close_payload(&scanned.payload);
            self.shared.saw_close(self.from, code, reason);
            self.close_forwarded |= self.forwarding;
            self.closes_seen += 1;
        }
        // `seq` 0 until the sink numbers it.
        let frame = scanned.into_record(self.shared.sink.conn(), ts, 0, self.from, self.forwarding);
        self.pending.push(Record::Frame(frame));
    }

    fn refuse_too_big(&mut self, opcode: Opcode, message_len: u64) {
        self.forwarding = false;
        if std::mem::replace(&mut self.refused_too_big, true) {
            return;
        }
        let what = format!(
            "the {} sent a {} of {message_len} bytes, past --max-message {}",
            self.from.as_str(),
            if opcode == Opcode::Continuation { "message" } else { "frame" },
            self.shared.max_message
        );
        let note = Note::warn(
            "message-too-big",
            Some(self.shared.sink.conn()),
            Ts::now(),
            format!("{what}: not passed on; frametap closes with 1009"),
        );
        self.pending.push(Record::Note(note));
        self.shared.proxy_closes(format!("{what} (not passed on), so frametap closed with 1009"));
        // frametap's close comes first from here on, even when the sender's own close frame follows in the same
        // read (that frame is not passed on: the receiver only ever sees frametap's 1009).
        self.shared.saw_close(Peer::Proxy, Some(1009), Some(TOO_BIG_REASON.to_owned()));
        self.shared.proxy_close.send_replace(Some((1009, TOO_BIG_REASON)));
    }

    async fn send_proxy_close(&mut self, code: u16, reason: &'static str) -> std::io::Result<()> {
        let mask = (self.to == Peer::Server).then(random_mask);
        let bytes = encode_close(code, reason, mask);
        let payload = Bytes::from(crate::wire::close_payload(code, reason));
        self.shared.saw_close(Peer::Proxy, Some(code), Some(reason.to_owned()));
        let frame = Frame {
            conn: self.shared.sink.conn(),
            ts: Ts::now(),
            seq: 0,
            from: Peer::Proxy,
            to: self.to,
            opcode: Opcode::Close,
            fin: true,
            rsv: 0,
            len: payload.len() as u64,
            payload,
            text_message: false,
            relayed: true,
        };
        self.shared.sink.emit_frame(frame).await;
        // Before the write: an answer read on the other task must find it set.
        self.shared.proxy_closed(self.to);
        self.writer.write_all(&bytes).await?;
        self.writer.flush().await
    }

    async fn eof(mut self) -> PumpEnd {
        // The sender's FIN is mirrored, unless frametap's own close to the receiver still awaits its answer: a server
        // that answers frametap's 1001 and hangs up ended its own close handshake, not the client's, which then gets
        // the close timeout to answer (a FIN now would cut it off, and make it look as if it left without answering).
        if !self.shared.awaits_answer_from(self.to) {
            let _ = self.writer.shutdown().await;
        }
        if self.shared.sent_close(self.from) {
            self.shared.ended_after_close(self.from);
            PumpEnd::Eof
        } else {
            let how = format!("the {} closed the TCP connection without a close frame", self.from.as_str());
            self.shared.dropped(self.from, how);
            PumpEnd::Dropped
        }
    }

    fn read_failed(self, e: std::io::Error) -> PumpEnd {
        use std::io::ErrorKind::*;
        let reset = matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe);
        let how = if reset {
            format!("the {} reset the TCP connection", self.from.as_str())
        } else {
            format!("reading from the {} failed: {e}", self.from.as_str())
        };
        self.shared.dropped(self.from, how);
        if let Some(socket) = self.to_socket {
            reset_on_close(socket);
        }
        PumpEnd::Dropped
    }

    fn write_failed(self, e: std::io::Error) -> PumpEnd {
        let how = format!("the {} went away while frametap was writing to it: {e}", self.to.as_str());
        self.shared.dropped(self.to, how);
        PumpEnd::Dropped
    }
}

/// Relays one upgraded connection until it ends, and returns how it ended (for `sink` to emit).
pub async fn relay<C: RelayStream, S: RelayStream>(
    ends: Ends<C, S>,
    sink: &ConnSink,
    options: RelayOptions,
    mut shutdown: watch::Receiver<bool>,
    opened: Instant,
) -> Close {
    let (client_socket, server_socket) = (raw_socket(&ends.client), raw_socket(&ends.server));
    let (client_read, client_write) = ends.client.into_halves();
    let (server_read, server_write) = ends.server.into_halves();
    let shared = Shared {
        sink,
        state: Mutex::new(EndState::default()),
        proxy_close: watch::Sender::new(None),
        closing: watch::Sender::new(false),
        close_delivered: tokio::sync::Notify::new(),
        max_message: options.max_message,
    };
    // Both pumps (and so both sockets) are dropped when this returns: a side still open is closed then.
    let upward = Pump::new(Peer::Client, client_read, server_write, server_socket, ends.client_prefix, &shared).run();
    let downward = Pump::new(Peer::Server, server_read, client_write, client_socket, ends.server_prefix, &shared).run();
    tokio::pin!(upward, downward);
    let mut closing = shared.closing.subscribe();
    let (mut up_done, mut down_done, mut shutting_down) = (false, false, false);
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            end = &mut upward, if !up_done => {
                up_done = true;
                if end == PumpEnd::Dropped || shared.closes_delivered() { break; }
                deadline.get_or_insert_with(|| tokio::time::Instant::now() + options.close_timeout);
            }
            end = &mut downward, if !down_done => {
                down_done = true;
                if end == PumpEnd::Dropped || shared.closes_delivered() { break; }
                deadline.get_or_insert_with(|| tokio::time::Instant::now() + options.close_timeout);
            }
            _ = closing.changed(), if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + options.close_timeout);
            }
            // The last close frame crossed after one side had ended TCP (a client answering frametap's 1001 after
            // the server did and hung up): the close handshake is complete, nothing is left to wait for.
            () = shared.close_delivered.notified(), if up_done || down_done => {
                if shared.closes_delivered() { break; }
            }
            () = crate::proxy::stopped(&mut shutdown), if !shutting_down => {
                shutting_down = true;
                shared.proxy_closes("frametap was shutting down (Ctrl-C or SIGTERM), so it closed with 1001".into());
                shared.proxy_close.send_if_modified(|close| {
                    close.get_or_insert((1001, "frametap is shutting down"));
                    true
                });
            }
            () = crate::commands::shutdown::second_signal(), if shutting_down => {
                shared.state.lock().unwrap().cut_short = true;
                break;
            }
            () = timer => {
                shared.state.lock().unwrap().timed_out = true;
                break;
            }
        }
        if up_done && down_done {
            break;
        }
    }
    let close = shared.state.lock().unwrap().close_record(shared.sink.conn(), opened, options.close_timeout);
    close
}
