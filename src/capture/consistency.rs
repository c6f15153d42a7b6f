//! Checks that a capture's records agree with each other as frametap writes them (a `meta` first; per connection
//! one `open`, then its frames in `seq` order, then at most one `close`; each frame's `len` its payload's length; each
//! side's frames in time order; nothing after `end`), so that a hand-edited, joined or damaged capture is read with a warning for
//! each record that does not, saying what frametap did with it, instead of misleading the analysis silently.

use super::reader::{Place, ProblemKind, ReadProblem};
use crate::event::{ConnId, Frame, Peer, Record, Ts};
use std::collections::BTreeMap;

/// Kept records with the same kind of problem are named one by one up to this many; the rest are counted in one
/// warning, so a capture recorded across a clock step does not print thousands of lines.
const NAMED_PER_CHECK: usize = 10;

/// What the checks know so far, fed one record at a time in file order (see [`Consistency::admit`]).
#[derive(Default)]
pub(super) struct Consistency {
    /// Records admitted so far.
    records: u64,
    /// Where the first `meta` record is.
    meta: Option<Place>,
    /// Where the first `end` record is, and the records after it.
    end: Option<(Place, Tally)>,
    connections: BTreeMap<ConnId, Connection>,
    /// Kept records named so far and counted beyond [`NAMED_PER_CHECK`], by check.
    kept: BTreeMap<Check, Overflow>,
}

/// What one connection's records said so far.
#[derive(Default)]
struct Connection {
    /// Its first `open`: where, and its time.
    opened: Option<(Place, Ts)>,
    /// Its first `close`.
    closed: Option<Place>,
    /// Frames and closes before any `open`.
    before_open: Tally,
    /// Frames after its `close`.
    after_close: Tally,
    /// The last frame of each direction (from, to): its time, `seq` and place.
    last_frames: Vec<((Peer, Peer), FrameAt)>,
    /// The last frame of either direction: its `seq` and place.
    last_seq: Option<(u64, Place)>,
    /// Its latest-stamped frame.
    latest_frame: Option<FrameAt>,
}

impl Connection {
    /// Notes the time of a frame between the connection's `open` (at `opened`) and its `close`, and says what is
    /// wrong with it: stamped before the open, else before the frame before it in the same direction (frames of one
    /// direction are recorded in order; in a capture from before 2026-11-27 the two directions may interleave out
    /// of time order, and of `seq` order, which [`Self::frame_seq`] says).
    fn frame_time(&mut self, frame: &Frame, place: Place, (opened_at, opened): (Place, Ts)) -> Option<(Check, String)> {
        let (conn, seq) = (frame.conn, frame.seq);
        let this = FrameAt { ts: frame.ts, seq, place };
        if self.latest_frame.is_none_or(|latest| frame.ts >= latest.ts) {
            self.latest_frame = Some(this);
        }
        let direction = (frame.from, frame.to);
        let last = match self.last_frames.iter_mut().find(|(d, _)| *d == direction) {
            Some((_, last)) => Some(std::mem::replace(last, this)),
            None => {
                self.last_frames.push((direction, this));
                None
            }
        };
        let stamped = frame.ts.to_rfc3339();
        if frame.ts < opened {
            let message = format!(
                "frame #{seq} of connection {conn} is stamped {stamped}, {} before its connection opened at \
                 {opened_at}: {TIMES_KEPT}",
                earlier(frame.ts, opened)
            );
            return Some((Check::BeforeOpen, message));
        }
        let last = last.filter(|last| frame.ts < last.ts)?;
        let message = format!(
            "frame #{seq} of connection {conn} ({} → {}) is stamped {stamped}, {} before frame #{} of the same \
             direction at {}, which comes before it: {TIMES_KEPT}",
            frame.from.as_str(),
            frame.to.as_str(),
            earlier(frame.ts, last.ts),
            last.seq,
            last.place
        );
        Some((Check::Backwards, message))
    }

    /// Says what is wrong when `frame` does not come after the frame before it in `seq` order: frametap writes a
    /// connection's frames in `seq` order, across both directions.
    fn frame_seq(&mut self, frame: &Frame, place: Place) -> Option<(Check, String)> {
        let (before, before_at) = self.last_seq.replace((frame.seq, place)).filter(|(seq, _)| frame.seq <= *seq)?;
        let message = format!(
            "frame #{} of connection {} comes after its frame #{before} at {before_at}: kept in file order, so the \
             analysis reads it after that frame, and a diagnosis may name another frame as the one before the close \
             (was the capture edited? a frametap from before 2026-11-27 could write frames held up by a slow \
             receiver after later ones, and a replay's frames of the two directions out of order)",
            frame.seq, frame.conn
        );
        Some((Check::Seq, message))
    }
}

#[derive(Clone, Copy)]
struct FrameAt {
    ts: Ts,
    seq: u64,
    place: Place,
}

/// Records of one kind of problem counted instead of named one by one: how many, and where the first is.
#[derive(Default)]
struct Tally {
    first: Option<Place>,
    frames: u64,
    closes: u64,
    others: u64,
}

impl Tally {
    fn count(&mut self, record: &Record, place: Place) {
        self.first.get_or_insert(place);
        match record {
            Record::Frame(_) => self.frames += 1,
            Record::Close(_) => self.closes += 1,
            _ => self.others += 1,
        }
    }

    fn total(&self) -> u64 {
        self.frames + self.closes + self.others
    }

    /// `3 frames and 1 close record`, `2 records`.
    fn describe(&self) -> String {
        if self.frames == 0 && self.closes == 0 {
            return crate::words::count(self.others, "record");
        }
        let mut parts = Vec::new();
        if self.frames > 0 {
            parts.push(crate::words::count(self.frames, "frame"));
        }
        if self.closes > 0 {
            parts.push(crate::words::count_as(self.closes, "close record", "close records"));
        }
        if self.others > 0 {
            parts.push(crate::words::count_as(self.others, "other record", "other records"));
        }
        parts.join(" and ")
    }
}

/// The checks whose kept records are counted past [`NAMED_PER_CHECK`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Check {
    Len,
    Seq,
    Backwards,
    BeforeOpen,
    CloseBeforeFrame,
}

impl Check {
    /// The records it finds, in the plural, for the warning that counts those not named.
    fn plural(self) -> &'static str {
        match self {
            Check::Len => "frames whose `len` is not their payload's length",
            Check::Seq => "frames that come after a frame of their connection with a higher `seq`",
            Check::Backwards => "frames stamped earlier than the frame before them in the same direction",
            Check::BeforeOpen => "records stamped before their connection opened",
            Check::CloseBeforeFrame => "close records stamped before a frame of their connection",
        }
    }
}

#[derive(Default)]
struct Overflow {
    named: usize,
    more: Tally,
}

/// Said after a kept record whose time is wrong.
const TIMES_KEPT: &str = "kept in file order; times and gaps frametap computes around it are off by as much (was the \
                          capture edited, or the recording machine's clock set back?)";

impl Consistency {
    /// Looks at the next record read, at `place`: adds a problem to `problems` for each way it contradicts the
    /// records before it, and returns false when it must be left out (a second `open` or `close` of a connection).
    pub(super) fn admit(&mut self, record: &Record, place: Place, problems: &mut Vec<ReadProblem>) -> bool {
        self.records += 1;
        let after_end = self.end.is_some();
        match record {
            Record::Meta(_) => self.meta(place, problems),
            _ if self.records == 1 => problems.push(ReadProblem::new(
                place,
                ProblemKind::Kept,
                format!(
                    "the capture does not start with a `meta` record (its first record is {}): its beginning is \
                     missing; read without it, so the session's mode, upstream and redaction flag are unknown",
                    with_article(record.kind())
                ),
            )),
            _ => {}
        }
        let admitted = match record {
            Record::Open(open) => self.open(open.conn, open.ts, place, problems),
            Record::Frame(frame) => {
                self.frame(frame, record, place, problems);
                true
            }
            Record::Close(close) => self.close(close.conn, close.ts, record, place, problems),
            Record::End(_) if !after_end => {
                self.end = Some((place, Tally::default()));
                true
            }
            _ => true,
        };
        if let Some((_, after)) = self.end.as_mut().filter(|_| after_end && admitted) {
            after.count(record, place);
        }
        admitted
    }

    fn meta(&mut self, place: Place, problems: &mut Vec<ReadProblem>) {
        let Some(first) = self.meta else {
            self.meta = Some(place);
            return;
        };
        problems.push(ReadProblem::new(
            place,
            ProblemKind::Kept,
            format!(
                "a second `meta` record (the first is at {first}): another session starts here (were two captures \
                 joined?); kept: the records after it are read as that session's, and their connection ids may repeat \
                 the first session's"
            ),
        ));
    }

    fn open(&mut self, conn: ConnId, ts: Ts, place: Place, problems: &mut Vec<ReadProblem>) -> bool {
        let connection = self.connections.entry(conn).or_default();
        let Some((first, _)) = connection.opened else {
            connection.opened = Some((place, ts));
            return true;
        };
        let closed = connection.closed.map(|at| format!(" and closed at {at}")).unwrap_or_default();
        problems.push(ReadProblem::new(
            place,
            ProblemKind::Skipped,
            format!(
                "a second `open` record for connection {conn}, which opened at {first}{closed}: skipped, so the \
                 connection keeps its first handshake (were two captures joined, or a line copied?)"
            ),
        ));
        false
    }

    fn frame(&mut self, frame: &Frame, record: &Record, place: Place, problems: &mut Vec<ReadProblem>) {
        let (conn, seq) = (frame.conn, frame.seq);
        let mut found = Vec::new();
        if frame.len != frame.payload.len() as u64 {
            let message = format!(
                "frame #{seq} of connection {conn} says `len` {}, but its payload holds {} bytes: kept as written \
                 (frametap's sizes use `len`; what it shows, exports and replays is the payload)",
                frame.len,
                frame.payload.len()
            );
            found.push((Check::Len, message));
        }
        let connection = self.connections.entry(conn).or_default();
        match (connection.opened, connection.closed) {
            // A frame out of its connection's place is said once per connection (see `finish`); its time is not
            // compared with the others'.
            (None, _) => connection.before_open.count(record, place),
            (Some(_), Some(_)) => connection.after_close.count(record, place),
            // A frame out of `seq` order is said as such, not also for its time.
            (Some(opened), None) => {
                let time = connection.frame_time(frame, place, opened);
                found.extend(connection.frame_seq(frame, place).or(time));
            }
        }
        for (check, message) in found {
            self.kept(check, record, place, message, problems);
        }
    }

    fn close(&mut self, conn: ConnId, ts: Ts, record: &Record, place: Place, problems: &mut Vec<ReadProblem>) -> bool {
        let connection = self.connections.entry(conn).or_default();
        if let Some(first) = connection.closed {
            problems.push(ReadProblem::new(
                place,
                ProblemKind::Skipped,
                format!(
                    "a second `close` record for connection {conn}, which closed at {first}: skipped, so the \
                     connection's first close is the one diagnosed"
                ),
            ));
            return false;
        }
        connection.closed = Some(place);
        if connection.opened.is_none() {
            connection.before_open.count(record, place);
        }
        let stamped = ts.to_rfc3339();
        let found = if let Some((opened_at, opened)) = connection.opened.filter(|(_, opened)| ts < *opened) {
            let before = earlier(ts, opened);
            let message = format!(
                "the `close` record of connection {conn} is stamped {stamped}, {before} before its connection opened \
                 at {opened_at}: {TIMES_KEPT}"
            );
            Some((Check::BeforeOpen, message))
        } else if let Some(latest) = connection.latest_frame.filter(|latest| ts < latest.ts) {
            let message = format!(
                "the `close` record of connection {conn} is stamped {stamped}, {} before its frame #{} at {}: \
                 {TIMES_KEPT}",
                earlier(ts, latest.ts),
                latest.seq,
                latest.place
            );
            Some((Check::CloseBeforeFrame, message))
        } else {
            None
        };
        if let Some((check, message)) = found {
            self.kept(check, record, place, message, problems);
        }
        true
    }

    /// Names a kept record's problem, or counts it once [`NAMED_PER_CHECK`] of its kind were named.
    fn kept(&mut self, check: Check, record: &Record, place: Place, message: String, problems: &mut Vec<ReadProblem>) {
        let overflow = self.kept.entry(check).or_default();
        if overflow.named < NAMED_PER_CHECK {
            overflow.named += 1;
            problems.push(ReadProblem::new(place, ProblemKind::Kept, message));
        } else {
            overflow.more.count(record, place);
        }
    }

    /// Adds what was counted rather than named: records of connections that had not opened, frames after a close,
    /// records after the `end`, and kept records past [`NAMED_PER_CHECK`].
    pub(super) fn finish(self, problems: &mut Vec<ReadProblem>) {
        let mut said = |tally: &Tally, message: String| {
            if let Some(first) = tally.first {
                problems.push(ReadProblem::new(first, ProblemKind::Kept, message));
            }
        };
        for (conn, connection) in &self.connections {
            let before = &connection.before_open;
            said(
                before,
                match connection.opened {
                    Some((opened_at, _)) => format!(
                        "connection {conn} has {} before its `open` record at {opened_at}: kept in file order, so the \
                         analysis sees them before the handshake",
                        before.describe()
                    ),
                    None => format!(
                        "connection {conn} has {} but no `open` record (the capture starts after its handshake, or \
                         the line was lost): kept as they are; the connection is shown without its handshake, and \
                         `replay` cannot replay it",
                        before.describe()
                    ),
                },
            );
            if let Some(closed_at) = connection.closed {
                let after = &connection.after_close;
                let message = format!(
                    "connection {conn} has {} after its `close` record at {closed_at}: kept in file order; the \
                     diagnosis made at the close does not count them (was a line moved, or were two captures \
                     joined?)",
                    after.describe()
                );
                said(after, message);
            }
        }
        if let Some((end_at, after)) = &self.end {
            let message = format!(
                "{} after the capture's `end` record at {end_at}: kept; the end record's counts do not include \
                 them (were two captures joined, or lines added by hand?)",
                crate::words::count(after.total(), "record")
            );
            said(after, message);
        }
        for (check, overflow) in &self.kept {
            let more = &overflow.more;
            let message = format!(
                "{} more {} besides the {} named before (the first of them here): kept as written",
                more.total(),
                check.plural(),
                overflow.named
            );
            said(more, message);
        }
    }
}

/// A record kind with its article: `an `open``, `a `frame``.
fn with_article(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} `{kind}`")
}

/// How much earlier `ts` is than `later`, in words (`1.5 s`).
fn earlier(ts: Ts, later: Ts) -> String {
    crate::inspect::close::human_ms(later.millis_since(ts))
}
