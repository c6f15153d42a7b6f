//! The compact form of a frame record (capture format version 2, `--capture-format compact`): a few header
//! bytes and the raw payload instead of a JSON line, for sessions too fast for JSON (docs/capture-format.md).
//!
//! ```text
//! 0xF7                          tag: a compact frame record (a JSON line starts with `{`)
//! u8   opcode | fin << 4 | text_message << 5 | relayed << 6
//! u8   from | to << 2 | rsv << 4          (peers: 0 client, 1 server, 2 proxy)
//! var  conn                               (unsigned LEB128)
//! var  seq
//! i64  ts, microseconds since 1970-01-01T00:00:00Z, little-endian
//! var  payload length N
//! N bytes of payload, unmasked
//! ```

use crate::event::{Frame, Opcode, Peer, Ts};
use bytes::Bytes;

/// The first byte of a compact frame record.
pub const TAG: u8 = 0xF7;

/// True when `frame` can be written compactly: its `len` is its payload's length (always, for relayed frames).
pub fn fits(frame: &Frame) -> bool {
    frame.len == frame.payload.len() as u64
}

/// Appends `frame` in compact form to `out` (see [`fits`]).
pub fn encode(frame: &Frame, out: &mut Vec<u8>) {
    encode_header(frame, out);
    out.extend_from_slice(&frame.payload);
}

/// Appends everything of `frame`'s compact form but the payload, which follows it.
pub fn encode_header(frame: &Frame, out: &mut Vec<u8>) {
    out.push(TAG);
    out.push(
        frame.opcode.as_u8() & 0x0F
            | u8::from(frame.fin) << 4
            | u8::from(frame.text_message) << 5
            | u8::from(frame.relayed) << 6,
    );
    out.push(peer_bits(frame.from) | peer_bits(frame.to) << 2 | (frame.rsv & 0x07) << 4);
    put_varint(out, frame.conn);
    put_varint(out, frame.seq);
    out.extend_from_slice(&frame.ts.micros().to_le_bytes());
    put_varint(out, frame.payload.len() as u64);
}

/// Why bytes that start with [`TAG`] are not a compact frame record.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ends inside the record.
    Truncated,
    /// The record's header is impossible; the message says which field.
    Corrupt(String),
}

/// Decodes the compact frame record at the start of `input` (which starts with [`TAG`]); returns the frame
/// and the number of bytes it took.
pub fn decode(input: &[u8]) -> Result<(Frame, usize), DecodeError> {
    let mut reader = Reader { input, pos: 1 };
    let flags = reader.byte()?;
    let peers = reader.byte()?;
    if flags & 0x80 != 0 || peers & 0x80 != 0 {
        return Err(DecodeError::Corrupt(format!("reserved bits set in the header ({flags:#04x} {peers:#04x})")));
    }
    let from = peer(peers & 0x03)?;
    let to = peer(peers >> 2 & 0x03)?;
    let conn = reader.varint("conn")?;
    let seq = reader.varint("seq")?;
    let micros = i64::from_le_bytes(reader.take(8)?.try_into().expect("8 bytes"));
    let ts = Ts::from_micros(micros).ok_or_else(|| {
        DecodeError::Corrupt(format!("timestamp {micros} µs since 1970 is outside the years 0–9999 a capture holds"))
    })?;
    let len = reader.varint("payload length")?;
    let remaining = (input.len() - reader.pos) as u64;
    if len > remaining {
        return Err(DecodeError::Truncated);
    }
    let payload = Bytes::copy_from_slice(reader.take(len as usize)?);
    let frame = Frame {
        conn,
        ts,
        seq,
        from,
        to,
        opcode: Opcode::from_u8(flags & 0x0F),
        fin: flags & 0x10 != 0,
        rsv: peers >> 4 & 0x07,
        len,
        payload,
        text_message: flags & 0x20 != 0,
        relayed: flags & 0x40 != 0,
    };
    Ok((frame, reader.pos))
}

fn peer_bits(peer: Peer) -> u8 {
    match peer {
        Peer::Client => 0,
        Peer::Server => 1,
        Peer::Proxy => 2,
    }
}

fn peer(bits: u8) -> Result<Peer, DecodeError> {
    match bits {
        0 => Ok(Peer::Client),
        1 => Ok(Peer::Server),
        2 => Ok(Peer::Proxy),
        _ => Err(DecodeError::Corrupt(format!("peer {bits} is none of client (0), server (1), proxy (2)"))),
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let bytes = self.input.get(self.pos..self.pos + n).ok_or(DecodeError::Truncated)?;
        self.pos += n;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self, field: &str) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7F);
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Corrupt(format!("{field} does not fit in 64 bits")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: Opcode, payload: &[u8]) -> Frame {
        let ts = Ts(chrono::DateTime::from_timestamp_micros(1_764_114_601_123_456).unwrap());
        Frame::whole(7, ts, 300, Peer::Server, opcode, Bytes::copy_from_slice(payload))
    }

    fn round_trip(frame: &Frame) -> Frame {
        let mut bytes = Vec::new();
        encode(frame, &mut bytes);
        let (decoded, used) = decode(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        decoded
    }

    fn json(frame: &Frame) -> String {
        serde_json::to_string(&crate::event::Record::Frame(frame.clone())).unwrap()
    }

    #[test]
    fn every_field_survives_the_compact_form() {
        let mut odd = frame(Opcode::Reserved(0xB), &[0, 0xff, 0x80]);
        odd.from = Peer::Proxy;
        odd.to = Peer::Client;
        odd.fin = false;
        odd.rsv = 5;
        odd.text_message = true;
        odd.relayed = false;
        odd.conn = u64::MAX;
        odd.seq = 1 << 40;
        let cases = [
            frame(Opcode::Text, "héllo".as_bytes()),
            frame(Opcode::Close, b"\x03\xe8bye"),
            frame(Opcode::Ping, b""),
            odd,
        ];
        for case in cases {
            assert_eq!(json(&round_trip(&case)), json(&case));
        }
        let big = frame(Opcode::Binary, &vec![9; 70_000]);
        assert_eq!(round_trip(&big).payload, big.payload);
    }

    #[test]
    fn a_small_frame_costs_a_few_bytes_more_than_its_payload() {
        let mut bytes = Vec::new();
        encode(&frame(Opcode::Binary, &[b'x'; 128]), &mut bytes);
        assert_eq!(bytes.len(), 128 + 16);
    }

    #[test]
    fn cut_records_are_truncated_and_impossible_headers_corrupt() {
        let mut bytes = Vec::new();
        encode(&frame(Opcode::Text, b"payload"), &mut bytes);
        for cut in 1..bytes.len() {
            assert_eq!(decode(&bytes[..cut]).unwrap_err(), DecodeError::Truncated, "cut at {cut}");
        }
        let mut bad_peer = bytes.clone();
        bad_peer[2] |= 0x03;
        assert!(matches!(decode(&bad_peer), Err(DecodeError::Corrupt(m)) if m.contains("peer 3")));
        let mut reserved = bytes.clone();
        reserved[1] |= 0x80;
        assert!(matches!(decode(&reserved), Err(DecodeError::Corrupt(_))));
        let mut far = bytes.clone();
        far[6..14].copy_from_slice(&600_000_000_000_000_000i64.to_le_bytes()); // the year 20983
        assert!(matches!(decode(&far), Err(DecodeError::Corrupt(m)) if m.contains("years 0–9999")));
        let endless = [TAG, 0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(matches!(decode(&endless), Err(DecodeError::Corrupt(m)) if m.contains("64 bits")));
    }
}
