//! `_webSocketMessages` of a HAR entry, as Chrome writes them: each data message (fragments joined, with
//! `_frametap.frames` describing the frames it came in), and Chrome's `error` item that ends a failed upgrade's.

use super::export::epoch_secs;
use super::spilled::Payloads;
use crate::event::{Frame, Opcode, Open, Peer, Ts};
use base64::Engine as _;
use serde::ser::{Error as _, SerializeSeq as _};
use serde::{Serialize, Serializer};
use std::borrow::Cow;

/// A data message being assembled from its frames.
pub(super) struct Message<'a> {
    pub(super) from: Peer,
    pub(super) opcode: Opcode,
    pub(super) frames: Vec<(usize, &'a Frame)>,
    pub(super) finished: bool,
}

impl Message<'_> {
    /// The message's payload: its frames' payloads, joined.
    fn payload(&self, payloads: &Payloads) -> anyhow::Result<bytes::Bytes> {
        match self.frames.as_slice() {
            [(at, one)] => payloads.of(*at, one),
            frames => {
                let mut joined = Vec::new();
                for (at, frame) in frames {
                    joined.extend_from_slice(&payloads.of(*at, frame)?);
                }
                Ok(joined.into())
            }
        }
    }

    /// Whether Chrome can show it: binary, or text that is valid UTF-8 (else its frames are kept whole instead).
    pub(super) fn shown(&self, payloads: &Payloads) -> anyhow::Result<bool> {
        Ok(self.opcode != Opcode::Text || std::str::from_utf8(&self.payload(payloads)?).is_ok())
    }
}

/// Chrome-style messages, each made when it is written; those Chrome cannot show are left out (their frames are
/// among the entry's `_frametap.records`). A failed upgrade ends with Chrome's `error` item.
pub(super) struct Messages<'a> {
    pub(super) messages: Vec<Message<'a>>,
    pub(super) payloads: &'a Payloads<'a>,
    pub(super) failure: Option<FailureJson<'a>>,
}

impl Serialize for Messages<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // As many as there are when there are none (`[]`); otherwise not known until each is made.
        let none = self.messages.is_empty() && self.failure.is_none();
        let mut seq = serializer.serialize_seq(none.then_some(0))?;
        for message in &self.messages {
            if let Some(json) = message_json(message, self.payloads).map_err(S::Error::custom)? {
                seq.serialize_element(&json)?;
            }
        }
        if let Some(failure) = &self.failure {
            seq.serialize_element(failure)?;
        }
        seq.end()
    }
}

/// Chrome's item for a WebSocket that failed (`type: "error"`, `opcode: -1`, the reason in `data`): DevTools'
/// HAR import reads no `response._error`, so this red row in the Messages tab is where it shows why an upgrade
/// failed. The import skips it: the failure is in the entry's stored `open` record.
#[derive(Serialize)]
pub(super) struct FailureJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    time: f64,
    opcode: i8,
    data: Cow<'a, str>,
}

/// The `error` item of an upgrade that failed: without an answer (or with a 101 that opened no WebSocket), the
/// error frametap recorded; refused with another status, the words Chrome uses for it. Dated when the failure was
/// known.
pub(super) fn failure_json(open: &Open) -> Option<FailureJson<'_>> {
    let data = match (&open.error, open.relayed_response()) {
        (Some(error), _) => Cow::Borrowed(error.as_str()),
        (None, Some(response)) if response.status != 101 => {
            Cow::Owned(format!("Error during WebSocket handshake: Unexpected response code: {}", response.status))
        }
        _ => return None,
    };
    let time = epoch_secs(open.failed_at().unwrap_or(open.ts));
    Some(FailureJson { kind: "error", time, opcode: -1, data })
}

#[derive(Serialize)]
struct MessageJson {
    #[serde(rename = "type")]
    kind: &'static str,
    time: f64,
    opcode: u8,
    data: String,
    #[serde(rename = "_frametap")]
    frametap: MessageExtension,
}

#[derive(Serialize)]
struct MessageExtension {
    frames: Vec<FrameJson>,
    finished: bool,
}

/// What `_frametap.frames` says about one frame of a message.
#[derive(Serialize)]
struct FrameJson {
    at: usize,
    ts: Ts,
    seq: u64,
    fin: bool,
    len: u64,
    /// Bytes of payload kept, when it differs from `len`.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<Peer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relayed: Option<bool>,
}

/// A message as Chrome writes it, with its frames in `_frametap.frames`; `None` when Chrome cannot show it
/// (text that is not valid UTF-8), so its frames are kept whole instead.
fn message_json(message: &Message, payloads: &Payloads) -> anyhow::Result<Option<MessageJson>> {
    let payload = message.payload(payloads)?;
    let data = match message.opcode {
        Opcode::Text => match String::from_utf8(payload.into()) {
            Ok(text) => text,
            Err(_) => return Ok(None),
        },
        _ => base64::engine::general_purpose::STANDARD.encode(payload),
    };
    let frames: Vec<FrameJson> = (message.frames.iter())
        .map(|(at, frame)| FrameJson {
            at: *at,
            ts: frame.ts,
            seq: frame.seq,
            fin: frame.fin,
            len: frame.len,
            size: Some(payloads.kept(*at, frame)).filter(|kept| *kept as u64 != frame.len),
            to: (frame.to != frame.from.other()).then_some(frame.to),
            relayed: (!frame.relayed).then_some(false),
        })
        .collect();
    let Some(last_ts) = message.frames.last().map(|(_, f)| f.ts) else { return Ok(None) };
    Ok(Some(MessageJson {
        kind: if message.from == Peer::Client { "send" } else { "receive" },
        time: epoch_secs(last_ts),
        opcode: message.opcode.as_u8(),
        data,
        frametap: MessageExtension { frames, finished: message.finished },
    }))
}
