//! Fragmented messages put back together for the analysis (up to [`MAX_REASSEMBLED`] bytes), their UTF-8
//! checked fragment by fragment whatever their length.

use super::rfc6455::{Utf8Stream, Violation};
use crate::event::{Frame, Opcode};
use bytes::Bytes;
use std::borrow::Cow;

/// A fragmented message is put back together for the analysis up to this many bytes; a longer one is not
/// read (the profile and the token search skip it; its UTF-8 is still checked, fragment by fragment; its
/// frames are still relayed and recorded).
pub const MAX_REASSEMBLED: usize = 1 << 20;

/// Per endpoint (client, server): the fragmented data message in progress, if any.
#[derive(Default)]
pub struct Reassembler {
    sides: [Option<Reassembly>; 2],
}

/// A fragmented data message being put back together: its first frame's opcode and the payload so far
/// (`None` once it grew past [`MAX_REASSEMBLED`]); for a text message, its UTF-8 checked fragment by fragment
/// (`None` once found invalid, or when a fragment's payload was not recorded whole).
struct Reassembly {
    opcode: Opcode,
    payload: Option<Vec<u8>>,
    utf8: Option<Utf8Stream>,
}

impl Reassembler {
    /// Whether `frame` is a whole message by itself, as most are: it needs no putting together, and ends any
    /// fragmented message its side had in progress (a new message inside one breaks RFC 6455; it is read as sent).
    /// A cheap test for the relay's hot path; [`Self::message_of`] reads every frame, whole or not.
    pub fn is_whole(&mut self, frame: &Frame) -> bool {
        if !frame.fin || frame.opcode == Opcode::Continuation {
            return false;
        }
        if let Some(side) = frame.from.endpoint() {
            self.sides[side] = None;
        }
        true
    }

    /// The whole data message `frame` ends: the frame itself when it is whole; the fragments put back together
    /// when it is a fragmented message's last (dated and numbered as that frame); `None` while a message is still
    /// arriving, or when it grew past [`MAX_REASSEMBLED`]. Also the violation `frame` commits, if any: the
    /// fragment where a text message stops being UTF-8 (named once per message).
    pub fn message_of<'f>(&mut self, frame: &'f Frame) -> (Option<Cow<'f, Frame>>, Option<Violation>) {
        if self.is_whole(frame) {
            return (Some(Cow::Borrowed(frame)), None);
        }
        let Some(side) = frame.from.endpoint() else {
            return (Some(Cow::Borrowed(frame)), None);
        };
        let reassembling = &mut self.sides[side];
        let complete = frame.payload.len() as u64 == frame.len;
        if frame.opcode != Opcode::Continuation {
            // A new fragmented message (one that starts inside another breaks RFC 6455; it is read as sent).
            *reassembling = None;
            let payload = (complete && frame.payload.len() <= MAX_REASSEMBLED).then(|| frame.payload.to_vec());
            let utf8 = (frame.opcode == Opcode::Text).then(Utf8Stream::default);
            *reassembling = Some(Reassembly { opcode: frame.opcode, payload, utf8 });
        } else {
            let Some(message) = reassembling.as_mut() else { return (None, None) };
            if let Some(payload) = &mut message.payload {
                if complete && payload.len() + frame.payload.len() <= MAX_REASSEMBLED {
                    payload.extend_from_slice(&frame.payload);
                } else {
                    message.payload = None;
                }
            }
        }
        let violation = self.sides[side].as_mut().and_then(|message| message.check_utf8(frame, complete));
        if !frame.fin {
            return (None, violation);
        }
        let whole = self.sides[side].take().and_then(|Reassembly { opcode, payload, .. }| {
            Some(Frame::whole(frame.conn, frame.ts, frame.seq, frame.from, opcode, Bytes::from(payload?)))
        });
        (whole.map(Cow::Owned), violation)
    }
}

impl Reassembly {
    /// Checks one fragment of a text message as UTF-8, carrying a character split at a boundary over.
    fn check_utf8(&mut self, frame: &Frame, complete: bool) -> Option<Violation> {
        let utf8 = self.utf8.as_mut()?;
        if !complete {
            self.utf8 = None;
            return None;
        }
        if utf8.next(&frame.payload, frame.fin) {
            return None;
        }
        self.utf8 = None;
        Some(Violation {
            seq: frame.seq,
            ts: frame.ts,
            from: frame.from,
            what: "it is part of a fragmented text message that is not valid UTF-8".into(),
            code: 1007,
            rsv_bits: false,
        })
    }
}
