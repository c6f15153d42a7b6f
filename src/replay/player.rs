//! Plays one side of a recorded connection against a live peer over the wire codec: each recorded frame of
//! ours once the peer's frames before it have arrived (at the chosen pace), then the recorded end — a close
//! handshake with the recorded code, a TCP drop or reset, or waiting for the peer.

use super::divergence::compare;
use super::pace::Pace;
use super::script::{RecordedEnd, Step, Turn};
use crate::event::{Close, ConnId, Frame, Note, Opcode, Peer, Record, Ts};
use crate::pipeline::EventSink;
use crate::proxy::stream::{raw_fd, reset_on_close, RelayStream};
use crate::wire::{encode_frame, random_mask, FrameScanner, Step as ScanStep};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Pace, patience and comparison rules of one replayed connection.
#[derive(Clone, Debug)]
pub struct PlayOptions {
    pub pace: Pace,
    /// How long to wait for each frame the script expects from the peer; `None`: as long as the peer stays.
    pub wait_timeout: Option<Duration>,
    /// How long a started close handshake (or waiting for the peer to close TCP) may take.
    pub close_timeout: Duration,
    /// JSON field names left out when comparing the peer's frames with the recorded ones (`--ignore`).
    pub ignore: Vec<String>,
    /// `--set NAME=VALUE`: JSON fields replaced in every text frame we send.
    pub sets: Vec<(String, String)>,
    /// Largest frame accepted from the peer.
    pub max_message: u64,
}

/// What one replayed connection did.
#[derive(Clone, Debug)]
pub struct PlayReport {
    /// Frames sent to the peer, and frames received from it.
    pub sent: usize,
    pub received: usize,
    /// Where the peer's frames differed from the recording (or did not come), one line each.
    pub divergences: Vec<String>,
    /// How the replayed connection ended (also emitted as its `close` record).
    pub close: Close,
}

enum PeerEnd {
    Eof,
    Failed(String),
}

enum Event {
    Frame(Frame),
    End(PeerEnd),
}

enum Next {
    Frame(Frame),
    TimedOut(Duration),
    Gone,
    Shutdown,
}

/// Plays `steps` as `role` over an upgraded stream (`prefix`: bytes already read past the handshake), emitting
/// every frame, divergence note and the final `close` record to `sink`.
#[allow(clippy::too_many_arguments)]
pub async fn play<S: RelayStream>(
    stream: S,
    prefix: Bytes,
    steps: Vec<Step>,
    end: RecordedEnd,
    role: Peer,
    conn: ConnId,
    sink: EventSink,
    options: PlayOptions,
    shutdown: watch::Receiver<bool>,
) -> PlayReport {
    let opened = Instant::now();
    let fd = raw_fd(&stream);
    let (read_half, writer) = tokio::io::split(stream);
    let seq = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::unbounded_channel();
    let reader =
        PeerReader { peer: role.other(), conn, sink: sink.clone(), seq: seq.clone(), max: options.max_message };
    let reader = tokio::spawn(reader.run(read_half, prefix, tx));
    let mut player = Player {
        role,
        conn,
        sink,
        seq,
        writer,
        fd,
        rx,
        inbox: VecDeque::new(),
        peer_end: None,
        shutdown,
        shutting_down: false,
        options,
        sent: 0,
        received: 0,
        sending_text: false,
        we_closed: false,
        they_closed: None,
        first_close: None,
        dropped: None,
        timed_out: false,
        divergences: Vec::new(),
    };
    player.run_script(steps).await;
    player.finish(end).await;
    reader.abort();
    let _ = reader.await;
    let close = player.outcome(opened);
    player.sink.emit(Record::Close(close.clone())).await;
    PlayReport { sent: player.sent, received: player.received, divergences: player.divergences, close }
}

struct Player<W> {
    role: Peer,
    conn: ConnId,
    sink: EventSink,
    seq: Arc<AtomicU64>,
    writer: WriteHalf<W>,
    fd: Option<RawFd>,
    rx: mpsc::UnboundedReceiver<Event>,
    /// Peer frames received but not yet matched against the script.
    inbox: VecDeque<Frame>,
    peer_end: Option<PeerEnd>,
    shutdown: watch::Receiver<bool>,
    shutting_down: bool,
    options: PlayOptions,
    sent: usize,
    received: usize,
    /// True while the message being sent in fragments is text.
    sending_text: bool,
    we_closed: bool,
    /// The peer's first close frame.
    they_closed: Option<Frame>,
    first_close: Option<(Peer, Option<u16>, Option<String>)>,
    dropped: Option<(Peer, String)>,
    timed_out: bool,
    divergences: Vec<String>,
}

impl<W: AsyncRead + AsyncWrite + Unpin> Player<W> {
    fn peer(&self) -> Peer {
        self.role.other()
    }

    async fn run_script(&mut self, steps: Vec<Step>) {
        let mut anchor = Instant::now();
        let mut expected = 0usize;
        for step in steps {
            match step.turn {
                Turn::Ours => {
                    let due = anchor + self.options.pace.delay(step.gap);
                    if !self.wait_until(due).await {
                        return;
                    }
                    let frame = if self.options.sets.is_empty() {
                        step.frame
                    } else {
                        super::send::apply_sets(step.frame, &self.options.sets)
                    };
                    if !self.send(frame, self.role).await {
                        return;
                    }
                    anchor = Instant::now();
                }
                Turn::Theirs => {
                    expected += 1;
                    let peer = self.peer().as_str();
                    match self.next_peer_frame().await {
                        Next::Frame(got) => {
                            anchor = Instant::now();
                            let early_close = got.opcode == Opcode::Close && step.frame.opcode != Opcode::Close;
                            if let Some(difference) = compare(&step.frame, &got, &self.options.ignore) {
                                self.diverge(format!(
                                    "{peer} frame {expected} (recorded seq {}): {difference}",
                                    step.frame.seq
                                ))
                                .await;
                            }
                            if early_close {
                                self.diverge(format!(
                                    "the {peer} closed before the recording did: the rest of the script was not played"
                                ))
                                .await;
                                return;
                            }
                        }
                        Next::TimedOut(waited) => {
                            anchor = Instant::now();
                            self.diverge(format!(
                                "{peer} frame {expected} (recorded seq {}, a {} frame) did not come within {:.1} s; went on",
                                step.frame.seq,
                                step.frame.opcode.name(),
                                waited.as_secs_f64()
                            ))
                            .await;
                        }
                        Next::Gone => {
                            self.diverge(format!(
                                "the {peer} ended the connection before its frame {expected} (recorded seq {})",
                                step.frame.seq
                            ))
                            .await;
                            return;
                        }
                        Next::Shutdown => return,
                    }
                }
            }
        }
    }

    /// Reproduces the recorded end once the script is played.
    async fn finish(&mut self, end: RecordedEnd) {
        if self.shutting_down {
            if !self.we_closed && self.peer_end.is_none() {
                self.send_close(Peer::Proxy, Some(1001), "frametap is shutting down").await;
            }
            return self.complete_close().await;
        }
        if self.peer_end.is_some() {
            return;
        }
        match end {
            RecordedEnd::Drop { by, reset } if by != self.peer() => {
                if !self.we_closed || self.they_closed.is_none() {
                    let how = if reset { "reset the TCP connection" } else { "closed the TCP connection" };
                    self.dropped = Some((
                        self.role,
                        format!("the {} {how} without a close handshake, as recorded", self.role.as_str()),
                    ));
                }
                self.drop_tcp(reset).await;
            }
            RecordedEnd::Drop { .. } => {
                self.wait_for_peer_end(self.options.wait_timeout).await;
                self.drop_tcp(false).await;
            }
            RecordedEnd::TimedOut => {
                self.wait_for_peer_end(Some(self.options.close_timeout)).await;
                if self.peer_end.is_none() {
                    self.timed_out = true;
                }
                self.drop_tcp(false).await;
            }
            RecordedEnd::Handshake { initiator, code, reason } => {
                let ours = initiator == self.role || initiator == Peer::Proxy;
                if ours && !self.we_closed && self.they_closed.is_none() {
                    self.send_close(self.role, code, reason.as_deref().unwrap_or("")).await;
                }
                self.complete_close().await;
            }
            RecordedEnd::Unknown => self.complete_close().await,
        }
    }

    /// Finishes a close handshake: waits for the peer's close (answering it with its own code) and for TCP to end.
    async fn complete_close(&mut self) {
        loop {
            self.report_extra_frames().await;
            if self.peer_end.is_some() {
                return;
            }
            if let Some(theirs) = &self.they_closed {
                if !self.we_closed {
                    let code = theirs.close_parts().0;
                    if !self.send_close(self.role, code, "").await {
                        return;
                    }
                }
                break;
            }
            let limit = if self.we_closed { Some(self.options.close_timeout) } else { self.options.wait_timeout };
            match self.wait_event(limit).await {
                Some(true) => {}
                Some(false) => {
                    self.timed_out = true;
                    return self.drop_tcp(false).await;
                }
                None if self.shutting_down && !self.we_closed => {
                    self.send_close(Peer::Proxy, Some(1001), "frametap is shutting down").await;
                }
                None => return self.drop_tcp(false).await,
            }
        }
        // Both closed: the server ends TCP first (RFC 6455 §7.1.1); a client waits for it.
        if self.role == Peer::Server {
            let _ = self.writer.shutdown().await;
            self.wait_for_peer_end(Some(self.options.close_timeout)).await;
        } else {
            self.wait_for_peer_end(Some(self.options.close_timeout)).await;
            let _ = self.writer.shutdown().await;
        }
    }

    /// Peer data frames that arrived after the script expected none: reported as divergences.
    async fn report_extra_frames(&mut self) {
        while let Some(frame) = self.inbox.pop_front() {
            if frame.opcode.is_data() {
                let peer = self.peer().as_str();
                self.diverge(format!("an extra {peer} frame after the recorded ones (seq {})", frame.seq)).await;
            }
        }
    }

    async fn wait_for_peer_end(&mut self, limit: Option<Duration>) {
        while self.peer_end.is_none() {
            if self.wait_event(limit).await != Some(true) {
                return;
            }
        }
    }

    /// Waits for one event from the peer: `Some(true)` got one, `Some(false)` timed out, `None` shutdown.
    async fn wait_event(&mut self, limit: Option<Duration>) -> Option<bool> {
        let timer = async {
            match limit {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            event = self.rx.recv() => {
                self.accept(event);
                Some(true)
            }
            () = timer => Some(false),
            () = crate::proxy::stopped(&mut shutdown), if !self.shutting_down => {
                self.shutting_down = true;
                None
            }
        }
    }

    fn accept(&mut self, event: Option<Event>) {
        match event {
            Some(Event::Frame(frame)) => {
                self.received += 1;
                if frame.opcode == Opcode::Close && self.they_closed.is_none() {
                    let (code, reason) = frame.close_parts();
                    self.first_close.get_or_insert((frame.from, code, reason));
                    self.they_closed = Some(frame.clone());
                }
                self.inbox.push_back(frame);
            }
            Some(Event::End(end)) => {
                if self.they_closed.is_none() {
                    let how = match &end {
                        PeerEnd::Eof => {
                            format!("the {} closed the TCP connection without a close frame", self.peer().as_str())
                        }
                        PeerEnd::Failed(e) => e.clone(),
                    };
                    self.dropped.get_or_insert((self.peer(), how));
                }
                self.peer_end = Some(end);
            }
            None => self.peer_end = Some(PeerEnd::Eof),
        }
    }

    /// Waits until `due`, collecting the peer's frames meanwhile. False when the peer is gone or on shutdown.
    async fn wait_until(&mut self, due: Instant) -> bool {
        loop {
            if self.peer_end.is_some() {
                return false;
            }
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                biased;
                () = crate::proxy::stopped(&mut shutdown) => {
                    self.shutting_down = true;
                    return false;
                }
                () = tokio::time::sleep_until(due) => return true,
                event = self.rx.recv() => self.accept(event),
            }
        }
    }

    async fn next_peer_frame(&mut self) -> Next {
        let limit = self.options.wait_timeout;
        let deadline = limit.map(|l| Instant::now() + l);
        loop {
            while let Some(frame) = self.inbox.pop_front() {
                if !matches!(frame.opcode, Opcode::Ping | Opcode::Pong) {
                    return Next::Frame(frame);
                }
            }
            if self.peer_end.is_some() {
                return Next::Gone;
            }
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                event = self.rx.recv() => self.accept(event),
                () = timer => return Next::TimedOut(limit.unwrap_or_default()),
                () = crate::proxy::stopped(&mut shutdown) => {
                    self.shutting_down = true;
                    return Next::Shutdown;
                }
            }
        }
    }

    async fn send_close(&mut self, from: Peer, code: Option<u16>, reason: &str) -> bool {
        let payload = match code {
            Some(code) => crate::wire::close_payload(code, reason),
            None => Vec::new(),
        };
        let frame = Frame {
            conn: self.conn,
            ts: Ts::now(),
            seq: 0,
            from,
            to: self.peer(),
            opcode: Opcode::Close,
            fin: true,
            rsv: 0,
            len: payload.len() as u64,
            payload: Bytes::from(payload),
            text_message: false,
            relayed: true,
        };
        self.send(frame, from).await
    }

    /// Sends one frame exactly as recorded (masked towards a server), and records it. False when the write failed.
    async fn send(&mut self, recorded: Frame, from: Peer) -> bool {
        let mask = (self.peer() == Peer::Server).then(random_mask);
        let mut bytes = BytesMut::from(&encode_frame(recorded.fin, recorded.opcode, &recorded.payload, mask)[..]);
        bytes[0] |= (recorded.rsv & 0x7) << 4;
        let text_message = match recorded.opcode {
            Opcode::Text => true,
            Opcode::Continuation => self.sending_text,
            _ => false,
        };
        if matches!(recorded.opcode, Opcode::Text | Opcode::Binary) {
            self.sending_text = recorded.opcode == Opcode::Text;
        }
        let frame = Frame {
            conn: self.conn,
            ts: Ts::now(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            from,
            to: self.peer(),
            len: recorded.payload.len() as u64,
            text_message,
            relayed: true,
            ..recorded
        };
        if frame.opcode == Opcode::Close {
            self.we_closed = true;
            let (code, reason) = frame.close_parts();
            self.first_close.get_or_insert((from, code, reason));
        }
        self.sink.emit(Record::Frame(frame)).await;
        let written = self.writer.write_all(&bytes).await;
        let result = match written {
            Ok(()) => self.writer.flush().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                self.sent += 1;
                true
            }
            Err(e) => {
                let how = format!("the {} went away while the replay was writing to it: {e}", self.peer().as_str());
                self.dropped.get_or_insert((self.peer(), how));
                self.peer_end = Some(PeerEnd::Failed(e.to_string()));
                false
            }
        }
    }

    async fn drop_tcp(&mut self, reset: bool) {
        if reset {
            if let Some(fd) = self.fd {
                reset_on_close(fd);
            }
        } else {
            let _ = self.writer.shutdown().await;
        }
    }

    async fn diverge(&mut self, message: String) {
        tracing::debug!(conn = self.conn, "replay divergence: {message}");
        let note = Note {
            conn: Some(self.conn),
            ts: Ts::now(),
            level: "warn".into(),
            code: "replay-divergence".into(),
            message: message.clone(),
        };
        self.sink.emit(Record::Note(note)).await;
        self.divergences.push(message);
    }

    fn outcome(&self, opened: Instant) -> Close {
        let (initiator, code, reason) = match (&self.first_close, &self.dropped) {
            (Some((peer, code, reason)), _) => (*peer, *code, reason.clone()),
            (None, Some((peer, _))) => (*peer, None, None),
            (None, None) => (Peer::Proxy, None, None),
        };
        let detail = match (&self.dropped, self.timed_out) {
            (Some((_, how)), _) => Some(how.clone()),
            (None, true) => Some(format!(
                "the close handshake did not finish within {:.1} s; the replay closed the TCP connection",
                self.options.close_timeout.as_secs_f64()
            )),
            (None, false) => None,
        };
        let clean = self.we_closed && self.they_closed.is_some() && self.dropped.is_none() && !self.timed_out;
        Close {
            conn: self.conn,
            ts: Ts::now(),
            initiator,
            code,
            reason,
            clean,
            duration_ms: opened.elapsed().as_secs_f64() * 1000.0,
            detail,
        }
    }
}

/// Reads the peer's frames with the wire scanner, records each, and hands it to the player.
struct PeerReader {
    peer: Peer,
    conn: ConnId,
    sink: EventSink,
    seq: Arc<AtomicU64>,
    max: u64,
}

impl PeerReader {
    async fn run<R: AsyncRead + Unpin>(self, mut reader: R, prefix: Bytes, tx: mpsc::UnboundedSender<Event>) {
        let mut buf = BytesMut::from(&prefix[..]);
        let mut scanner = FrameScanner::new(self.max);
        loop {
            loop {
                let (used, step) = scanner.step(&buf);
                buf.advance(used);
                match step {
                    ScanStep::NeedMore => break,
                    ScanStep::Frame(scanned) => {
                        let header = scanned.header;
                        let frame = Frame {
                            conn: self.conn,
                            ts: Ts::now(),
                            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
                            from: self.peer,
                            to: self.peer.other(),
                            opcode: header.opcode,
                            fin: header.fin,
                            rsv: header.rsv,
                            len: header.payload_len,
                            payload: scanned.payload,
                            text_message: scanned.text_message,
                            relayed: true,
                        };
                        tracing::trace!(
                            conn = self.conn,
                            seq = frame.seq,
                            "replay received a {} frame",
                            frame.opcode.name()
                        );
                        self.sink.emit(Record::Frame(frame.clone())).await;
                        let _ = tx.send(Event::Frame(frame));
                    }
                    ScanStep::TooBig { message_len, .. } => {
                        let why = format!(
                            "the {} sent {message_len} bytes, past the replay's limit of {}",
                            self.peer.as_str(),
                            self.max
                        );
                        let _ = tx.send(Event::End(PeerEnd::Failed(why)));
                        return;
                    }
                }
            }
            match reader.read_buf(&mut buf).await {
                Ok(0) => {
                    let _ = tx.send(Event::End(PeerEnd::Eof));
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    use std::io::ErrorKind::*;
                    let how = if matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe) {
                        format!("the {} reset the TCP connection", self.peer.as_str())
                    } else {
                        format!("reading from the {} failed: {e}", self.peer.as_str())
                    };
                    let _ = tx.send(Event::End(PeerEnd::Failed(how)));
                    return;
                }
            }
        }
    }
}
