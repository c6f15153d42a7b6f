//! Diagnoses and annotations derived afresh from the redacted records: every length and quote in them is the
//! redacted capture's, so none gives away the length of a secret that redaction replaced (docs/redaction.md).

use crate::event::{Annotation, ConnId, Diagnosis, Record};
use crate::inspect::command::options_recorded_in;
use crate::inspect::{AnalysisArgs, Analyzer};
use std::collections::{BTreeMap, BTreeSet};

/// Fresh diagnoses (and annotations) waiting for the record they replace are dropped past this many (a stream
/// whose analysis wrote none: a capture recorded without it).
const MAX_WAITING: usize = 256;
/// Connections remembered as opened, at most (the oldest are forgotten first).
const MAX_OPEN: usize = 1 << 16;

/// The analysis of the redacted stream, run beside the redaction: the analyzer sees each record as written (the
/// session's options read from its `meta.command`, as `inspect` reads them), and a `diagnosis` record of the
/// stream is replaced by the one derived from the redacted records: what `frametap inspect` computes on the copy.
/// A connection whose `open` the stream lacks (a download of a connection whose start fell out of the UI's
/// history) keeps its own diagnosis, but its `preceding` and `other_side_last` frames are taken from the fresh one
/// where they name the same frame. An `annotation` record is likewise replaced by the one derived from the redacted
/// frame it annotates (a lint finding gives a token's length); one with no fresh counterpart keeps its text, with
/// the token length such a finding gives left out.
#[derive(Default)]
pub(super) struct Rederived {
    analyzer: Option<Analyzer>,
    /// Per connection: its diagnosis from the redacted records, until the stream's own comes.
    waiting: BTreeMap<ConnId, Diagnosis>,
    /// Per (connection, seq): the annotation of that frame from the redacted records, until the stream's own comes.
    annotations: BTreeMap<(ConnId, u64), Box<Annotation>>,
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
            Record::Annotation(stream) => {
                let fresh = self.annotations.remove(&(stream.conn, stream.seq));
                let Record::Annotation(stream) = record else { return record };
                return Record::Annotation(match fresh {
                    Some(fresh) => Box::new(Annotation { ts: stream.ts, ..*fresh }),
                    None => without_token_lengths(stream),
                });
            }
            Record::Token(_) | Record::Note(_) | Record::End(_) => return record,
            Record::Frame(_) | Record::Close(_) => {}
        }
        let analyzer = self.analyzer.get_or_insert_with(|| Analyzer::new(Default::default()));
        for derived in analyzer.observe(&record, record.ts()) {
            match derived {
                Record::Diagnosis(d) => keep_waiting(&mut self.waiting, d.conn, d),
                Record::Annotation(a) => keep_waiting(&mut self.annotations, (a.conn, a.seq), a),
                _ => {}
            }
        }
        record
    }
}

/// Holds a fresh record until the stream's own comes; past [`MAX_WAITING`] the first in key order (the oldest
/// connection's) is forgotten.
fn keep_waiting<K: Ord, V>(waiting: &mut BTreeMap<K, V>, key: K, fresh: V) {
    waiting.insert(key, fresh);
    if waiting.len() > MAX_WAITING {
        waiting.pop_first();
    }
}

/// An annotation the redacted records did not derive again (its frame's start fell out of a download): its
/// `genesys-token-not-uuid` findings lose the original token's length.
fn without_token_lengths(mut annotation: Box<Annotation>) -> Box<Annotation> {
    let findings = annotation.details.get_mut("findings").and_then(serde_json::Value::as_array_mut);
    for finding in findings.into_iter().flatten() {
        if finding["rule"] == "genesys-token-not-uuid" {
            let seq = finding["seq"].as_u64().unwrap_or(annotation.seq);
            let message = crate::profile::token_not_uuid_message(seq, "its length is not kept in a redacted capture");
            finding["message"] = message.into();
        }
    }
    annotation
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A stream annotation whose frame the redacted stream does not hold (a download that starts mid-connection)
    /// has nothing to be derived from again: its token-length finding still loses the length.
    #[test]
    fn an_annotation_without_its_frame_keeps_no_token_length() {
        let message = crate::profile::token_not_uuid_message(7, "44 characters");
        let details =
            json!({"findings": [{"rule": "genesys-token-not-uuid", "severity": "warn", "seq": 7, "message": message}]});
        let annotation = Annotation {
            conn: 3,
            ts: crate::event::Ts::now(),
            seq: 7,
            profile: "genesys".into(),
            text: "configureSession ⚠ `token` is not a UUID".into(),
            details: details.as_object().cloned().unwrap(),
        };
        let Record::Annotation(kept) = Rederived::default().pass(Record::Annotation(Box::new(annotation))) else {
            panic!("an annotation stays an annotation")
        };
        let finding = &kept.details["findings"][0];
        assert_eq!(finding["rule"], "genesys-token-not-uuid");
        let message = finding["message"].as_str().unwrap();
        assert!(!message.contains("44") && message.contains("not kept in a redacted capture"), "{message}");
        assert!(message.starts_with("frame #7's `token` is not a UUID"), "{message}");
    }
}
