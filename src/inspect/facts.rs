//! What the analysis keeps of a data frame and of a peer's largest message: facts and the start of the payload,
//! never the payload.

use crate::event::{Frame, Opcode, Peer, Ts};

/// What the analysis keeps of one data frame: its facts and the start of its payload, enough for the
/// diagnosis's preview (a copy of at most [`PAYLOAD_HEAD`] bytes, so no payload is kept alive or shared).
/// For a fragment of a fragmented message the head is the start of the **message** (its fragments so far),
/// so a preview quotes what was sent, not a piece of it.
#[derive(Clone, Debug)]
pub struct FrameFacts {
    pub seq: u64,
    pub ts: Ts,
    pub from: Peer,
    pub opcode: Opcode,
    /// This frame's payload length.
    pub len: u64,
    pub fin: bool,
    /// The payload's first [`PAYLOAD_HEAD`] bytes (all of it when shorter); of the message so far when
    /// `message` is set.
    pub head: Vec<u8>,
    pub text: bool,
    /// Set when this frame is a fragment of a fragmented message: the message up to and including it.
    pub message: Option<MessageFacts>,
}

/// A fragmented data message up to one of its fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageFacts {
    /// The seq of its first fragment.
    pub first_seq: u64,
    /// Its fragments so far.
    pub fragments: u64,
    /// Its payload bytes so far.
    pub len: u64,
}

/// Payload bytes kept of a data frame: the longest preview the diagnosis shows (`close::PREVIEW_CHARS`
/// characters, and one more to know it was cut) at four bytes per character.
pub const PAYLOAD_HEAD: usize = (super::close::PREVIEW_CHARS + 1) * 4;

impl FrameFacts {
    /// Makes `slot`, which holds the facts of the previous data frame of the same peer (if any), the facts of
    /// `frame`, in place: its head buffer is reused, so a frame costs a short copy, not an allocation. A
    /// continuation of that peer's unfinished message extends the message's head while it is short of
    /// [`PAYLOAD_HEAD`] bytes. Returns the facts now in `slot`.
    pub(super) fn update<'s>(slot: &'s mut Option<FrameFacts>, frame: &Frame) -> &'s FrameFacts {
        let continued = slot.as_ref().and_then(|p| {
            let message = p.message.filter(|_| !p.fin && frame.opcode == Opcode::Continuation)?;
            Some((message, p.text))
        });
        let facts = slot.get_or_insert_with(|| FrameFacts {
            seq: 0,
            ts: frame.ts,
            from: frame.from,
            opcode: frame.opcode,
            len: 0,
            fin: true,
            head: Vec::new(),
            text: false,
            message: None,
        });
        match continued {
            Some((so_far, text)) => {
                // Only while every byte so far is in the head (a payload recorded short leaves a gap).
                if facts.head.len() as u64 == so_far.len {
                    let room = PAYLOAD_HEAD.saturating_sub(facts.head.len()).min(frame.payload.len());
                    facts.head.extend_from_slice(&frame.payload[..room]);
                }
                facts.message =
                    Some(MessageFacts { fragments: so_far.fragments + 1, len: so_far.len + frame.len, ..so_far });
                facts.text = text;
            }
            None => {
                facts.head.clear();
                facts.head.extend_from_slice(&frame.payload[..frame.payload.len().min(PAYLOAD_HEAD)]);
                let starts_message = !frame.fin && frame.opcode != Opcode::Continuation;
                facts.message =
                    starts_message.then_some(MessageFacts { first_seq: frame.seq, fragments: 1, len: frame.len });
                facts.text = frame.text_message || frame.opcode == Opcode::Text;
            }
        }
        facts.seq = frame.seq;
        facts.ts = frame.ts;
        facts.from = frame.from;
        facts.opcode = frame.opcode;
        facts.len = frame.len;
        facts.fin = frame.fin;
        facts
    }

    /// The length of what [`FrameFacts::head`] is the start of: the message so far, or this frame's payload.
    pub fn shown_len(&self) -> u64 {
        self.message.map_or(self.len, |m| m.len)
    }
}

/// A peer's largest data message so far: the frame it ended with (or had reached), its size, when it came.
#[derive(Clone, Copy, Debug)]
pub struct Largest {
    pub seq: u64,
    pub ts: Ts,
    /// The message's length (a whole frame's, or a fragmented message's up to `seq`).
    pub len: u64,
    /// Set when it is a fragmented message; `complete` when frame #`seq` ended it.
    pub message: Option<(MessageFacts, bool)>,
}
