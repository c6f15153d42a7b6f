//! Diagnoses derived afresh from the redacted records: every length and quote in a redacted diagnosis is the
//! redacted capture's, so none gives away the length of a secret that redaction replaced (docs/redaction.md).

use crate::event::{ConnId, Diagnosis, Record};
use crate::inspect::command::options_recorded_in;
use crate::inspect::{AnalysisArgs, Analyzer};
use std::collections::{BTreeMap, BTreeSet};

/// Fresh diagnoses waiting for the record they replace are dropped past this many (a stream whose analysis wrote
/// none: a capture recorded without it).
const MAX_WAITING: usize = 256;
/// Connections remembered as opened, at most (the oldest are forgotten first).
const MAX_OPEN: usize = 1 << 16;

/// The analysis of the redacted stream, run beside the redaction: the analyzer sees each record as written (the
/// session's options read from its `meta.command`, as `inspect` reads them), and a `diagnosis` record of the
/// stream is replaced by the one derived from the redacted records: what `frametap inspect` computes on the copy.
/// A connection whose `open` the stream lacks (a download of a connection whose start fell out of the UI's
/// history) keeps its own diagnosis, but its `preceding` and `other_side_last` frames are taken from the fresh one
/// where they name the same frame.
#[derive(Default)]
pub(super) struct Rederived {
    analyzer: Option<Analyzer>,
    /// Per connection: its diagnosis from the redacted records, until the stream's own comes.
    waiting: BTreeMap<ConnId, Diagnosis>,
    /// The connections whose `open` the analyzer saw, until their diagnosis passes.
    opened: BTreeSet<ConnId>,
}

impl Rederived {
    /// A redacted record, as written: observed, or (a diagnosis) replaced by the one derived from the redacted
    /// records when there is one.
    pub(super) fn pass(&mut self, record: Record) -> Record {
        match &record {
            Record::Diagnosis(d) => {
                let whole = self.opened.remove(&d.conn);
                let Some(fresh) = self.waiting.remove(&d.conn) else { return record };
                if whole {
                    return Record::Diagnosis(fresh);
                }
                let Record::Diagnosis(mut kept) = record else { return record };
                for key in ["preceding", "other_side_last"] {
                    let same = |d: &Diagnosis| d.details.get(key).and_then(|f| f.get("seq")).cloned();
                    if same(&kept).is_some() && same(&kept) == same(&fresh) {
                        kept.details.insert(key.into(), fresh.details[key].clone());
                    }
                }
                return Record::Diagnosis(kept);
            }
            Record::Open(open) => {
                self.opened.insert(open.conn);
                if self.opened.len() > MAX_OPEN {
                    self.opened.pop_first();
                }
            }
            Record::Meta(meta) => {
                self.analyzer = Some(Analyzer::new(options_recorded_in(&meta.command, &AnalysisArgs::default())));
            }
            Record::Annotation(_) | Record::Token(_) | Record::Note(_) | Record::End(_) => return record,
            Record::Frame(_) | Record::Close(_) => {}
        }
        let analyzer = self.analyzer.get_or_insert_with(|| Analyzer::new(Default::default()));
        for derived in analyzer.observe(&record, record.ts()) {
            if let Record::Diagnosis(d) = derived {
                self.waiting.insert(d.conn, d);
                if self.waiting.len() > MAX_WAITING {
                    self.waiting.pop_first();
                }
            }
        }
        record
    }
}
