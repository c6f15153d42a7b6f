//! Text messages sent in fragments, redacted whole: a connection's records are held while one arrives, the
//! message is put back together and redacted as one text (a secret split across fragments is found), then
//! cut again at the fragments' sizes, and the held records are let go in their order.

use super::records::redact_text_payload;
use super::Redactor;
use crate::event::{ConnId, Frame, Opcode, Record};
use bytes::Bytes;
use std::collections::BTreeMap;

/// A fragmented message is redacted whole up to this many bytes: past it, the message so far is redacted
/// whole, and its later fragments one by one.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// A connection's held records (both sides' messages and what came between) are let go past this many bytes.
const MAX_HELD_BYTES: usize = 4 * MAX_MESSAGE_BYTES;

/// The connections whose records are held, each until its fragmented text messages have ended.
#[derive(Default)]
pub(super) struct Held {
    conns: BTreeMap<ConnId, HeldConn>,
}

#[derive(Default)]
struct HeldConn {
    /// The records in arrival order; `true` once redacted (a fragment of a message redacted whole).
    records: Vec<(Record, bool)>,
    /// Per side (client, server): indices in `records` of the fragments of its text message in progress.
    messages: [Option<Vec<usize>>; 2],
    /// Per side: the payload bytes of that message so far.
    message_bytes: [usize; 2],
    /// Payload bytes held in all.
    bytes: usize,
}

impl Redactor {
    /// [`Redactor::feed`] before the diagnoses are derived afresh: while a text message of a connection arrives
    /// in fragments, that connection's records are held (and none returned) until it ends.
    pub(super) fn feed_unanalysed(&mut self, record: Record) -> Vec<Record> {
        // The end of the stream comes after everything held.
        if matches!(record, Record::End(_)) {
            let mut out = self.finish_unanalysed();
            out.push(self.redact(record));
            return out;
        }
        let Some(conn) = record.conn() else {
            return vec![self.redact(record)];
        };
        let starts_message = matches!(&record, Record::Frame(f)
            if f.opcode == Opcode::Text && !f.fin && f.from.endpoint().is_some());
        if !starts_message && !self.held.conns.contains_key(&conn) {
            return vec![self.redact(record)];
        }
        let held = self.held.conns.entry(conn).or_default();
        let index = held.records.len();
        let mut ended = None;
        if let Record::Frame(frame) = &record {
            held.bytes += frame.payload.len();
            if let Some(s) = frame.from.endpoint() {
                match frame.opcode {
                    Opcode::Continuation => {
                        if let Some(fragments) = held.messages[s].as_mut() {
                            fragments.push(index);
                            held.message_bytes[s] += frame.payload.len();
                            // Past the limit the message so far is redacted whole; the rest fragment by fragment.
                            if frame.fin || held.message_bytes[s] > MAX_MESSAGE_BYTES {
                                ended = held.messages[s].take();
                            }
                        }
                    }
                    // A new message (one inside a fragmented message breaks RFC 6455): the one in progress is
                    // redacted as it stands.
                    Opcode::Text | Opcode::Binary => {
                        ended = held.messages[s].take();
                        if starts_message {
                            held.messages[s] = Some(vec![index]);
                            held.message_bytes[s] = frame.payload.len();
                        }
                    }
                    _ => {}
                }
            }
        }
        held.records.push((record, false));
        let overflowing = held.bytes > MAX_HELD_BYTES;
        if let Some(fragments) = ended {
            self.redact_message(conn, &fragments);
        }
        if overflowing {
            self.redact_open_messages(conn);
        }
        if self.held.conns[&conn].messages.iter().any(Option::is_some) {
            return Vec::new();
        }
        self.release(conn)
    }

    /// [`Redactor::finish`] before the diagnoses are derived afresh.
    pub(super) fn finish_unanalysed(&mut self) -> Vec<Record> {
        let conns: Vec<ConnId> = self.held.conns.keys().copied().collect();
        let mut out = Vec::new();
        for conn in conns {
            self.redact_open_messages(conn);
            out.extend(self.release(conn));
        }
        out
    }

    /// Redacts `conn`'s messages still in progress as they stand, and stops waiting for their last fragments.
    fn redact_open_messages(&mut self, conn: ConnId) {
        let open: Vec<Vec<usize>> = self
            .held
            .conns
            .get_mut(&conn)
            .map(|held| held.messages.iter_mut().filter_map(Option::take).collect())
            .unwrap_or_default();
        for fragments in open {
            self.redact_message(conn, &fragments);
        }
    }

    /// Every record of a stream, redacted ([`Redactor::feed`] each, then [`Redactor::finish`]).
    pub fn redact_all(&mut self, records: impl IntoIterator<Item = Record>) -> Vec<Record> {
        let mut out: Vec<Record> = records.into_iter().flat_map(|record| self.feed(record)).collect();
        out.extend(self.finish());
        out
    }

    /// Redacts the fragments at `indices` of `conn`'s held records as one text message, then cuts the result
    /// at the fragments' sizes (the last takes what is left). A message that is not UTF-8 as a whole is left
    /// to the redaction of each fragment.
    fn redact_message(&mut self, conn: ConnId, indices: &[usize]) {
        let Some(held) = self.held.conns.get(&conn) else { return };
        let frames: Vec<&Frame> = indices
            .iter()
            .filter_map(|&i| match &held.records[i].0 {
                Record::Frame(frame) => Some(frame),
                _ => None,
            })
            .collect();
        let whole: Vec<u8> = frames.iter().flat_map(|f| f.payload.iter().copied()).collect();
        let Ok(text) = String::from_utf8(whole) else { return };
        let sizes: Vec<usize> = frames.iter().map(|f| f.payload.len()).collect();
        self.current = Some(conn);
        let masked = redact_text_payload(self, &text);
        self.remember_pieces(&text, &sizes);
        let Some(held) = self.held.conns.get_mut(&conn) else { return };
        let mut rest = masked.as_bytes();
        for (n, (&i, size)) in indices.iter().zip(sizes).enumerate() {
            let (record, done) = &mut held.records[i];
            let Record::Frame(frame) = record else { continue };
            let take = if n + 1 == indices.len() { rest.len() } else { size.min(rest.len()) };
            if masked != text {
                frame.payload = Bytes::copy_from_slice(&rest[..take]);
                frame.len = take as u64;
            }
            rest = &rest[take..];
            *done = true;
        }
    }

    /// The pieces of each secret of this connection that `text`'s fragment boundaries (after `sizes` bytes
    /// each) cut, remembered as secrets of their own with the whole secret's placeholder: the analysis's
    /// previews quote single fragments, and must not show the piece of a secret one of them holds.
    fn remember_pieces(&mut self, text: &str, sizes: &[usize]) {
        let boundaries: Vec<usize> = sizes
            .iter()
            .scan(0, |at, size| {
                *at += size;
                Some(*at)
            })
            .collect();
        let mut pieces = Vec::new();
        for (secret, placeholder) in self.known_here() {
            for (start, _) in text.match_indices(secret.as_str()) {
                let end = start + secret.len();
                let cuts: Vec<usize> = boundaries.iter().copied().filter(|&b| b > start && b < end).collect();
                let edges: Vec<usize> = [start].into_iter().chain(cuts.iter().copied()).chain([end]).collect();
                if cuts.is_empty() {
                    continue;
                }
                for pair in edges.windows(2) {
                    if let Some(piece) = text.get(pair[0]..pair[1]) {
                        pieces.push((piece.to_owned(), placeholder.clone()));
                    }
                }
            }
        }
        for (piece, placeholder) in pieces {
            self.remember(&piece, &placeholder);
        }
    }

    /// Redacts and returns `conn`'s held records, in order, and stops holding it.
    fn release(&mut self, conn: ConnId) -> Vec<Record> {
        let Some(held) = self.held.conns.remove(&conn) else { return Vec::new() };
        held.records.into_iter().map(|(record, done)| if done { record } else { self.redact(record) }).collect()
    }
}
