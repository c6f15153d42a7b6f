//! HAR 1.2 in and out: a capture's connections as Chrome-style WebSocket entries, and HARs from Chrome, mitmproxy and HTTP Toolkit as captures.
//!
//! Export ([`capture_to_har`]) writes one entry per connection with `_resourceType: "websocket"` and Chrome's
//! `_webSocketMessages`, plus `_frametap` extension fields holding everything Chrome has no field for, so that
//! [`har_to_records`] gives back the very same records. Import of a foreign HAR builds a capture from what that
//! tool recorded and adds a `note` record per connection saying what the tool leaves out (docs/replay.md).

mod answers;
mod close;
mod export;
mod extended_connect;
mod import;
mod lossless;
mod times;

pub use answers::{AnswerKey, RecordedAnswer, RecordedAnswers};
pub use export::capture_to_har;
pub use import::{har_to_records, HarSource};

use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;

/// The name of the extension field (on the log, on each entry and on each message) that carries frametap's data.
pub const EXTENSION: &str = "_frametap";
/// The `format` value in `log._frametap` of a HAR that frametap exported.
pub const HAR_FORMAT_NAME: &str = "frametap-har";
/// The version of the `_frametap` fields this build writes and reads.
pub const HAR_FORMAT_VERSION: u32 = 1;

/// True when `path` names a HAR file (`.har`, or mitmproxy's zlib-compressed `.zhar`).
pub fn is_har_path(path: &Path) -> bool {
    matches!(extension_of(path).as_deref(), Some("har" | "zhar"))
}

/// True when `path` names a zlib-compressed HAR (`.zhar`, as mitmproxy's `hardump` writes it).
pub fn is_zhar_path(path: &Path) -> bool {
    extension_of(path).as_deref() == Some("zhar")
}

pub(crate) fn extension_of(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

/// Reads a HAR file: plain JSON, or zlib-compressed JSON (`.zhar`, or any file starting with a zlib header).
pub fn read_har(path: &Path) -> Result<Value> {
    let raw = std::fs::read(path).with_context(|| format!("could not read the HAR {}", path.display()))?;
    let looks_zlib = raw.len() >= 2 && raw[0] == 0x78 && u16::from_be_bytes([raw[0], raw[1]]) % 31 == 0;
    let json = if is_zhar_path(path) || looks_zlib {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(|e| {
            if looks_zlib {
                // A zlib header, then a stream that breaks off or goes wrong: a .zhar cut short, not plain JSON.
                anyhow!("{}: the zlib-compressed HAR is corrupt or was cut off ({e}): save it again", path.display())
            } else {
                anyhow!(
                    "{}: not a zlib-compressed HAR ({e}); a .zhar must be mitmproxy's zlib-compressed HAR: \
                     rename it to .har if it is plain JSON",
                    path.display()
                )
            }
        })?;
        out
    } else {
        raw
    };
    serde_json::from_slice(&json).map_err(|e| {
        anyhow!(
            "{}: not valid JSON at line {}, column {} ({}): the HAR is corrupt or was cut off; save it again",
            path.display(),
            e.line(),
            e.column(),
            e
        )
    })
}

/// Reads a capture, or a HAR (`.har`, `.zhar`) imported as `frametap convert` would, with the import's warnings:
/// `inspect`, `ui FILE` and `replay` take either.
pub fn read_capture_or_har(path: &Path) -> Result<(crate::capture::CaptureFile, Vec<String>)> {
    read_imported(path, false).map(|(capture, warnings, _)| (capture, warnings))
}

/// [`read_capture_or_har`], plus a HAR's plain HTTP answers (none for a capture, which records only WebSockets).
pub fn read_for_replay(path: &Path) -> Result<(crate::capture::CaptureFile, RecordedAnswers)> {
    read_imported(path, true).map(|(capture, _, answers)| (capture, answers))
}

fn read_imported(
    path: &Path,
    with_answers: bool,
) -> Result<(crate::capture::CaptureFile, Vec<String>, RecordedAnswers)> {
    if !is_har_path(path) {
        return Ok((crate::capture::read_capture(path)?, Vec::new(), RecordedAnswers::default()));
    }
    let har = read_har(path)?;
    let (records, warnings) = har_to_records(&har).with_context(|| path.display().to_string())?;
    let has_end = matches!(records.last(), Some(crate::event::Record::End(_)));
    let capture = crate::capture::CaptureFile { records, problems: Vec::new(), has_end };
    let answers = if with_answers { RecordedAnswers::from_har(&har) } else { RecordedAnswers::default() };
    Ok((capture, warnings, answers))
}

/// The records of a capture, read as they come, or of a HAR, imported whole: what commands that go through a file
/// once (`inspect`, `redact`) read, so that a capture of any size costs them only what they keep of it.
pub enum RecordSource {
    Capture(Box<crate::capture::CaptureStream<std::fs::File>>),
    Har { records: std::vec::IntoIter<crate::event::Record>, has_end: bool },
}

/// Opens a capture, or imports a HAR (`.har`, `.zhar`) as `frametap convert` would, with the import's warnings.
pub fn open_capture_or_har(path: &Path) -> Result<(RecordSource, Vec<String>)> {
    if !is_har_path(path) {
        return Ok((RecordSource::Capture(Box::new(crate::capture::open_capture(path)?)), Vec::new()));
    }
    let (capture, warnings) = read_capture_or_har(path)?;
    Ok((RecordSource::Har { records: capture.records.into_iter(), has_end: capture.has_end }, warnings))
}

impl RecordSource {
    /// The next record, or `None` at the end (see [`crate::capture::CaptureStream::next_record`]).
    pub fn next_record(&mut self) -> Result<Option<crate::event::Record>> {
        match self {
            RecordSource::Capture(stream) => stream.next_record(),
            RecordSource::Har { records, .. } => Ok(records.next()),
        }
    }

    /// What the read found besides the records (see [`crate::capture::CaptureStream::finish`]).
    pub fn finish(self) -> Result<crate::capture::ReadEnd> {
        match self {
            RecordSource::Capture(stream) => stream.finish(),
            RecordSource::Har { has_end, .. } => Ok(crate::capture::ReadEnd { problems: Vec::new(), has_end }),
        }
    }
}

/// Serialises a HAR for writing: pretty JSON, zlib-compressed when `zlib` is set (for `.zhar`).
pub fn encode_har(har: &Value, zlib: bool) -> Result<Vec<u8>> {
    let json = serde_json::to_vec_pretty(har).context("could not serialise the HAR")?;
    if !zlib {
        return Ok(json);
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&json).context("could not compress the HAR")?;
    encoder.finish().context("could not compress the HAR")
}
