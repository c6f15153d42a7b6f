//! The RFC 6455 rules a frame can break, read off its record, and what the receiver must then do: a
//! conforming endpoint fails the connection (closes with 1002 or 1007, or drops it), so a frame that breaks
//! one is a likely cause of the close that follows. frametap passes such frames on exactly as sent.

use super::codes::is_forbidden_on_wire;
use crate::event::{parse_close_payload, Frame, Opcode, Peer, Ts};

/// A frame that breaks RFC 6455.
#[derive(Clone, Debug)]
pub struct Violation {
    pub seq: u64,
    pub ts: Ts,
    pub from: Peer,
    /// What is wrong, as a phrase (`text that is not valid UTF-8`).
    pub what: String,
    /// The close code RFC 6455 has the receiver send for it (1002 Protocol Error, 1007 Invalid Payload Data).
    pub code: u16,
    /// The frame had RSV bits set (an extension's mark, such as permessage-deflate's RSV1).
    pub rsv_bits: bool,
}

/// Checks one frame from an endpoint. `in_message` is that endpoint's state: a fragmented data message has
/// started and not ended; it is updated here.
#[inline]
pub fn check(frame: &Frame, in_message: &mut bool) -> Option<Violation> {
    // The common case, on the relay's hot path: a whole binary frame outside a fragmented message.
    if frame.opcode == Opcode::Binary && frame.fin && frame.rsv == 0 && !*in_message {
        return None;
    }
    let (what, code) = find(frame, in_message)?;
    Some(Violation { seq: frame.seq, ts: frame.ts, from: frame.from, what, code, rsv_bits: frame.rsv != 0 })
}

fn find(frame: &Frame, in_message: &mut bool) -> Option<(String, u16)> {
    let opcode = frame.opcode;
    let started = *in_message;
    match opcode {
        Opcode::Text | Opcode::Binary => *in_message = !frame.fin,
        Opcode::Continuation if frame.fin => *in_message = false,
        _ => {}
    }
    if frame.rsv != 0 {
        return Some((
            format!("its RSV bits are {:03b}, but no extension was negotiated (frametap removes Sec-WebSocket-Extensions on both legs)", frame.rsv),
            1002,
        ));
    }
    if let Opcode::Reserved(n) = opcode {
        return Some((format!("it uses the reserved opcode {n:#x}"), 1002));
    }
    if opcode.is_control() {
        if !frame.fin {
            return Some((
                format!("it is a fragmented {} frame: control frames cannot be fragmented", opcode.name()),
                1002,
            ));
        }
        if frame.len > 125 {
            return Some((
                format!("it is a {} frame of {} bytes: control frames carry at most 125", opcode.name(), frame.len),
                1002,
            ));
        }
    }
    match opcode {
        Opcode::Continuation if !started => {
            return Some(("it is a continuation frame, but no fragmented message was in progress".into(), 1002))
        }
        Opcode::Text | Opcode::Binary if started => {
            return Some((
                format!("it starts a new {} message before the fragmented message in progress ended", opcode.name()),
                1002,
            ))
        }
        Opcode::Close => return close_payload(&frame.payload),
        _ => {}
    }
    frame.invalid_utf8().then(|| ("it is a text frame that is not valid UTF-8".into(), 1007))
}

/// UTF-8 checked across the fragments of a text message, however long: only a character split at a fragment
/// boundary is carried over (at most 3 bytes), never the message.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    /// The start of a character the previous fragment ended in.
    carry: Vec<u8>,
}

impl Utf8Stream {
    /// Checks the next fragment; `last`: the message ends with it (no character may be left unfinished).
    /// False once the message is not valid UTF-8.
    pub fn next(&mut self, fragment: &[u8], last: bool) -> bool {
        let mut rest = fragment;
        if let Some(&lead) = self.carry.first() {
            let need = match lead {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF4 => 4,
                _ => return false,
            };
            let take = (need - self.carry.len()).min(rest.len());
            self.carry.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.carry.len() < need {
                // Still unfinished: wrong already if what is there cannot start a character.
                return !last && std::str::from_utf8(&self.carry).err().is_some_and(|e| e.error_len().is_none());
            }
            if std::str::from_utf8(&self.carry).is_err() {
                return false;
            }
            self.carry.clear();
        }
        match std::str::from_utf8(rest) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() && !last => {
                self.carry = rest[e.valid_up_to()..].to_vec();
                true
            }
            Err(_) => false,
        }
    }
}

fn close_payload(payload: &[u8]) -> Option<(String, u16)> {
    if payload.len() == 1 {
        return Some((
            "it is a close frame with a 1-byte payload: a close payload is empty, or a 2-byte code and a reason".into(),
            1002,
        ));
    }
    match parse_close_payload(payload) {
        (Some(code), _) if is_forbidden_on_wire(code) => {
            Some((format!("it is a close frame with code {code}, which RFC 6455 does not allow on the wire"), 1002))
        }
        (Some(_), None) => Some(("it is a close frame whose reason is not valid UTF-8".into(), 1007)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(opcode: Opcode, fin: bool, rsv: u8, payload: &[u8]) -> Frame {
        let mut frame = Frame::whole(1, Ts::now(), 1, Peer::Client, opcode, Bytes::copy_from_slice(payload));
        frame.fin = fin;
        frame.rsv = rsv;
        frame
    }

    fn code_of(frames: &[Frame]) -> Vec<Option<u16>> {
        let mut in_message = false;
        frames.iter().map(|f| check(f, &mut in_message).map(|v| v.code)).collect()
    }

    #[test]
    fn valid_frames_pass() {
        let frames = [
            frame(Opcode::Text, true, 0, b"{}"),
            frame(Opcode::Text, false, 0, b"he"),
            frame(Opcode::Ping, true, 0, b""),
            frame(Opcode::Continuation, true, 0, b"llo"),
            frame(Opcode::Binary, true, 0, &[0xff]),
            frame(Opcode::Close, true, 0, b"\x03\xe8bye"),
            frame(Opcode::Close, true, 0, b""),
        ];
        assert_eq!(code_of(&frames), vec![None; 7]);
    }

    #[test]
    fn utf8_is_checked_across_fragments_carrying_only_a_split_character() {
        let check = |fragments: &[&[u8]]| {
            let mut stream = Utf8Stream::default();
            fragments.iter().enumerate().all(|(i, f)| stream.next(f, i + 1 == fragments.len()))
        };
        assert!(check(&[b"caf\xc3", b"\xa9 ok"]));
        assert!(check(&[b"\xe2", b"\x82", b"\xac"]), "a 3-byte character over three fragments");
        assert!(check(&[b"\xf0\x9f", b"", b"\x98\x80"]), "an empty fragment in between");
        assert!(!check(&[b"caf\xc3", b"\xc3"]), "a broken character");
        assert!(!check(&[b"ok \xff", b"x"]), "a byte that is never UTF-8");
        assert!(!check(&[b"caf", b"\xc3"]), "a character left unfinished at the end");
        assert!(!check(&[b"\xed\xa0", b"\x80"]), "a surrogate split over fragments");
    }

    #[test]
    fn each_rule_names_the_code_the_receiver_must_send() {
        let cases: [(&[Frame], u16); 9] = [
            (&[frame(Opcode::Text, true, 4, b"{}")], 1002),
            (&[frame(Opcode::Reserved(3), true, 0, b"")], 1002),
            (&[frame(Opcode::Ping, false, 0, b"")], 1002),
            (&[frame(Opcode::Pong, true, 0, &[0; 126])], 1002),
            (&[frame(Opcode::Continuation, true, 0, b"x")], 1002),
            (&[frame(Opcode::Text, true, 0, &[0xff, 0xfe])], 1007),
            (&[frame(Opcode::Close, true, 0, b"\x03")], 1002),
            (&[frame(Opcode::Close, true, 0, b"\x03\xed")], 1002),
            (&[frame(Opcode::Close, true, 0, b"\x03\xe8\xff")], 1007),
        ];
        for (frames, code) in cases {
            assert_eq!(code_of(frames), vec![Some(code)], "{frames:?}");
        }
        let interleaved = [frame(Opcode::Text, false, 0, b"a"), frame(Opcode::Binary, true, 0, b"b")];
        assert_eq!(code_of(&interleaved), vec![None, Some(1002)]);
    }
}
