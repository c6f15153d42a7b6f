//! A streaming frame scanner: finds frame boundaries in a byte stream and collects unmasked payloads,
//! so the relay can forward bytes as they arrive while still recording whole frames.

use super::frame::{apply_mask, parse_header, FrameHeader};
use crate::event::Opcode;
use bytes::{Bytes, BytesMut};

/// A complete frame seen by the scanner.
#[derive(Debug, Clone)]
pub struct ScannedFrame {
    pub header: FrameHeader,
    /// The unmasked payload.
    pub payload: Bytes,
    /// True when the frame belongs to a text message (a text frame or one of its continuations).
    pub text_message: bool,
}

impl ScannedFrame {
    /// The frame's record, seen at `ts`, sent by `from` to the other end.
    pub fn into_record(
        self,
        conn: crate::event::ConnId,
        ts: crate::event::Ts,
        seq: u64,
        from: crate::event::Peer,
        relayed: bool,
    ) -> crate::event::Frame {
        crate::event::Frame {
            conn,
            ts,
            seq,
            from,
            to: from.other(),
            opcode: self.header.opcode,
            fin: self.header.fin,
            rsv: self.header.rsv,
            len: self.header.payload_len,
            payload: self.payload,
            text_message: self.text_message,
            relayed,
        }
    }
}

/// What one call to [`FrameScanner::step`] found.
#[derive(Debug)]
pub enum Step {
    /// Every byte that could be consumed was; more input is needed.
    NeedMore,
    /// A frame completed with the consumed bytes.
    Frame(ScannedFrame),
    /// The next frame (nothing of it consumed) would take a frame or message past the size limit.
    TooBig { header: FrameHeader, message_len: u64 },
}

enum State {
    Header,
    Payload { header: FrameHeader, remaining: u64, collected: BytesMut },
}

/// Scans one direction of a WebSocket stream.
pub struct FrameScanner {
    max_message: u64,
    state: State,
    message_len: u64,
    text_message: bool,
}

impl FrameScanner {
    /// `max_message` bounds single frames and reassembled messages alike.
    pub fn new(max_message: u64) -> Self {
        FrameScanner { max_message, state: State::Header, message_len: 0, text_message: false }
    }

    /// True when the scanner sits between frames.
    pub fn at_frame_boundary(&self) -> bool {
        matches!(self.state, State::Header)
    }

    /// Consumes as much of `input` as it can and says how many bytes it took and what it found.
    /// Consumed bytes may be forwarded as they are: a partial payload is fine, a `TooBig` header is never consumed.
    pub fn step(&mut self, input: &[u8]) -> (usize, Step) {
        let mut used = 0;
        if let State::Header = self.state {
            let Some(header) = parse_header(input) else {
                return (0, Step::NeedMore);
            };
            let message_len = match header.opcode {
                Opcode::Continuation => self.message_len.saturating_add(header.payload_len),
                _ => header.payload_len,
            };
            // Control frames are not messages: a limit below RFC 6455's 125 bytes for them would refuse a
            // conforming ping or close (the payload is still bounded, so memory is).
            let limit = if header.opcode.is_control() { self.max_message.max(125) } else { self.max_message };
            if message_len > limit {
                return (0, Step::TooBig { header, message_len });
            }
            match header.opcode {
                Opcode::Text | Opcode::Binary => {
                    self.message_len = header.payload_len;
                    self.text_message = header.opcode == Opcode::Text;
                }
                Opcode::Continuation => self.message_len = message_len,
                _ => {}
            }
            used = header.header_len;
            let capacity = header.payload_len.min(64 * 1024) as usize;
            self.state =
                State::Payload { header, remaining: header.payload_len, collected: BytesMut::with_capacity(capacity) };
        }
        let State::Payload { header, remaining, collected } = &mut self.state else { unreachable!() };
        let take = (*remaining).min((input.len() - used) as u64) as usize;
        if take > 0 {
            let offset = collected.len() as u64;
            let start = collected.len();
            collected.extend_from_slice(&input[used..used + take]);
            if let Some(key) = header.mask {
                apply_mask(&mut collected[start..], key, offset);
            }
            *remaining -= take as u64;
            used += take;
        }
        if *remaining > 0 {
            return (used, Step::NeedMore);
        }
        let header = *header;
        let payload = std::mem::take(collected).freeze();
        self.state = State::Header;
        let text_message = match header.opcode {
            Opcode::Text => true,
            Opcode::Continuation => self.text_message,
            _ => false,
        };
        if header.opcode.is_data() && header.fin {
            self.message_len = 0;
        }
        (used, Step::Frame(ScannedFrame { header, payload, text_message }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode_frame;

    fn scan_all(scanner: &mut FrameScanner, mut input: &[u8]) -> Vec<ScannedFrame> {
        let mut frames = Vec::new();
        loop {
            let (used, step) = scanner.step(input);
            input = &input[used..];
            match step {
                Step::Frame(f) => frames.push(f),
                Step::NeedMore => break,
                Step::TooBig { .. } => panic!("too big"),
            }
        }
        frames
    }

    #[test]
    fn byte_by_byte_input_gives_the_same_frames() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&encode_frame(false, Opcode::Text, "héllo ".as_bytes(), Some([9, 8, 7, 6])));
        stream.extend_from_slice(&encode_frame(true, Opcode::Ping, b"p", Some([1, 1, 1, 1])));
        stream.extend_from_slice(&encode_frame(true, Opcode::Continuation, b"world", Some([5, 4, 3, 2])));
        stream.extend_from_slice(&encode_frame(true, Opcode::Binary, &[0u8; 300], None));
        let mut scanner = FrameScanner::new(1 << 20);
        let mut frames = Vec::new();
        let mut pending = Vec::new();
        for byte in &stream {
            // As the relay does: unconsumed bytes (a partial header) stay buffered for the next read.
            pending.push(*byte);
            loop {
                let (used, step) = scanner.step(&pending);
                pending.drain(..used);
                match step {
                    Step::Frame(f) => frames.push(f),
                    Step::NeedMore => break,
                    Step::TooBig { .. } => panic!("too big"),
                }
            }
        }
        let whole = scan_all(&mut FrameScanner::new(1 << 20), &stream);
        assert_eq!(frames.len(), 4);
        assert_eq!(whole.len(), 4);
        assert_eq!(&frames[0].payload[..], "héllo ".as_bytes());
        assert!(frames[0].text_message && !frames[1].text_message && frames[2].text_message);
        assert_eq!(frames[1].header.opcode, Opcode::Ping);
        assert_eq!(&frames[2].payload[..], b"world");
        assert_eq!(frames[3].payload.len(), 300);
        for (a, b) in frames.iter().zip(&whole) {
            assert_eq!(a.payload, b.payload);
        }
    }

    #[test]
    fn limit_applies_to_frames_and_to_reassembled_messages() {
        let mut scanner = FrameScanner::new(10);
        let first = encode_frame(false, Opcode::Text, b"123456", None);
        let second = encode_frame(true, Opcode::Continuation, b"789012", None);
        let (used, step) = scanner.step(&first);
        assert_eq!(used, first.len());
        assert!(matches!(step, Step::Frame(_)));
        let (used, step) = scanner.step(&second);
        assert_eq!(used, 0, "the offending header is not consumed");
        assert!(matches!(step, Step::TooBig { message_len: 12, .. }));
        let big = encode_frame(true, Opcode::Binary, &[0; 11], None);
        assert!(matches!(FrameScanner::new(10).step(&big), (0, Step::TooBig { .. })));
        // Control frames up to RFC 6455's 125 bytes pass whatever the limit; past it they count too.
        let ping = encode_frame(true, Opcode::Ping, &[0; 125], None);
        assert!(matches!(FrameScanner::new(10).step(&ping), (_, Step::Frame(_))));
        let close = encode_frame(true, Opcode::Close, &[3, 232, b'x'], None);
        assert!(matches!(FrameScanner::new(1).step(&close), (_, Step::Frame(_))));
        let huge_ping = encode_frame(true, Opcode::Ping, &[0; 126], None);
        assert!(matches!(FrameScanner::new(10).step(&huge_ping), (0, Step::TooBig { .. })));
    }
}
