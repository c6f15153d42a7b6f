//! Where what the analysis derives goes in the stream: right after the record it came from, except the
//! diagnosis of an upgrade that failed, which follows the notes about its handshake (docs/capture-format.md).

use crate::event::Record;

/// Places derived records in a stream of records. A failed upgrade is diagnosed at its `open`, but the notes
/// about its handshake (`compression-off`, `cookies-dropped`, …) are written right after that `open`: its
/// diagnosis waits for them, and goes out before the next record that is not one of them, or at the end.
#[derive(Default)]
pub struct DerivedOrder {
    /// Diagnoses derived from an `open`, waiting for that connection's notes.
    waiting: Vec<Record>,
}

impl DerivedOrder {
    /// Adds `record`, then what was derived from it, to `out`; first the waiting diagnoses, unless `record` is
    /// a note about one of their connections.
    pub fn place(&mut self, record: Record, derived: Vec<Record>, out: &mut Vec<Record>) {
        let about_waiting = matches!(&record, Record::Note(note)
            if note.conn.is_some() && self.waiting.iter().any(|d| d.conn() == note.conn));
        if !about_waiting {
            out.append(&mut self.waiting);
        }
        let from_open = matches!(record, Record::Open(_));
        out.push(record);
        for derived in derived {
            if from_open && matches!(derived, Record::Diagnosis(_)) {
                self.waiting.push(derived);
            } else {
                out.push(derived);
            }
        }
    }

    /// Adds the waiting diagnoses to `out` (the stream, or an emitter's batch, has ended).
    pub fn flush(&mut self, out: &mut Vec<Record>) {
        out.append(&mut self.waiting);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::event::{Diagnosis, HttpRequest, Note, Open, Ts};

    /// The `open` of an upgrade that failed: the analysis derives its diagnosis from it (also used by the
    /// pipeline's tests).
    pub(in crate::pipeline) fn open(conn: u64) -> Record {
        Record::from(Open {
            error: Some("refused".into()),
            failed_ms: Some(1.0),
            ..Open::new(conn, Ts::now(), HttpRequest { method: "GET".into(), path: "/".into(), headers: vec![] })
        })
    }

    fn note(conn: u64) -> Record {
        let message = String::new();
        Record::Note(Note::info("n", Some(conn), Ts::now(), message))
    }

    fn diagnosis(conn: u64) -> Record {
        Record::Diagnosis(Diagnosis { conn, ts: Ts::now(), details: Default::default() })
    }

    fn placed(stream: Vec<(Record, Vec<Record>)>) -> Vec<String> {
        let mut order = DerivedOrder::default();
        let mut out = Vec::new();
        for (record, derived) in stream {
            order.place(record, derived, &mut out);
        }
        order.flush(&mut out);
        out.iter().map(|r| format!("{}{}", r.kind(), r.conn().unwrap_or_default())).collect()
    }

    #[test]
    fn a_failed_upgrades_diagnosis_follows_its_notes_and_nothing_else() {
        let stream = vec![
            (open(1), vec![diagnosis(1)]),
            (note(1), vec![]),
            (note(1), vec![]),
            (open(2), vec![diagnosis(2)]),
            (note(3), vec![]),
        ];
        assert_eq!(placed(stream), ["open1", "note1", "note1", "diagnosis1", "open2", "diagnosis2", "note3"]);
        // Anything else derived from an `open` (a token in its URL) stays right after it.
        let token = Record::Annotation(Box::new(crate::event::Annotation {
            conn: 1,
            ts: Ts::now(),
            seq: 0,
            profile: "p".into(),
            text: String::new(),
            details: Default::default(),
        }));
        assert_eq!(placed(vec![(open(1), vec![token, diagnosis(1)])]), ["open1", "annotation1", "diagnosis1"]);
    }
}
