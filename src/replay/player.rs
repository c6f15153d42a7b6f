//! Plays one side of a recorded connection against a live peer over the wire codec: each recorded frame of
//! ours once the peer's frames before it have arrived (at the chosen pace), then the recorded end — a close
//! handshake with the recorded code, a TCP drop or reset, or waiting for the peer.

use super::divergence::{changed_fields, compare};
use super::pace::Pace;
use super::peer::{Event, PeerEnd, PeerReader};
use super::script::{RecordedEnd, Step, Turn};
use crate::event::{Close, ConnId, Frame, Note, Opcode, Peer, Record, Ts};
use crate::pipeline::ConnSink;
use crate::proxy::stream::{raw_socket, RawSocket, RelayStream};
use crate::redact::SharedRedactor;
use crate::wire::{encode_frame, random_mask};
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The code of the `note` recording a peer frame that differs from the recorded one. `--quiet` logs leave these
/// out (they are one line per frame); the summary after the connection counts them.
pub const DIVERGENCE_NOTE: &str = "replay-divergence";

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
    /// `--set NAME=VALUE`: JSON fields replaced in every text message we send.
    pub sets: Vec<(String, String)>,
    /// Largest frame accepted from the peer.
    pub max_message: u64,
    /// `--redact`: the session's redactor. Divergences are then told from both frames redacted, so they quote
    /// placeholders, never a recorded or live secret (not even a piece of one).
    pub redactor: Option<SharedRedactor>,
}

/// What one replayed connection did.
#[derive(Clone, Debug)]
pub struct PlayReport {
    /// Frames sent to the peer, and frames received from it.
    pub sent: usize,
    pub received: usize,
    /// Where the peer's frames differed from the recording (or did not come), one line each.
    pub divergences: Vec<String>,
    /// The JSON fields whose values differed, with how many of the peer's frames they differed in (see
    /// `divergence::changed_fields`): the `--ignore` a user may want.
    pub changed_fields: BTreeMap<String, usize>,
    /// How the replayed connection ended (also emitted as its `close` record).
    pub close: Close,
}

pub(super) enum Next {
    Frame(Frame),
    TimedOut(Duration),
    Gone,
    Shutdown,
}

/// Plays `steps` as `role` over an upgraded stream (`prefix`: bytes already read past the handshake), emitting
/// every frame, divergence note and the final `close` record to `sink`, the connection's (which has had its `open`).
#[allow(clippy::too_many_arguments)]
pub async fn play<S: RelayStream>(
    stream: S,
    prefix: Bytes,
    steps: Vec<Step>,
    end: RecordedEnd,
    role: Peer,
    sink: ConnSink,
    options: PlayOptions,
    shutdown: watch::Receiver<bool>,
) -> PlayReport {
    let opened = Instant::now();
    let socket = raw_socket(&stream);
    let (read_half, writer) = tokio::io::split(stream);
    let (conn, sink) = (sink.conn(), Arc::new(sink));
    let (tx, rx) = mpsc::unbounded_channel();
    let reader = PeerReader { peer: role.other(), conn, sink: sink.clone(), max: options.max_message };
    let reader = tokio::spawn(reader.run(read_half, prefix, tx));
    let mut player = Player {
        role,
        conn,
        sink,
        writer,
        socket,
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
        cut_short: false,
        closed_at_recording_end: false,
        divergences: Vec::new(),
        changed_fields: BTreeMap::new(),
    };
    let steps = super::sets::apply_to_steps(steps, &player.options.sets);
    player.run_script(steps).await;
    player.finish(end).await;
    reader.abort();
    let _ = reader.await;
    let close = player.outcome(opened);
    player.sink.emit(Record::Close(close.clone())).await;
    PlayReport {
        sent: player.sent,
        received: player.received,
        divergences: player.divergences,
        changed_fields: player.changed_fields,
        close,
    }
}

pub(super) struct Player<W> {
    pub(super) role: Peer,
    pub(super) conn: ConnId,
    /// Shared with the peer's reader.
    pub(super) sink: Arc<ConnSink>,
    pub(super) writer: WriteHalf<W>,
    pub(super) socket: Option<RawSocket>,
    pub(super) rx: mpsc::UnboundedReceiver<Event>,
    /// Peer frames received but not yet matched against the script.
    pub(super) inbox: VecDeque<Frame>,
    pub(super) peer_end: Option<PeerEnd>,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) shutting_down: bool,
    pub(super) options: PlayOptions,
    pub(super) sent: usize,
    pub(super) received: usize,
    /// True while the message being sent in fragments is text.
    pub(super) sending_text: bool,
    pub(super) we_closed: bool,
    /// The peer's first close frame.
    pub(super) they_closed: Option<Frame>,
    pub(super) first_close: Option<(Peer, Option<u16>, Option<String>)>,
    pub(super) dropped: Option<(Peer, String)>,
    pub(super) timed_out: bool,
    /// A second Ctrl-C or SIGTERM ended the shutdown's wait for the close handshake.
    pub(super) cut_short: bool,
    /// The recording had no end, the peer did not end the connection within `--wait`, and the replay closed it
    /// with 1000 ([`super::ending::RECORDING_ENDS`]).
    pub(super) closed_at_recording_end: bool,
    pub(super) divergences: Vec<String>,
    pub(super) changed_fields: BTreeMap<String, usize>,
}

impl<W: AsyncRead + AsyncWrite + Unpin> Player<W> {
    pub(super) fn peer(&self) -> Peer {
        self.role.other()
    }

    async fn run_script(&mut self, steps: Vec<Step>) {
        let mut anchor = Instant::now();
        let mut expected = 0usize;
        let mut steps = steps.into_iter().peekable();
        while let Some(step) = steps.next() {
            match step.turn {
                Turn::Ours => {
                    let due = anchor + self.options.pace.delay(step.gap);
                    if !self.wait_until(due).await {
                        if self.peer_closed_early() {
                            self.diverge_closed_early().await;
                        } else if self.shutting_down {
                            self.diverge_stopped(steps.filter(|s| s.turn == Turn::Theirs).count()).await;
                        }
                        return;
                    }
                    if !self.send(step.frame, self.role).await {
                        return;
                    }
                    // The next delay counts from when this frame was due, not from when the timer fired: timers
                    // fire late (up to a millisecond), and counting from then would add that to every frame.
                    anchor = due;
                }
                Turn::Theirs => {
                    expected += 1;
                    let peer = self.peer().as_str();
                    match self.next_peer_frame().await {
                        Next::Frame(got) => {
                            anchor = Instant::now();
                            let early_close = got.opcode == Opcode::Close && step.frame.opcode != Opcode::Close;
                            // The same message with its fragment boundaries moved (a whole message where the
                            // recording has fragments, or the other way) is matched as one message, not frame by
                            // frame: else the frames the peer did not send would be waited for.
                            if let Some((recorded, got, fragments)) =
                                self.refragmented(&step.frame, got.clone(), &mut steps).await
                            {
                                let first = expected;
                                expected += fragments.recorded.saturating_sub(1);
                                let difference = self.difference(&recorded, &got);
                                for field in changed_fields(&recorded, &got, &self.options.ignore) {
                                    *self.changed_fields.entry(field).or_default() += 1;
                                }
                                let also =
                                    difference.map_or(String::new(), |d| format!("; and the message differs: {d}"));
                                let seqs = match (step.frame.seq, recorded.seq) {
                                    (from, to) if from == to => format!("seq {from}"),
                                    (from, to) => format!("seq {from}–{to}"),
                                };
                                self.diverge(format!(
                                    "{peer} message at frame {first} (recorded {seqs}): {}{also}",
                                    fragments.words()
                                ))
                                .await;
                                continue;
                            }
                            if let Some(difference) = self.difference(&step.frame, &got) {
                                for field in changed_fields(&step.frame, &got, &self.options.ignore) {
                                    *self.changed_fields.entry(field).or_default() += 1;
                                }
                                self.diverge(format!(
                                    "{peer} frame {expected} (recorded seq {}): {difference}",
                                    step.frame.seq
                                ))
                                .await;
                            }
                            if early_close {
                                self.diverge_closed_early().await;
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
                        Next::Shutdown => {
                            self.diverge_stopped(1 + steps.filter(|s| s.turn == Turn::Theirs).count()).await;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Waits for one event from the peer: `Some(true)` got one, `Some(false)` timed out, `None` shutdown (or, once
    /// shutting down, a second Ctrl-C).
    pub(super) async fn wait_event(&mut self, limit: Option<Duration>) -> Option<bool> {
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
            () = crate::commands::shutdown::second_signal(), if self.shutting_down => {
                self.cut_short = true;
                None
            }
        }
    }

    pub(super) fn accept(&mut self, event: Option<Event>) {
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

    /// How the peer's frame differs from the recorded one. With `--redact`, told from both frames redacted (as
    /// this connection's), so the divergence quotes placeholders: the recorded secrets never reach the pipeline,
    /// and a window cut around the first difference would quote a piece of a secret no later pass could find.
    fn difference(&self, recorded: &Frame, got: &Frame) -> Option<String> {
        let Some(redactor) = &self.options.redactor else {
            return compare(recorded, got, &self.options.ignore);
        };
        let redacted = |frame: &Frame| redactor.redact_frame(Frame { conn: self.conn, ..frame.clone() });
        compare(&redacted(recorded), &redacted(got), &self.options.ignore)
    }

    /// True once the peer's close frame has arrived ahead of the script (no step of it has taken it yet).
    fn peer_closed_early(&self) -> bool {
        self.inbox.iter().any(|frame| frame.opcode == Opcode::Close)
    }

    /// A Ctrl-C or SIGTERM ended the script with `unawaited` peer frames of the recording still to come: a replay
    /// cut short did not match the recording, whatever came before.
    async fn diverge_stopped(&mut self, unawaited: usize) {
        let rest = match unawaited {
            0 => "the rest of the script was not played".to_owned(),
            n => format!(
                "{} the recording shows were not waited for",
                crate::words::count(n as u64, &format!("{} frame", self.peer().as_str()))
            ),
        };
        self.diverge(format!("frametap was stopped (Ctrl-C or SIGTERM) before the recording ended: {rest}")).await;
    }

    async fn diverge_closed_early(&mut self) {
        let peer = self.peer().as_str();
        self.diverge(format!("the {peer} closed before the recording did: the rest of the script was not played"))
            .await;
    }

    /// Waits until `due`, collecting the peer's frames meanwhile. False when the peer is gone, has sent its close
    /// (which is answered at once, not after the recorded pause, and never followed by a data frame: RFC 6455
    /// §5.5.1) or on shutdown.
    pub(super) async fn wait_until(&mut self, due: Instant) -> bool {
        loop {
            if self.peer_end.is_some() || self.peer_closed_early() {
                return false;
            }
            if *self.shutdown.borrow() {
                self.shutting_down = true;
                return false;
            }
            if Instant::now() >= due {
                // Already due: no timer, whose millisecond ticks would space every frame of a burst (and of a
                // `fast` replay) a millisecond apart. Only take what the peer has sent meanwhile.
                match self.rx.try_recv() {
                    Ok(event) => self.accept(Some(event)),
                    Err(mpsc::error::TryRecvError::Empty) => return true,
                    Err(mpsc::error::TryRecvError::Disconnected) => self.accept(None),
                }
                continue;
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

    pub(super) async fn next_peer_frame(&mut self) -> Next {
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

    pub(super) async fn send_close(&mut self, from: Peer, code: Option<u16>, reason: &str) -> bool {
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
    pub(super) async fn send(&mut self, recorded: Frame, from: Peer) -> bool {
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
            seq: 0,
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
        self.sink.emit_frame(frame).await;
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

    pub(super) async fn diverge(&mut self, message: String) {
        tracing::debug!(conn = self.conn, "replay divergence: {message}");
        let note = Note::warn(DIVERGENCE_NOTE, Some(self.conn), Ts::now(), message.clone());
        self.sink.emit(Record::Note(note)).await;
        self.divergences.push(message);
    }
}
