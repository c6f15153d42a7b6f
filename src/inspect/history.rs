//! One connection's history as the analysis keeps it: each side's last frames and largest message (facts and the
//! start of the payload, never the payload), the close frames, the profile's signals and findings, its tokens.

use super::analyzer::{AUTO_DETECT_FRAMES, MAX_FINDINGS};
use super::reassembly::Reassembler;
use super::rfc6455::{self, Violation};
use super::tokens::TokenTracker;
use super::AnalysisOptions;
use crate::event::{Annotation, ConnId, Frame, Opcode, Open, Peer, Record, Ts};
use crate::profile::{self, Finding, Profile, ProfileChoice, Signal};

use super::facts::{FrameFacts, Largest};

/// What measured the upstream round trip the timing rules use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RttSource {
    /// The kernel's own measure of the TCP connection to the upstream (`open.upstream_tcp_rtt_ms`).
    Kernel,
    /// The upgrade request's round trip (`open.handshake_ms`).
    Handshake,
    /// A client Ping answered by the server's Pong.
    Ping,
    /// A request answered by its paired response (a profile's `latency_ms`).
    Response,
}

impl RttSource {
    /// Its name in the diagnosis record's `upstream_rtt_source`.
    pub fn name(self) -> &'static str {
        match self {
            RttSource::Kernel => "kernel",
            RttSource::Handshake => "handshake",
            RttSource::Ping => "ping",
            RttSource::Response => "response",
        }
    }

    /// Where the round trip came from, in a few words.
    pub fn short_words(self) -> &'static str {
        match self {
            RttSource::Kernel => "the kernel's TCP measure",
            RttSource::Handshake => "the handshake's",
            RttSource::Ping => "a Ping's Pong",
            RttSource::Response => "a paired response",
        }
    }

    /// Where the round trip came from, in a sentence.
    pub fn words(self) -> &'static str {
        match self {
            RttSource::Kernel => "the kernel's measure of the TCP connection to the upstream (network delay only)",
            RttSource::Handshake => {
                "the handshake (upgrade request to 101): an upper bound, it includes the server's time to answer the upgrade"
            }
            RttSource::Ping => "a Ping's Pong: an upper bound, it includes the server's time to answer",
            RttSource::Response => "a request's paired response: an upper bound, it includes the server's time to answer",
        }
    }
}

/// The upstream round trip the timing rules use, and what measured it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpstreamRtt {
    pub ms: f64,
    pub source: RttSource,
}

/// The first close frame of a connection.
#[derive(Clone, Debug)]
pub struct CloseFrameFacts {
    pub seq: u64,
    pub ts: Ts,
    pub from: Peer,
    /// The close payload's length (0: no code; 1: malformed).
    pub len: u64,
}

/// A profile signal and the frame it came in.
#[derive(Clone, Debug)]
pub struct SignalAt {
    pub seq: u64,
    pub ts: Ts,
    pub signal: Signal,
}

/// Everything the close analysis needs to know about one connection.
pub struct ConnHistory {
    pub conn: ConnId,
    pub opened: Option<Ts>,
    pub handshake_ms: Option<f64>,
    /// When the 101 was passed on to the client, in milliseconds after `opened` (`open.upgraded_ms`).
    pub upgraded_ms: Option<f64>,
    /// The upstream round trip: the kernel's, when the `open` record has it; otherwise the tightest upper bound
    /// seen: the handshake, a client Ping's Pong from the server, or a request's paired response (profile
    /// `latency_ms`), whichever is smallest.
    pub upstream_rtt: Option<UpstreamRtt>,
    /// The last Ping the client (or frametap) sent towards the server, awaiting its Pong.
    ping_out: Option<Ts>,
    /// Why the upgrade did not succeed (a non-101 answer or an upstream error), if it did not.
    pub refused: Option<String>,
    pub upstream: Option<String>,
    open: Option<Open>,
    pub profile: Box<dyn Profile>,
    /// `--profile auto` and nothing detected yet: each data frame may still switch the profile on.
    auto_pending: bool,
    pub tokens: TokenTracker,
    /// The last data frame of each peer (client, server, proxy), as of now.
    last_data: [Option<FrameFacts>; 3],
    /// Which of `last_data` holds the last data frame overall, as of now (an index: one payload clone per frame).
    last_any: Option<usize>,
    pub first_close: Option<CloseFrameFacts>,
    /// `last_any` and `last_data` frozen at the first close frame.
    frozen: Option<(Option<usize>, [Option<FrameFacts>; 3])>,
    /// Lint findings, the first [`MAX_FINDINGS`] of them.
    pub findings: Vec<Finding>,
    /// Findings past [`MAX_FINDINGS`], counted only.
    pub findings_omitted: u64,
    /// The findings of the last client frame the profile read before the first close frame.
    last_client_findings: (u64, Vec<Finding>),
    /// What the profile read in frames as said about the end (announcements, rate limits, error answers), up to
    /// the first close frame.
    pub signals: Vec<SignalAt>,
    /// The seq and time of the server's last whole message before the first close frame that the profile read as an
    /// ordinary one (no signal: not an error, an announced end or a rate limit; on a generic connection, every
    /// one), even when signals came after it. Read it through [`ConnHistory::went_on_after`].
    last_ordinary_server: Option<(u64, Ts)>,
    /// Per peer (client, server, proxy): its largest data message before the first close frame (a fragmented
    /// one as it stood at its largest fragment), for a 1009 close.
    largest: [Option<Largest>; 3],
    pub data_frames: u64,
    /// The last ping or pong, either way.
    pub last_control: Option<Ts>,
    /// Per endpoint (client, server): it sent a close frame.
    pub closes_from: [bool; 2],
    /// Per endpoint (client, server): the code of its first close frame, when it had one.
    pub close_codes: [Option<u16>; 2],
    /// The subprotocol problems of the accepted upgrade (`handshake::problems`), each a phrase.
    pub handshake_problems: Vec<String>,
    /// Extensions the upstream accepted though none was offered to it (`handshake::unoffered_extensions`).
    pub unoffered_extensions: Option<String>,
    /// What in the accepted 101 a client may refuse (`rejected::suspects`), each a phrase.
    pub upgrade_suspects: Vec<String>,
    /// Per endpoint (client, server): how many frames of any kind it sent.
    pub frames_from: [u64; 2],
    /// Per endpoint (client, server): a fragmented data message is in progress.
    in_message: [bool; 2],
    /// The fragmented messages in progress, to read them whole.
    reassembler: Reassembler,
    /// Per endpoint (client, server): the last frame up to the first close frame that broke RFC 6455.
    pub violations: [Option<Violation>; 2],
}

fn slot(peer: Peer) -> usize {
    match peer {
        Peer::Client => 0,
        Peer::Server => 1,
        Peer::Proxy => 2,
    }
}

impl ConnHistory {
    pub(super) fn new(conn: ConnId, options: &AnalysisOptions) -> Self {
        ConnHistory {
            conn,
            opened: None,
            handshake_ms: None,
            upgraded_ms: None,
            upstream_rtt: None,
            ping_out: None,
            refused: None,
            upstream: None,
            open: None,
            profile: profile::for_choice(options.profile),
            auto_pending: options.profile == ProfileChoice::Auto,
            tokens: TokenTracker::new(options.require_scopes.clone()),
            last_data: [None, None, None],
            last_any: None,
            first_close: None,
            frozen: None,
            findings: Vec::new(),
            findings_omitted: 0,
            last_client_findings: (0, Vec::new()),
            signals: Vec::new(),
            last_ordinary_server: None,
            largest: [None, None, None],
            data_frames: 0,
            last_control: None,
            closes_from: [false, false],
            close_codes: [None, None],
            handshake_problems: Vec::new(),
            unoffered_extensions: None,
            upgrade_suspects: Vec::new(),
            frames_from: [0, 0],
            in_message: [false, false],
            reassembler: Reassembler::default(),
            violations: [None, None],
        }
    }

    /// The last data frame before the first close frame (or before now, when there was none): the preceding frame.
    pub fn preceding(&self) -> Option<&FrameFacts> {
        match &self.frozen {
            Some((last, by_peer)) => last.and_then(|slot| by_peer[slot].as_ref()),
            None => self.last_any.and_then(|slot| self.last_data[slot].as_ref()),
        }
    }

    /// The last data frame from `peer` before the first close frame (or before now).
    pub fn last_from(&self, peer: Peer) -> Option<&FrameFacts> {
        match &self.frozen {
            Some((_, by_peer)) => by_peer[slot(peer)].as_ref(),
            None => self.last_data[slot(peer)].as_ref(),
        }
    }

    /// The largest data message `peer` sent before the first close frame (or before now).
    pub fn largest_from(&self, peer: Peer) -> Option<&Largest> {
        self.largest[slot(peer)].as_ref()
    }

    /// Whether frame #`seq` said something about the connection's end (an announcement, a rate limit, an error
    /// answer): a server frame that did not was an ordinary answer.
    pub fn is_signal(&self, seq: u64) -> bool {
        self.signals.iter().any(|signal| signal.seq == seq)
    }

    /// `peer`'s last ordinary data message before the first close frame, as (seq, time), when it came after frame
    /// #`seq`: `peer` went on as usual after that frame. For the server, a message its profile read as ordinary
    /// (not an error answer, an announced end or a rate limit), even when such a signal came after it: a server's
    /// last word before closing is often its error or its goodbye, and the answer before it still says it went on;
    /// for the client (whose frames carry no signals), its last data frame.
    pub fn went_on_after(&self, peer: Peer, seq: u64) -> Option<(u64, Ts)> {
        let last = match peer {
            Peer::Server => self.last_ordinary_server,
            _ => self.last_from(peer).map(|f| (f.seq, f.ts)),
        };
        last.filter(|&(last, _)| last > seq)
    }

    /// The findings about one frame (the last client frame's are kept even past [`MAX_FINDINGS`]).
    pub fn findings_for(&self, seq: u64) -> Box<dyn Iterator<Item = &Finding> + '_> {
        if self.last_client_findings.0 == seq {
            Box::new(self.last_client_findings.1.iter())
        } else {
            Box::new(self.findings.iter().filter(move |f| f.seq == Some(seq)))
        }
    }

    /// Takes a round trip measurement: the kernel's replaces any other (it holds no server processing time);
    /// the others are upper bounds, of which the smallest is kept.
    fn note_rtt(&mut self, ms: f64, source: RttSource) {
        let better = match self.upstream_rtt {
            _ if !ms.is_finite() || ms < 0.0 => false,
            Some(best) if best.source == RttSource::Kernel => false,
            Some(best) => source == RttSource::Kernel || ms < best.ms,
            None => true,
        };
        if better {
            self.upstream_rtt = Some(UpstreamRtt { ms, source });
        }
    }

    fn add_findings(&mut self, findings: Vec<Finding>) {
        let room = MAX_FINDINGS.saturating_sub(self.findings.len());
        self.findings_omitted += findings.len().saturating_sub(room) as u64;
        self.findings.extend(findings.into_iter().take(room));
    }

    pub(super) fn open(&mut self, open: &Open, session_upstream: Option<&str>) {
        self.opened = Some(open.ts);
        self.handshake_ms = open.handshake_ms;
        self.upgraded_ms = open.upgraded_ms;
        if let Some(ms) = open.upstream_tcp_rtt_ms {
            self.note_rtt(ms, RttSource::Kernel);
        }
        if let Some(ms) = open.handshake_ms {
            self.note_rtt(ms, RttSource::Handshake);
        }
        self.upstream = open.upstream.clone().or_else(|| session_upstream.map(str::to_owned));
        if self.auto_pending {
            if let Some(found) = profile::detect(open, self.upstream.as_deref()) {
                self.profile = found;
                self.auto_pending = false;
            }
        }
        self.refused = super::refused::why_refused(open, self.profile.as_ref());
        let findings = self.profile.open(open, self.upstream.as_deref());
        self.add_findings(findings);
        self.handshake_problems = super::handshake::problems(open);
        self.unoffered_extensions = super::handshake::unoffered_extensions(open);
        self.upgrade_suspects = super::rejected::suspects(open);
        self.open = Some(open.clone());
    }

    pub(super) fn frame(&mut self, frame: &Frame, seen_at: Ts, out: &mut Vec<Record>) {
        if let Some(side) = frame.from.endpoint() {
            self.frames_from[side] += 1;
            let violation = rfc6455::check(frame, &mut self.in_message[side]);
            if violation.is_some() && self.first_close.is_none() {
                self.violations[side] = violation;
            }
            if frame.opcode == Opcode::Close && !self.closes_from[side] {
                self.closes_from[side] = true;
                self.close_codes[side] = frame.close_parts().0;
            }
        }
        if frame.opcode == Opcode::Close {
            if self.first_close.is_none() {
                self.first_close =
                    Some(CloseFrameFacts { seq: frame.seq, ts: frame.ts, from: frame.from, len: frame.len });
                self.frozen = Some((self.last_any, self.last_data.clone()));
            }
            return;
        }
        if matches!(frame.opcode, Opcode::Ping | Opcode::Pong) {
            self.last_control = Some(frame.ts);
            match (frame.opcode, frame.from) {
                (Opcode::Ping, Peer::Client | Peer::Proxy) => self.ping_out = Some(frame.ts),
                (Opcode::Pong, Peer::Server) => {
                    if let Some(sent) = self.ping_out.take() {
                        self.note_rtt(frame.ts.secs_since(sent) * 1000.0, RttSource::Ping);
                    }
                }
                _ => {}
            }
            return;
        }
        if !frame.opcode.is_data() {
            return;
        }
        self.data_frames += 1;
        let facts = FrameFacts::update(&mut self.last_data[slot(frame.from)], frame);
        let largest = &mut self.largest[slot(frame.from)];
        if self.first_close.is_none() && largest.is_none_or(|l| facts.shown_len() > l.len) {
            let message = facts.message.map(|m| (m, facts.fin));
            *largest = Some(Largest { seq: facts.seq, ts: facts.ts, len: facts.shown_len(), message });
        }
        self.last_any = Some(slot(frame.from));
        if self.auto_pending && self.data_frames > AUTO_DETECT_FRAMES {
            self.auto_pending = false;
        }
        if self.reassembler.is_whole(frame) {
            self.read_message(frame, seen_at, out);
            return;
        }
        let (message, violation) = self.reassembler.message_of(frame);
        if let (Some(violation), None) = (violation, &self.first_close) {
            if let Some(side) = violation.from.endpoint() {
                self.violations[side] = Some(violation);
            }
        }
        let Some(message) = message else {
            return;
        };
        self.read_message(&message, seen_at, out);
    }

    /// Lets the profile and the token search read one whole data message (possibly reassembled from fragments).
    fn read_message(&mut self, message: &Frame, seen_at: Ts, out: &mut Vec<Record>) {
        let parsed = self.profile_reads(message, out);
        if message.carries_text() {
            out.extend(self.tokens.observe_message(message, seen_at, parsed).into_iter().map(Record::from));
        }
    }

    /// Lets the profile read one whole data message; returns its JSON object if the profile parsed it.
    fn profile_reads(
        &mut self,
        message: &Frame,
        out: &mut Vec<Record>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        if self.auto_pending {
            if let Some(found) = profile::detect_from_frame(message) {
                self.profile = found;
                self.auto_pending = false;
                if let Some(open) = self.open.clone() {
                    let findings = self.profile.open(&open, self.upstream.as_deref());
                    self.add_findings(findings);
                }
            }
        }
        let Some(reading) = self.profile.frame(message) else {
            // Nothing to say about it (a generic connection, a frame the profile does not read): an ordinary message.
            if message.from == Peer::Server && self.first_close.is_none() {
                self.last_ordinary_server = Some((message.seq, message.ts));
            }
            return None;
        };
        if message.from == Peer::Server {
            if let Some(latency) = reading.details.get("latency_ms").and_then(serde_json::Value::as_f64) {
                self.note_rtt(latency, RttSource::Response);
            }
        }
        // What a side says once a close frame has passed (an answer to a request that crossed the close) cannot
        // be why the connection closed: like the preceding frame, the signals stop at the first close frame.
        match (reading.signal, &self.first_close) {
            (Some(signal), None) => self.signals.push(SignalAt { seq: message.seq, ts: message.ts, signal }),
            (None, None) if message.from == Peer::Server => self.last_ordinary_server = Some((message.seq, message.ts)),
            _ => {}
        }
        if message.from == Peer::Client && self.first_close.is_none() {
            self.last_client_findings = (message.seq, reading.findings.clone());
        }
        self.add_findings(reading.findings);
        out.push(Record::from(Annotation {
            conn: message.conn,
            ts: message.ts,
            seq: message.seq,
            profile: self.profile.name().to_string(),
            text: reading.text,
            details: reading.details,
        }));
        reading.json
    }
}
