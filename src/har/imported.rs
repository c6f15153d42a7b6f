//! The records of an imported HAR, made as they are asked for: its `meta`, its connections' records each followed by
//! what the analysis derives from it, then an `end` that counts them, so that `frametap convert` writes them
//! without holding the derived ones (annotations, tokens, diagnoses: as much again as the frames of a Genesys HAR).

use crate::event::{self, End, Meta, Record, RecordCounts, Ts};
use crate::inspect::Analysed;

/// The records of an imported HAR, in capture order.
pub struct ImportedRecords(Inner);

/// The meta record, then the connections' records: what the analysis reads (it reads the meta's `mode`).
type MetaThenBody = std::iter::Chain<std::iter::Once<Record>, std::vec::IntoIter<Record>>;

enum Inner {
    /// frametap's own HAR: its records as they were.
    Restored(std::vec::IntoIter<Record>),
    /// Another tool's HAR: `meta`, the connections' records with the analysis, `end`.
    Made {
        records: Box<Analysed<MetaThenBody>>,
        counts: RecordCounts,
        last_ts: Ts,
    },
    Ended,
}

impl ImportedRecords {
    /// The records of frametap's own HAR, complete.
    pub(super) fn restored(records: Vec<Record>) -> ImportedRecords {
        ImportedRecords(Inner::Restored(records.into_iter()))
    }

    /// The capture of another tool's HAR, from its connections' records (`body`) and the `wss://host` origins they
    /// went to (the meta record's `upstream` when there is one).
    pub(super) fn made(body: Vec<Record>, mut origins: Vec<String>) -> ImportedRecords {
        let first_ts = body.iter().map(Record::ts).min().unwrap_or_else(Ts::now);
        let last_ts = body.iter().map(Record::ts).max().unwrap_or(first_ts);
        origins.dedup();
        let meta = Record::from(Meta {
            ts: first_ts,
            format: event::FORMAT_NAME.into(),
            version: event::FORMAT_VERSION,
            frametap: env!("CARGO_PKG_VERSION").into(),
            command: crate::forward::upstream_proxy::redact_command_line(std::env::args()),
            mode: "import".into(),
            upstream: if origins.len() == 1 { origins.pop() } else { None },
            redacted: false,
            insecure_upstream: false,
        });
        // The live pipeline writes what the analysis derives beside the records; the import does too, so a HAR
        // reads everywhere (the web UI, a converted capture) with its diagnoses.
        let records = Box::new(Analysed::new(std::iter::once(meta).chain(body)));
        ImportedRecords(Inner::Made { records, counts: RecordCounts::default(), last_ts })
    }

    /// Whether the records end with an `end` record (frametap's own HAR may lack one, as its capture did).
    pub fn has_end(&self) -> bool {
        match &self.0 {
            Inner::Restored(records) => matches!(records.as_slice().last(), Some(Record::End(_))),
            Inner::Made { .. } | Inner::Ended => true,
        }
    }
}

impl Iterator for ImportedRecords {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let Inner::Made { records, counts, last_ts } = &mut self.0 else {
            return match &mut self.0 {
                Inner::Restored(records) => records.next(),
                _ => None,
            };
        };
        match records.next() {
            Some(record) => {
                counts.add(record.kind());
                Some(record)
            }
            None => {
                let end = End::of(*counts, *last_ts, 0, Vec::new());
                self.0 = Inner::Ended;
                Some(Record::End(end))
            }
        }
    }
}
