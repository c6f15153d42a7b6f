//! The `frame` record: one WebSocket frame, its payload kept as bytes and written as `text` or `base64`.

use super::{ConnId, Opcode, Peer, Ts};
use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One WebSocket frame as it crossed frametap.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub conn: ConnId,
    pub ts: Ts,
    /// Per connection, one sequence across both directions, in the order frametap saw the frames.
    pub seq: u64,
    pub from: Peer,
    pub to: Peer,
    pub opcode: Opcode,
    pub fin: bool,
    /// RSV1..RSV3 bits as a number (0 normally).
    pub rsv: u8,
    /// Payload length in bytes.
    pub len: u64,
    /// The unmasked payload.
    pub payload: Bytes,
    /// True when this is a continuation (or first fragment) of a text message, so the payload is text.
    pub text_message: bool,
    /// False for a frame frametap did not pass on (a proxy-originated frame, or one past `--max-message`).
    pub relayed: bool,
}

impl Frame {
    /// A whole (unfragmented), relayed frame from `from` to the other end: what an importer, a fixture
    /// or a fuzz harness builds. Fields that differ (fragments, RSV bits, `relayed`) can be set after.
    pub fn whole(conn: ConnId, ts: Ts, seq: u64, from: Peer, opcode: Opcode, payload: Bytes) -> Frame {
        Frame {
            conn,
            ts,
            seq,
            from,
            to: from.other(),
            opcode,
            fin: true,
            rsv: 0,
            len: payload.len() as u64,
            payload,
            text_message: opcode == Opcode::Text,
            relayed: true,
        }
    }

    /// Whether this frame carries text (a text frame, or a continuation of a text message), valid UTF-8 or not.
    pub fn carries_text(&self) -> bool {
        self.opcode == Opcode::Text || (self.opcode == Opcode::Continuation && self.text_message)
    }

    /// The payload as text when this frame carries text and the bytes are valid UTF-8.
    pub fn text(&self) -> Option<&str> {
        if self.carries_text() {
            std::str::from_utf8(&self.payload).ok()
        } else {
            None
        }
    }

    /// The payload as text for a preview: [`Frame::text`], but a character split across fragments (or cut where
    /// a kept payload ends short of `len`) shows as U+FFFD at the edge it was split at, instead of the whole
    /// payload failing to read as text. `None` when the frame carries no text, or bytes that are not UTF-8 inside.
    pub fn preview_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        if let Some(text) = self.text() {
            return Some(text.into());
        }
        if !self.carries_text() {
            return None;
        }
        // A continuation may start with the rest of a character begun in the fragment before (at most 3 bytes).
        let head = if self.opcode == Opcode::Continuation {
            self.payload.iter().take(3).take_while(|b| (0x80..0xC0).contains(*b)).count()
        } else {
            0
        };
        // A fragment with more to follow, or a payload kept short, may end inside a character.
        let may_end_inside = !self.fin || (self.payload.len() as u64) < self.len;
        let (body, tail) = text_up_to_a_cut(&self.payload[head..], may_end_inside)?;
        let split = |yes: bool| if yes { "\u{FFFD}" } else { "" };
        Some(format!("{}{body}{}", split(head > 0), split(tail)).into())
    }
    /// True when a text frame's payload is not valid UTF-8 (passed on anyway, flagged in the log).
    pub fn invalid_utf8(&self) -> bool {
        self.opcode == Opcode::Text && self.fin && std::str::from_utf8(&self.payload).is_err()
    }
    /// The close code and reason of a close frame (`None, None` for an empty close payload).
    pub fn close_parts(&self) -> (Option<u16>, Option<String>) {
        if self.opcode != Opcode::Close {
            return (None, None);
        }
        parse_close_payload(&self.payload)
    }
}

/// `bytes` as text, and whether a character they end inside was left off (only when `may_end_inside`: a fragment
/// with more to follow, or a payload kept short of its length); `None` when they are not UTF-8.
pub(crate) fn text_up_to_a_cut(bytes: &[u8], may_end_inside: bool) -> Option<(&str, bool)> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Some((text, false)),
        Err(e) if e.error_len().is_none() && may_end_inside => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok().map(|text| (text, true))
        }
        Err(_) => None,
    }
}

/// The code and reason of a close payload: `None` code when shorter than 2 bytes, `None` reason when not UTF-8.
pub fn parse_close_payload(payload: &[u8]) -> (Option<u16>, Option<String>) {
    if payload.len() < 2 {
        return (None, None);
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    (Some(code), std::str::from_utf8(&payload[2..]).ok().map(str::to_owned))
}

#[derive(Serialize, Deserialize)]
struct FrameWire<'a> {
    conn: ConnId,
    ts: Ts,
    seq: u64,
    from: Peer,
    to: Peer,
    opcode: Opcode,
    fin: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    rsv: u8,
    len: u64,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    text: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<Base64Field<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "is_false")]
    text_message: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    invalid_utf8: bool,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    relayed: bool,
}

/// A payload as base64: written straight into the output when serialising, owned when read back.
enum Base64Field<'a> {
    Bytes(&'a [u8]),
    Text(String),
}

impl Serialize for Base64Field<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Base64Field::Bytes(bytes) => {
                s.collect_str(&base64::display::Base64Display::new(bytes, &base64::engine::general_purpose::STANDARD))
            }
            Base64Field::Text(text) => s.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for Base64Field<'_> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Base64Field::Text)
    }
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_true(b: &bool) -> bool {
    *b
}
fn yes() -> bool {
    true
}

/// How a frame's payload is written: as text, as base64, or as a close code and reason.
pub(crate) struct PayloadView<'a> {
    pub text: Option<&'a str>,
    pub base64: Option<&'a [u8]>,
    pub code: Option<u16>,
    pub reason: Option<String>,
}

impl Frame {
    pub(crate) fn payload_view(&self) -> PayloadView<'_> {
        let mut view = PayloadView { text: None, base64: None, code: None, reason: None };
        if self.opcode == Opcode::Close {
            let (code, reason) = self.close_parts();
            let represented = match (&code, &reason) {
                (None, _) => self.payload.is_empty(),
                (Some(_), Some(_)) => true,
                (Some(_), None) => false,
            };
            view.code = code;
            view.reason = reason;
            if !represented {
                view.base64 = Some(&self.payload);
            }
        } else if let Some(text) = self.text() {
            view.text = Some(text);
        } else if !self.payload.is_empty() {
            view.base64 = Some(&self.payload);
        }
        view
    }

    /// `text_message` as written: only on continuation frames.
    pub(crate) fn text_message_field(&self) -> bool {
        self.text_message && self.opcode == Opcode::Continuation
    }
}

impl Serialize for Frame {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let view = self.payload_view();
        FrameWire {
            conn: self.conn,
            ts: self.ts,
            seq: self.seq,
            from: self.from,
            to: self.to,
            opcode: self.opcode,
            fin: self.fin,
            rsv: self.rsv,
            len: self.len,
            text: view.text.map(std::borrow::Cow::Borrowed),
            base64: view.base64.map(Base64Field::Bytes),
            code: view.code,
            reason: view.reason.map(std::borrow::Cow::Owned),
            text_message: self.text_message_field(),
            invalid_utf8: self.invalid_utf8(),
            relayed: self.relayed,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = FrameWire::deserialize(d)?;
        let payload: Bytes = if let Some(Base64Field::Text(text)) = &w.base64 {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| serde::de::Error::custom(format!("frame {}: bad base64: {e}", w.seq)))?
                .into()
        } else if let Some(Base64Field::Bytes(raw)) = &w.base64 {
            Bytes::copy_from_slice(raw)
        } else if let Some(t) = &w.text {
            Bytes::copy_from_slice(t.as_bytes())
        } else if let Some(code) = w.code {
            let mut p = code.to_be_bytes().to_vec();
            p.extend_from_slice(w.reason.as_deref().unwrap_or("").as_bytes());
            p.into()
        } else {
            Bytes::new()
        };
        Ok(Frame {
            conn: w.conn,
            ts: w.ts,
            seq: w.seq,
            from: w.from,
            to: w.to,
            opcode: w.opcode,
            fin: w.fin,
            rsv: w.rsv,
            len: w.len,
            payload,
            text_message: w.text_message || w.opcode == Opcode::Text,
            relayed: w.relayed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Record;
    use chrono::DateTime;

    fn frame(opcode: Opcode, payload: &[u8]) -> Frame {
        Frame {
            conn: 1,
            ts: Ts(DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z").unwrap().into()),
            seq: 7,
            from: Peer::Client,
            to: Peer::Server,
            opcode,
            fin: true,
            rsv: 0,
            len: payload.len() as u64,
            payload: Bytes::copy_from_slice(payload),
            text_message: opcode == Opcode::Text,
            relayed: true,
        }
    }

    fn round_trip(f: Frame) -> String {
        let line = serde_json::to_string(&Record::Frame(f.clone())).unwrap();
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, Record::Frame(f), "{line}");
        line
    }

    #[test]
    fn text_frames_keep_text() {
        let line = round_trip(frame(Opcode::Text, br#"{"action":"echo"}"#));
        assert!(line.contains(r#""text":"{\"action\":\"echo\"}""#), "{line}");
        assert!(line.contains(r#""ts":"2026-01-02T03:04:05.123456Z""#), "{line}");
    }

    #[test]
    fn invalid_utf8_text_goes_to_base64_and_is_flagged() {
        let line = round_trip(frame(Opcode::Text, &[0xff, 0xfe, b'a']));
        assert!(line.contains(r#""base64":"//5h""#), "{line}");
        assert!(line.contains(r#""invalid_utf8":true"#), "{line}");
    }

    #[test]
    fn close_frames_carry_code_and_reason() {
        let line = round_trip(frame(Opcode::Close, b"\x0f\xa0bye"));
        assert!(line.contains(r#""code":4000,"reason":"bye""#), "{line}");
        assert!(!line.contains("base64"), "{line}");
        let odd = round_trip(frame(Opcode::Close, b"\x03"));
        assert!(odd.contains(r#""base64":"Aw==""#), "{odd}");
    }

    #[test]
    fn a_character_split_across_fragments_previews_as_text_with_the_split_marked() {
        let fragment =
            |opcode: Opcode, fin: bool, payload: &[u8]| Frame { fin, text_message: true, ..frame(opcode, payload) };
        let shown = |f: Frame| f.preview_text().map(|t| t.into_owned());
        // "café 😀 ok" sent as "caf\xc3" | "\xa9 \xf0\x9f" | "\x98\x80 ok".
        assert_eq!(shown(fragment(Opcode::Text, false, b"caf\xc3")).as_deref(), Some("caf\u{FFFD}"));
        let middle = fragment(Opcode::Continuation, false, b"\xa9 \xf0\x9f");
        assert_eq!(shown(middle).as_deref(), Some("\u{FFFD} \u{FFFD}"));
        assert_eq!(shown(fragment(Opcode::Continuation, true, b"\x98\x80 ok")).as_deref(), Some("\u{FFFD} ok"));
        // Bytes that are not UTF-8 inside stay not text; so does a whole text frame cut inside a character.
        assert_eq!(shown(fragment(Opcode::Continuation, false, b"a\xffb")), None);
        assert_eq!(shown(frame(Opcode::Text, b"caf\xc3")), None);
        assert_eq!(shown(fragment(Opcode::Text, false, b"\xa9bc")), None, "a first fragment starts a character");
        // A payload kept short of its length may end inside a character.
        let kept_short = Frame { len: 70_000, ..frame(Opcode::Text, b"caf\xc3") };
        assert_eq!(shown(kept_short).as_deref(), Some("caf\u{FFFD}"));
        assert_eq!(shown(frame(Opcode::Binary, b"abc")), None);
    }

    #[test]
    fn reserved_opcodes_round_trip() {
        let line = round_trip(frame(Opcode::Reserved(3), b"x"));
        assert!(line.contains(r#""opcode":"reserved-3""#), "{line}");
    }
}
