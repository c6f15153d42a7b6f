//! Fuzz target bodies, shared by the cargo-fuzz targets in `fuzz/` and the corpus replay in `tests/fuzz_corpus.rs`.
//!
//! Each function takes arbitrary bytes, runs one of frametap's parsers on them, and panics only when an
//! invariant breaks (a panic inside the parser is a bug too). See docs/reliability.md, "Fuzzing".

use crate::capture::parse_capture;
use crate::event::{Close, Frame, HttpRequest, HttpResponse, Opcode, Open, Peer, Record, Ts};
use crate::har::{har_json_to_records, write_har, HarDocument};
use crate::inspect::jwt::{decode_unverified, is_jwt_candidate, looks_like_jwt};
use crate::inspect::tokens::TokenTracker;
use crate::inspect::{AnalysisOptions, Analyzer, ProfileChoice};
use crate::redact::Redactor;
use crate::wire::{encode_frame, parse_header, FrameScanner, Step};
use bytes::Bytes;

/// One fuzz target's body: takes any bytes, panics only on a bug.
pub type TargetBody = fn(&[u8]);

/// The fuzz targets, by the name of their `fuzz/fuzz_targets/*.rs` file and corpus folder.
pub const TARGETS: &[(&str, TargetBody)] = &[
    ("capture_reader", capture_reader),
    ("har_import", har_import),
    ("jwt", jwt),
    ("genesys", genesys),
    ("frame_codec", frame_codec),
    ("redact", redact),
];

fn ts(millis: i64) -> Ts {
    Ts(chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + millis).expect("in range"))
}

fn frame(seq: u64, from: Peer, opcode: Opcode, payload: &[u8]) -> Frame {
    Frame::whole(1, ts(seq as i64 * 10), seq, from, opcode, Bytes::copy_from_slice(payload))
}

/// A text frame when `payload` is UTF-8, a binary frame otherwise.
fn data_frame(seq: u64, from: Peer, payload: &[u8]) -> Frame {
    let opcode = if std::str::from_utf8(payload).is_ok() { Opcode::Text } else { Opcode::Binary };
    frame(seq, from, opcode, payload)
}

fn open(path: &str) -> Open {
    Open {
        client_addr: Some("127.0.0.1:5000".into()),
        upstream: Some(format!("wss://webmessaging.mypurecloud.com{path}")),
        response: Some(HttpResponse { status: 101, headers: Vec::new(), body: None, body_base64: None }),
        handshake_ms: Some(12.0),
        ..Open::new(
            1,
            ts(0),
            HttpRequest {
                method: "GET".into(),
                path: path.into(),
                headers: vec![("Host".into(), "127.0.0.1".into()), ("Origin".into(), "https://example.com".into())],
            },
        )
    }
}

/// The capture reader: any bytes parse or fail cleanly (JSON lines, and compact frames after a version 2
/// `meta`); every record it returns serialises and reads back equal, a frame also through the compact form;
/// the analysis (what `frametap inspect` runs) takes every record.
pub fn capture_reader(data: &[u8]) {
    let whole = crate::capture::parse_capture_bytes(data);
    // The streaming reader holds about one record; read in small pieces, it must find what a read of the whole
    // input in one piece finds (records cut by a piece's end are the case the window's refills handle).
    for piece in [1, 7] {
        let pieces = crate::capture::CaptureStream::new(Dribble { bytes: data, step: piece }).collect();
        assert_eq!(
            read_summary(&pieces),
            read_summary(&whole),
            "reading in pieces of {piece} bytes differs from reading the input whole"
        );
    }
    let Ok(capture) = whole else { return };
    let _ = capture.connections();
    let mut analyzer = Analyzer::new(AnalysisOptions::default());
    for record in &capture.records {
        let mut line = Vec::new();
        crate::event::write_record_json(record, &mut line).expect("a read record serialises");
        let again: Record = serde_json::from_slice(&line).expect("a written record reads back");
        // Not `again == record`: timestamps are written with microseconds, so a finer one read from a
        // hand-made file is rounded once. From then on the written form is a fixed point.
        let mut line_again = Vec::new();
        crate::event::write_record_json(&again, &mut line_again).expect("a read record serialises");
        assert_eq!(
            String::from_utf8_lossy(&line_again),
            String::from_utf8_lossy(&line),
            "a record's written form changed on a read/write round trip"
        );
        if let Record::Frame(frame) = record {
            if crate::capture::compact::fits(frame) {
                let mut bytes = Vec::new();
                crate::capture::compact::encode(frame, &mut bytes);
                let (decoded, used) = crate::capture::compact::decode(&bytes).expect("an encoded frame decodes");
                assert_eq!(used, bytes.len(), "a compact frame is read to its end");
                let mut compact_line = Vec::new();
                crate::event::write_record_json(&Record::Frame(decoded), &mut compact_line).expect("serialises");
                assert_eq!(
                    String::from_utf8_lossy(&compact_line),
                    String::from_utf8_lossy(&line),
                    "a frame changed on a round trip through the compact form"
                );
            }
        }
        analyzer.observe(record, record.ts());
    }
}

/// Hands its bytes out at most `step` at a time, as a pipe or a slow disk may.
pub(crate) struct Dribble<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) step: usize,
}

impl std::io::Read for Dribble<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(out.len()).min(self.bytes.len());
        out[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// What a read of a capture found, as text: each record as written, each problem as reported, whether it ended
/// with its `end` record; or the error.
fn read_summary(read: &anyhow::Result<crate::capture::CaptureFile>) -> Vec<String> {
    let capture = match read {
        Ok(capture) => capture,
        Err(e) => return vec![format!("error: {e:#}")],
    };
    let records = capture.records.iter().map(|r| serde_json::to_string(r).expect("a record serialises"));
    let problems = capture.problems.iter().map(|p| format!("problem: {p}"));
    records.chain(problems).chain([format!("has_end: {}", capture.has_end)]).collect()
}

/// HAR import: any JSON imports or fails cleanly; what imports exports to a HAR that imports again.
pub fn har_import(data: &[u8]) {
    let Ok((records, _warnings)) = har_json_to_records(data) else { return };
    let mut exported = Vec::new();
    write_har(&HarDocument::new(&records), &mut exported, false).expect("a HAR of records serialises");
    let (again, _) = har_json_to_records(&exported).expect("frametap's own HAR of an imported capture imports again");
    // Compared as written (as in `capture_reader`): a sub-microsecond time is rounded once by the export.
    let written = |records: &[Record]| -> Vec<String> {
        records.iter().map(|r| serde_json::to_string(r).expect("a record serialises")).collect()
    };
    assert_eq!(written(&again), written(&records), "the lossless HAR round trip changed the records");
}

/// The JWT decoder and the token finder on a text frame (the input as is, and as a JSON field).
pub fn jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let decoded = decode_unverified(&text);
    if looks_like_jwt(&text) {
        // The cheap test reads the header: a decoding failure can only be in the claims or the signature.
        assert!(
            !matches!(decoded, Err(crate::inspect::jwt::JwtError::HeaderNotObject)),
            "looks_like_jwt accepted a token whose header is not an object"
        );
    }
    let _ = is_jwt_candidate(&text);
    let mut tracker = TokenTracker::new(vec!["openid".into()]);
    tracker.observe(&Record::Frame(data_frame(1, Peer::Client, data)), ts(0));
    let wrapped = serde_json::json!({ "token": text.as_ref(), "body": { "jwt": text.as_ref() } }).to_string();
    tracker.observe(&Record::Frame(data_frame(2, Peer::Server, wrapped.as_bytes())), ts(10));
    let _ = tracker.seen();
}

/// The Genesys profile through the analyzer: an `open`, then one frame per input line (`>` client, `<` server,
/// `#` a close frame whose payload is the rest of the line, otherwise alternating), then a `close`.
/// Runs twice: with `--profile genesys`, and with `auto` (detection from the frames).
pub fn genesys(data: &[u8]) {
    for profile in [ProfileChoice::Genesys, ProfileChoice::Auto] {
        let mut analyzer = Analyzer::new(AnalysisOptions { profile, require_scopes: vec!["openid".into()] });
        let mut observe = |record: Record, at: Ts| analyzer.observe(&record, at);
        observe(Record::from(open("/v1?deploymentId=0b7f6a2e-1111-4222-8333-444455556666")), ts(0));
        let mut seq = 0;
        let mut close_code = None;
        for (index, line) in data.split(|&b| b == b'\n').enumerate() {
            seq += 1;
            let (from, body) = match line.first() {
                Some(b'>') => (Peer::Client, &line[1..]),
                Some(b'<') => (Peer::Server, &line[1..]),
                _ if index % 2 == 0 => (Peer::Client, line),
                _ => (Peer::Server, line),
            };
            let record = match body.strip_prefix(b"#") {
                Some(payload) => {
                    close_code = close_code.or(crate::event::parse_close_payload(payload).0);
                    frame(seq, from, Opcode::Close, payload)
                }
                None => data_frame(seq, from, body),
            };
            observe(Record::Frame(record), ts(seq as i64 * 10));
        }
        let close = Close {
            conn: 1,
            ts: ts(seq as i64 * 10 + 5),
            initiator: Peer::Server,
            initiator_unknown: false,
            code: close_code,
            reason: None,
            clean: close_code.is_some(),
            dropped_by: None,
            duration_ms: seq as f64 * 10.0 + 5.0,
            detail: None,
        };
        let derived = observe(Record::Close(close), ts(seq as i64 * 10 + 5));
        assert!(derived.iter().any(|r| matches!(r, Record::Diagnosis(_))), "every close gets a diagnosis");
    }
}

/// A tiny deterministic generator for chunk sizes, seeded from the input.
struct Chunker(u32);

impl Chunker {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        1 + (self.0 % 23) as usize
    }
}

/// Scans `stream` as the relay does, fed `chunks` at a time: unconsumed bytes stay buffered for the next read.
/// Returns the frames (header, payload) and whether a `TooBig` stopped it.
fn scan_chunked(stream: &[u8], max_message: u64, mut chunk: impl FnMut() -> usize) -> (Vec<(u64, Bytes)>, bool) {
    let mut scanner = FrameScanner::new(max_message);
    let mut frames = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut consumed_total = 0usize;
    while fed < stream.len() {
        let take = chunk().min(stream.len() - fed);
        pending.extend_from_slice(&stream[fed..fed + take]);
        fed += take;
        let mut pos = 0;
        loop {
            let available = pending.len() - pos;
            let (used, step) = scanner.step(&pending[pos..]);
            assert!(used <= available, "the scanner consumed {used} bytes of {available}");
            pos += used;
            consumed_total += used;
            assert!(consumed_total <= fed, "consumed more than was fed");
            match step {
                Step::Frame(f) => {
                    assert!(used > 0, "a frame completed without consuming anything (the relay would spin)");
                    assert_eq!(f.payload.len() as u64, f.header.payload_len, "payload length differs from the header");
                    frames.push((f.header.payload_len, f.payload));
                }
                Step::NeedMore => break,
                Step::TooBig { header, message_len } => {
                    assert_eq!(used, 0, "a TooBig header must not be consumed");
                    assert!(message_len > max_message && message_len >= header.payload_len);
                    return (frames, true);
                }
            }
        }
        // As the relay does: consumed bytes are dropped once per read, a partial header stays buffered.
        pending.drain(..pos);
    }
    (frames, false)
}

/// The frame codec: `parse_header` on the raw input; the scanner over the input split into arbitrary chunks
/// gives the same frames as over the whole input, consuming monotonically and never more than given; a frame
/// built with `encode_frame` from the input scans back equal.
pub fn frame_codec(data: &[u8]) {
    if let Some(header) = parse_header(data) {
        assert!(header.header_len <= data.len() && header.header_len <= crate::wire::MAX_HEADER_LEN);
    }
    let (Some(&limit), Some(&seed)) = (data.first(), data.get(1)) else { return };
    let stream = &data[2..];
    let max_message = if limit == 0 { u64::MAX } else { u64::from(limit) * 8 };
    let whole = scan_chunked(stream, max_message, || usize::MAX);
    let mut chunker = Chunker(u32::from(seed).wrapping_mul(2654435761) | 1);
    let chunked = scan_chunked(stream, max_message, || chunker.next());
    assert_eq!(whole, chunked, "chunking changed what the scanner found");
    let one_byte = scan_chunked(stream, max_message, || 1);
    assert_eq!(whole, one_byte, "byte-by-byte input changed what the scanner found");

    let opcode = Opcode::from_u8(seed & 0x0F);
    let mask = (seed & 0x10 != 0).then_some([limit, seed, 0x5a, 0xa5]);
    let fin = seed & 0x20 != 0;
    let encoded = encode_frame(fin, opcode, stream, mask);
    let header = parse_header(&encoded).expect("an encoded frame has a whole header");
    assert_eq!((header.fin, header.rsv, header.opcode, header.mask), (fin, 0, opcode, mask));
    assert_eq!(header.payload_len, stream.len() as u64);
    assert_eq!(header.header_len + stream.len(), encoded.len());
    let mut scanner = FrameScanner::new(u64::MAX);
    match scanner.step(&encoded) {
        (used, Step::Frame(f)) => {
            assert_eq!(used, encoded.len());
            assert_eq!(&f.payload[..], stream, "an encoded frame scanned back different");
        }
        (_, other) => panic!("an encoded frame did not scan back: {other:?}"),
    }
}

/// The redactor on a frame (the input as its payload) and on every record the input holds as capture lines:
/// nothing panics, a JSON payload stays valid JSON, and redacting again changes nothing.
pub fn redact(data: &[u8]) {
    let mut redactor = Redactor::with_key(b"fuzz");
    let original = data_frame(1, Peer::Client, data);
    let was_json = original.opcode == Opcode::Text && serde_json::from_slice::<serde_json::Value>(data).is_ok();
    let Record::Frame(redacted) = redactor.redact(Record::Frame(original)) else { panic!("a frame stays a frame") };
    assert_eq!(redacted.len, redacted.payload.len() as u64, "len follows the new payload");
    if was_json {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&redacted.payload) {
            panic!("redaction broke JSON ({e}): {:?}", String::from_utf8_lossy(&redacted.payload));
        }
    }
    if was_json {
        // Only for JSON: in free text a known secret replaced inside a longer token-like word can leave a word
        // that a second pass masks further (more masking, never less; see docs/reliability.md, "Fuzzing").
        let Record::Frame(twice) = redactor.redact(Record::Frame(redacted.clone())) else { unreachable!() };
        assert_eq!(twice.payload, redacted.payload, "redacting a redacted JSON frame changed it");
    }

    let text = String::from_utf8_lossy(data);
    if let Ok(capture) = parse_capture(&text) {
        for record in capture.records {
            let out = redactor.redact(record);
            let mut line = Vec::new();
            crate::event::write_record_json(&out, &mut line).expect("a redacted record serialises");
            serde_json::from_slice::<Record>(&line).expect("a redacted record reads back");
        }
    }
}
