//! The times in a HAR: `startedDateTime`, message `time`s (epoch seconds, or an old Chrome's monotonic seconds), and
//! whether `timings.wait` can be the handshake's round trip.

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

pub(super) fn first_message_time(entry: &Entry) -> Option<Ts> {
    entry.messages.items().iter().find_map(|m| m.time.as_f64().and_then(ts_from_epoch_secs))
}

/// Message `time`s: epoch seconds, or (old Chrome) seconds on a monotonic clock, then anchored at `startedDateTime`.
pub(super) struct MessageClock {
    started: Ts,
    /// The times are seconds on a monotonic clock (an old Chrome), not epoch seconds.
    pub(super) relative: bool,
    first: f64,
}

/// Times before 1980 cannot be wall-clock times of a WebSocket message.
const EARLIEST_WALL_CLOCK: f64 = 315_532_800.0;

impl MessageClock {
    pub(super) fn new(started: Ts, messages: &[Obj<Message>]) -> Self {
        let times: Vec<f64> = messages.iter().filter_map(|m| m.time.as_f64()).collect();
        let first = times.first().copied().unwrap_or(0.0);
        // A monotonic clock's seconds: from 0 up (a negative time is out of range, not a sign of that clock).
        let relative = times.iter().any(|t| (0.0..EARLIEST_WALL_CLOCK).contains(t));
        MessageClock { started, relative, first }
    }

    /// The message's time, or what is wrong with its `time` (missing, or out of the range a capture can hold).
    pub(super) fn at(&mut self, message: &Message) -> Result<Ts, String> {
        let time = message.time.as_f64().ok_or("no usable `time`")?;
        let ts = if self.relative {
            whole_micros((time - self.first) * 1e6)
                .and_then(|micros| self.started.micros().checked_add(micros))
                .and_then(Ts::from_micros)
        } else {
            ts_from_epoch_secs(time)
        };
        ts.ok_or_else(|| format!("`time` {time:?} is out of range (no date a capture can hold)"))
    }
}
