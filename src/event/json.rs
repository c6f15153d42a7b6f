//! Writes records as JSON lines fast: frames (the bulk of every capture) by hand, straight into the output
//! buffer with no intermediate values; everything else through serde. Tests pin both paths to the same bytes.

use super::{Frame, Record};
use base64::Engine as _;

/// Appends `record` as one JSON object (no newline) to `out`.
pub fn write_record_json(record: &Record, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match record {
        Record::Frame(frame) => write_frame(frame, out),
        other => serde_json::to_writer(out, other),
    }
}

fn write_frame(frame: &Frame, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let view = frame.payload_view();
    let mut ts = [0u8; 27];
    out.extend_from_slice(br#"{"kind":"frame","conn":"#);
    write_int(out, frame.conn);
    out.extend_from_slice(br#","ts":"#);
    if frame.ts.format_fixed(&mut ts) {
        out.push(b'"');
        out.extend_from_slice(&ts);
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, &frame.ts)?;
    }
    out.extend_from_slice(br#","seq":"#);
    write_int(out, frame.seq);
    for (key, peer) in [(&br#","from":""#[..], frame.from), (&br#"","to":""#[..], frame.to)] {
        out.extend_from_slice(key);
        out.extend_from_slice(peer.as_str().as_bytes());
    }
    out.extend_from_slice(br#"","opcode":""#);
    out.extend_from_slice(frame.opcode.name().as_bytes());
    out.extend_from_slice(if frame.fin { br#"","fin":true"# } else { br#"","fin":false"# });
    if frame.rsv != 0 {
        out.extend_from_slice(br#","rsv":"#);
        write_int(out, frame.rsv as u64);
    }
    out.extend_from_slice(br#","len":"#);
    write_int(out, frame.len);
    if let Some(text) = view.text {
        out.extend_from_slice(br#","text":"#);
        serde_json::to_writer(&mut *out, text)?;
    }
    if let Some(bytes) = view.base64 {
        out.extend_from_slice(br#","base64":""#);
        let start = out.len();
        out.resize(start + base64::encoded_len(bytes.len(), true).unwrap_or(0), 0);
        let written = base64::engine::general_purpose::STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
        out.truncate(start + written);
        out.push(b'"');
    }
    if let Some(code) = view.code {
        out.extend_from_slice(br#","code":"#);
        write_int(out, code as u64);
    }
    if let Some(reason) = &view.reason {
        out.extend_from_slice(br#","reason":"#);
        serde_json::to_writer(&mut *out, reason)?;
    }
    if frame.text_message_field() {
        out.extend_from_slice(br#","text_message":true"#);
    }
    if frame.invalid_utf8() {
        out.extend_from_slice(br#","invalid_utf8":true"#);
    }
    if !frame.relayed {
        out.extend_from_slice(br#","relayed":false"#);
    }
    out.push(b'}');
    Ok(())
}

fn write_int(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Opcode, Peer, Ts};
    use bytes::Bytes;

    fn frame(opcode: Opcode, fin: bool, payload: &[u8], text_message: bool, relayed: bool, rsv: u8) -> Frame {
        Frame {
            conn: 12,
            ts: Ts::now(),
            seq: 345,
            from: Peer::Server,
            to: Peer::Client,
            opcode,
            fin,
            rsv,
            len: payload.len() as u64,
            payload: Bytes::copy_from_slice(payload),
            text_message,
            relayed,
        }
    }

    #[test]
    fn the_fast_writer_matches_serde_byte_for_byte() {
        let cases = [
            frame(Opcode::Text, true, "quote \" backslash \\ newline \n tab \t ü 😀 \u{1}".as_bytes(), true, true, 0),
            frame(Opcode::Text, true, &[0xff, 0x00], true, true, 0),
            frame(Opcode::Binary, true, &[0, 1, 2, 3, 4, 250], false, false, 4),
            frame(Opcode::Continuation, false, b"more", true, true, 0),
            frame(Opcode::Continuation, true, b"\xe2\x82", true, true, 0),
            frame(Opcode::Close, true, b"\x03\xe8bye \"now\"", false, true, 0),
            frame(Opcode::Close, true, b"\x03\xe8\xff", false, true, 0),
            frame(Opcode::Close, true, b"", false, true, 0),
            frame(Opcode::Close, true, b"\x03", false, true, 0),
            frame(Opcode::Ping, true, b"", false, true, 0),
            frame(Opcode::Pong, true, b"p", false, true, 0),
            frame(Opcode::Reserved(5), true, b"r", false, true, 0),
        ];
        for case in cases {
            let record = Record::Frame(case);
            let mut fast = Vec::new();
            write_record_json(&record, &mut fast).unwrap();
            let serde = serde_json::to_vec(&record).unwrap();
            assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&serde));
        }
    }
}
