//! The times in a HAR: `startedDateTime`, message `time`s (epoch seconds; Playwright's epoch milliseconds; an old
//! Chrome's monotonic seconds), and whether `timings.wait` can be the handshake's round trip.

use super::document::{Entry, Message};
use super::json::Obj;
use crate::event::Ts;
use chrono::{DateTime, NaiveDateTime, Utc};

pub(super) fn parse_datetime(text: &str) -> Option<Ts> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc()))
        .and_then(Ts::from_utc)
}

pub(crate) fn ts_from_epoch_secs(secs: f64) -> Option<Ts> {
    Ts::from_micros(whole_micros(secs * 1e6)?)
}

/// `micros` rounded, when it is a number an i64 holds (`as` would saturate a larger one, silently, and NaN to 0).
pub(super) fn whole_micros(micros: f64) -> Option<i64> {
    let micros = micros.round();
    (micros.is_finite() && micros.abs() < i64::MAX as f64).then_some(micros as i64)
}

/// Whether a Chrome entry's `timings.wait` ends before its first message, so that it can be the handshake's round
/// trip. Chrome's DevTools move a WebSocket's "response received" time to every message sent or received, so in
/// their HARs `wait` runs to the last message (HTTP Toolkit's and mitmproxy's end at the 101). The 1 ms of slack
/// covers `startedDateTime`'s millisecond precision.
pub(super) fn wait_ends_before(entry: &Entry, started: Ts, first_message_at: Option<Ts>) -> bool {
    let Some(first) = first_message_at else {
        return true;
    };
    // `ssl` is part of `connect` (HAR 1.2), so it is not counted again.
    let until_wait_ends: f64 = ["blocked", "dns", "connect", "send", "wait"]
        .iter()
        .filter_map(|t| entry.timings.field(t).as_f64())
        .filter(|ms| ms.is_finite() && *ms > 0.0)
        .sum();
    let ends_micros = started.micros() as f64 + until_wait_ends * 1000.0;
    ends_micros < first.micros() as f64 - 1000.0
}

pub(super) fn first_message_time(messages: &[Obj<Message>]) -> Option<Ts> {
    let unit = TimeUnit::of(messages);
    messages.iter().find_map(|m| m.time.as_f64().filter(|t| *t != NOT_RECORDED).and_then(|t| unit.wall_clock(t)))
}

/// HAR's "not recorded" for a number (Playwright's message `time` with `omitTiming`).
const NOT_RECORDED: f64 = -1.0;

/// Times before 1980 cannot be wall-clock times of a WebSocket message.
const EARLIEST_WALL_CLOCK: f64 = 315_532_800.0;

/// True for a time before 1980: not a wall-clock time of a WebSocket (Chromium 156 dates one that failed before
/// any answer at 1969-12-31T23:59:59Z).
pub(super) fn before_wall_clock(ts: Ts) -> bool {
    super::export::epoch_secs(ts) < EARLIEST_WALL_CLOCK
}

/// Epoch seconds from here on are past the year 5000: such a `time` is epoch milliseconds (Playwright's; since 1973).
const EARLIEST_MILLIS: f64 = 1e11;

/// What a HAR's message `time`s count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TimeUnit {
    /// Epoch seconds (Chrome, HTTP Toolkit, mitmproxy, frametap).
    Seconds,
    /// Epoch milliseconds (Playwright's `recordHar`): every recorded time is past [`EARLIEST_MILLIS`].
    Millis,
    /// Seconds on a monotonic clock (an old Chrome): some time is before 1980.
    Monotonic,
}

impl TimeUnit {
    pub(super) fn of(messages: &[Obj<Message>]) -> TimeUnit {
        let times: Vec<f64> = messages.iter().filter_map(|m| m.time.as_f64()).filter(|t| *t != NOT_RECORDED).collect();
        // A monotonic clock's seconds: from 0 up (a negative time is out of range, not a sign of that clock).
        if times.iter().any(|t| (0.0..EARLIEST_WALL_CLOCK).contains(t)) {
            TimeUnit::Monotonic
        } else if !times.is_empty() && times.iter().all(|t| *t >= EARLIEST_MILLIS) {
            TimeUnit::Millis
        } else {
            TimeUnit::Seconds
        }
    }

    /// A wall-clock `time` in this unit as a timestamp (`None` for a monotonic one, or one no capture can hold).
    fn wall_clock(self, time: f64) -> Option<Ts> {
        match self {
            TimeUnit::Seconds => ts_from_epoch_secs(time),
            TimeUnit::Millis => ts_from_epoch_secs(time / 1000.0),
            TimeUnit::Monotonic => None,
        }
    }
}

/// Message `time`s, in their [`TimeUnit`]; a monotonic clock's anchored at `startedDateTime`.
pub(super) struct MessageClock {
    started: Ts,
    pub(super) unit: TimeUnit,
    first: f64,
}

/// What is wrong with a message's `time`: `kind` names the problem (messages with the same one are said together),
/// `text` says it for this message.
pub(super) struct TimeProblem {
    pub(super) kind: &'static str,
    pub(super) text: String,
}

impl MessageClock {
    pub(super) fn new(started: Ts, messages: &[Obj<Message>]) -> Self {
        let first = messages.iter().find_map(|m| m.time.as_f64().filter(|t| *t != NOT_RECORDED)).unwrap_or(0.0);
        MessageClock { started, unit: TimeUnit::of(messages), first }
    }

    /// The message's time, or what is wrong with its `time` (missing, not recorded, or out of the range a capture
    /// can hold).
    pub(super) fn at(&mut self, message: &Message) -> Result<Ts, TimeProblem> {
        let problem = |kind, text: String| TimeProblem { kind, text };
        let time = message.time.as_f64().ok_or_else(|| problem("missing", "no usable `time`".into()))?;
        if time == NOT_RECORDED {
            return Err(problem("not-recorded", "`time` -1 (not recorded)".into()));
        }
        let ts = match self.unit {
            TimeUnit::Monotonic => whole_micros((time - self.first) * 1e6)
                .and_then(|micros| self.started.micros().checked_add(micros))
                .and_then(Ts::from_micros),
            unit => unit.wall_clock(time),
        };
        let unit = if self.unit == TimeUnit::Millis { " (milliseconds)" } else { "" };
        ts.ok_or_else(|| {
            problem("out-of-range", format!("`time` {time:?}{unit} is out of range (no date a capture can hold)"))
        })
    }
}
