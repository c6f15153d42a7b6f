//! The `end` record, the last line of a complete capture: its counts, and the losses a copy carries over.

use super::{Record, Ts};
use serde::{Deserialize, Serialize};

/// Last line of a complete capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct End {
    pub ts: Ts,
    pub connections: u64,
    pub frames: u64,
    /// Records written before this one (meta included).
    pub records: u64,
    /// Records dropped because the capture writer lagged (`--on-capture-lag drop`) or failed.
    pub dropped: u64,
    /// False when the capture is known to be missing records (a write error, drops).
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// How many records, connections (`open` records) and frames a capture holds: an `end` record's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub connections: u64,
    pub frames: u64,
    pub records: u64,
}

impl RecordCounts {
    /// Counts one record of this kind.
    pub fn add(&mut self, kind: &str) {
        self.records += 1;
        match kind {
            "open" => self.connections += 1,
            "frame" => self.frames += 1,
            _ => {}
        }
    }
}

impl End {
    /// The `end` record of a capture that holds records of these kinds before it (`meta` included): true counts,
    /// and `complete` only when nothing was dropped and nothing went wrong.
    pub fn counting<'k>(kinds: impl IntoIterator<Item = &'k str>, ts: Ts, dropped: u64, errors: Vec<String>) -> End {
        let mut counts = RecordCounts::default();
        kinds.into_iter().for_each(|kind| counts.add(kind));
        End::of(counts, ts, dropped, errors)
    }

    /// The `end` record of a capture holding `counts` records before it.
    pub fn of(counts: RecordCounts, ts: Ts, dropped: u64, errors: Vec<String>) -> End {
        let RecordCounts { connections, frames, records } = counts;
        End { ts, connections, frames, records, dropped, complete: dropped == 0 && errors.is_empty(), errors }
    }

    /// The losses the `end` records among `records` report (records dropped, errors), for a copy's own `end`.
    pub fn losses_of(records: &[Record]) -> (u64, Vec<String>) {
        let ends = records.iter().filter_map(|record| match record {
            Record::End(end) => Some(end),
            _ => None,
        });
        ends.fold((0, Vec::new()), |(dropped, mut errors), end| {
            errors.extend(end.errors.iter().cloned());
            (dropped + end.dropped, errors)
        })
    }
}
