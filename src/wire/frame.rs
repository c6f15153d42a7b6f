//! Frame headers: parse, encode, and the XOR mask, per RFC 6455 §5.2.

use crate::event::Opcode;
use bytes::{BufMut, Bytes, BytesMut};

/// The longest possible frame header: 2 + 8 (64-bit length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    /// RSV1..RSV3 as a 3-bit number.
    pub rsv: u8,
    pub opcode: Opcode,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
    /// Bytes the header itself took.
    pub header_len: usize,
}

/// Parses a frame header from the start of `buf`; `None` when more bytes are needed.
/// Every header parses: odd values (reserved opcodes, RSV bits, oversized control frames) are the receiver's to judge.
pub fn parse_header(buf: &[u8]) -> Option<FrameHeader> {
    if buf.len() < 2 {
        return None;
    }
    let (b0, b1) = (buf[0], buf[1]);
    let masked = b1 & 0x80 != 0;
    let (payload_len, mut pos) = match b1 & 0x7F {
        126 => {
            if buf.len() < 4 {
                return None;
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4)
        }
        127 => {
            if buf.len() < 10 {
                return None;
            }
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(n), 10)
        }
        n => (n as u64, 2),
    };
    let mask = if masked {
        if buf.len() < pos + 4 {
            return None;
        }
        let key = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
        pos += 4;
        Some(key)
    } else {
        None
    };
    Some(FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x7,
        opcode: Opcode::from_u8(b0 & 0x0F),
        mask,
        payload_len,
        header_len: pos,
    })
}

/// XORs `data` with `mask`, as if `data` started `offset` bytes into the payload.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    let key = [mask[shift], mask[(shift + 1) % 4], mask[(shift + 2) % 4], mask[(shift + 3) % 4]];
    let word = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let v = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i];
    }
}

/// A fresh random masking key (frames towards a server must be masked).
pub fn random_mask() -> [u8; 4] {
    rand::random()
}

/// Encodes one frame with the given payload; masks it when `mask` is given.
pub fn encode_frame(fin: bool, opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Bytes {
    let mut out = BytesMut::with_capacity(MAX_HEADER_LEN + payload.len());
    out.put_u8(if fin { 0x80 } else { 0 } | opcode.as_u8());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.put_u8(mask_bit | n as u8),
        n if n <= u16::MAX as usize => {
            out.put_u8(mask_bit | 126);
            out.put_u16(n as u16);
        }
        n => {
            out.put_u8(mask_bit | 127);
            out.put_u64(n as u64);
        }
    }
    let start = out.len() + mask.map_or(0, |_| 4);
    if let Some(key) = mask {
        out.put_slice(&key);
    }
    out.put_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
    out.freeze()
}

/// The payload of a close frame: code then UTF-8 reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// Encodes a close frame with `code` and `reason`.
pub fn encode_close(code: u16, reason: &str, mask: Option<[u8; 4]>) -> Bytes {
    encode_frame(true, Opcode::Close, &close_payload(code, reason), mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_for_every_length_form() {
        for len in [0usize, 125, 126, 65535, 65536, 1 << 20] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let payload = vec![b'x'; len];
                let frame = encode_frame(false, Opcode::Binary, &payload, mask);
                let header = parse_header(&frame).unwrap();
                assert_eq!(header.payload_len, len as u64);
                assert_eq!(header.mask, mask);
                assert!(!header.fin);
                assert_eq!(header.opcode, Opcode::Binary);
                assert_eq!(header.header_len + len, frame.len());
                let mut body = frame[header.header_len..].to_vec();
                if let Some(key) = mask {
                    apply_mask(&mut body, key, 0);
                }
                assert_eq!(body, payload);
                for cut in 0..header.header_len {
                    assert_eq!(parse_header(&frame[..cut]), None, "len {len} cut {cut}");
                }
            }
        }
    }

    #[test]
    fn masking_with_an_offset_matches_masking_at_once() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let data: Vec<u8> = (0..37u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut parts = data.clone();
        let (a, b) = parts.split_at_mut(7);
        apply_mask(a, key, 0);
        apply_mask(b, key, 7);
        assert_eq!(parts, whole);
    }

    #[test]
    fn rsv_bits_and_reserved_opcodes_are_kept() {
        let header = parse_header(&[0x80 | 0x40 | 0x3, 0x00]).unwrap();
        assert_eq!(header.rsv, 4);
        assert_eq!(header.opcode, Opcode::Reserved(3));
    }
}
