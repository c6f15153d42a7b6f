//! HAR 1.2 in and out: a capture's connections as Chrome-style WebSocket entries, and HARs from Chrome, mitmproxy,
//! HTTP Toolkit, Playwright (a .har, or its .zip with attached messages) and Firefox as captures.
//!
//! Export ([`capture_to_har`]) writes one entry per connection with `_resourceType: "websocket"` and Chrome's
//! `_webSocketMessages`, plus `_frametap` extension fields holding everything Chrome has no field for, so that
//! [`har_to_records`] gives back the very same records. Import of a foreign HAR builds a capture from what that
//! tool recorded and adds a `note` record per connection saying what the tool leaves out (docs/replay.md).

mod answers;
mod attached;
mod close;
mod document;
mod export;
mod export_http;
mod export_messages;
mod extended_connect;
mod import;
mod imported;
mod json;
mod lossless;
mod source;
mod spilled;
mod times;

pub use answers::{AnswerKey, RecordedAnswer, RecordedAnswers};
pub use export::{capture_to_har, HarDocument};
pub use import::{har_json_to_records, har_to_records};
pub use imported::ImportedRecords;
pub use source::HarSource;
pub use spilled::{ByConnection, SpilledConnections};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;

/// The name of the extension field (on the log, on each entry and on each message) that carries frametap's data.
pub const EXTENSION: &str = "_frametap";
/// The `format` value in `log._frametap` of a HAR that frametap exported.
pub const HAR_FORMAT_NAME: &str = "frametap-har";
/// The version of the `_frametap` fields this build writes and reads.
pub const HAR_FORMAT_VERSION: u32 = 1;

/// True when `path` names a HAR file to write (`.har`, or mitmproxy's zlib-compressed `.zhar`).
pub fn is_har_path(path: &Path) -> bool {
    matches!(extension_of(path).as_deref(), Some("har" | "zhar"))
}

/// True when `path` names a HAR to read: a HAR file ([`is_har_path`]), or the `.zip` Playwright's `recordHar` writes
/// (the HAR and the files it keeps messages in).
pub fn is_har_to_read(path: &Path) -> bool {
    is_har_path(path) || extension_of(path).as_deref() == Some("zip")
}

/// True when `path` names a zlib-compressed HAR (`.zhar`, as mitmproxy's `hardump` writes it).
pub fn is_zhar_path(path: &Path) -> bool {
    extension_of(path).as_deref() == Some("zhar")
}

pub(crate) fn extension_of(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

/// Reads a HAR file as a `serde_json::Value`: plain JSON, zlib-compressed JSON (`.zhar`, or any file starting with
/// a zlib header), or the HAR in a zip archive. The import reads the JSON text instead ([`import_har_file`]), which
/// costs a few times less.
pub fn read_har(path: &Path) -> Result<Value> {
    let HarFile { json, .. } = read_har_file(path)?;
    serde_json::from_slice(&json).map_err(|e| document::parse_error(path, &json, &e))
}

/// A HAR file as read: its JSON text, and the zip archive it came in (whose other files hold Playwright's attached
/// messages), if it came in one.
struct HarFile {
    json: Vec<u8>,
    zip: Option<attached::Zip>,
}

/// A HAR file's JSON text, decompressed when it is zlib-compressed (`.zhar`, or any file starting with a zlib
/// header), or taken out of its zip archive.
fn read_har_file(path: &Path) -> Result<HarFile> {
    crate::paths::refuse_folder_to_read(path)?;
    let raw = std::fs::read(path).with_context(|| format!("could not read the HAR {}", path.display()))?;
    if attached::is_zip(&raw) {
        let (json, archive) = attached::har_in_zip(raw, path)?;
        return Ok(HarFile { json, zip: Some(archive) });
    }
    if extension_of(path).as_deref() == Some("zip") {
        bail!("{}: not a zip archive (it does not start as one): save the HAR again", path.display());
    }
    let looks_zlib = raw.len() >= 2 && raw[0] == 0x78 && u16::from_be_bytes([raw[0], raw[1]]) % 31 == 0;
    if is_zhar_path(path) || looks_zlib {
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
        Ok(HarFile { json: out, zip: None })
    } else {
        Ok(HarFile { json: raw, zip: None })
    }
}

/// A HAR file imported as `frametap convert` imports it.
pub struct ImportedHar {
    /// Its records, made as they are read: the file and what was parsed of it are no longer held.
    pub records: ImportedRecords,
    /// What was skipped or odd.
    pub warnings: Vec<String>,
    /// The tool that saved it.
    pub source: HarSource,
    /// Its plain HTTP answers, when asked for.
    pub answers: RecordedAnswers,
}

/// Imports a HAR file: its JSON text is read whole (a HAR is one JSON document) and parsed into the fields the
/// import reads, borrowing their text from it ([`document::Har`]); the connections' records are made from those,
/// then the text and the parse are dropped, and what the analysis derives is made as the records are read
/// ([`ImportedRecords`]). `with_answers`: also read its plain HTTP answers, for `replay serve --forward`.
pub fn import_har_file(path: &Path, with_answers: bool) -> Result<ImportedHar> {
    let HarFile { json, zip } = read_har_file(path)?;
    let har = document::Har::parse(&json, path)?;
    let place = match zip {
        Some(archive) => attached::Place::Zip(archive),
        None => attached::Place::Folder(
            path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned(),
        ),
    };
    let attached = attached::AttachedFiles::read(&har, place);
    let (records, warnings) = import::import(&har, &attached).with_context(|| path.display().to_string())?;
    let answers = if with_answers { RecordedAnswers::of(&har) } else { RecordedAnswers::default() };
    Ok(ImportedHar { records, warnings, source: HarSource::detect(&har), answers })
}

/// The records of a capture, read as they come, or of a HAR, imported as they are read ([`ImportedRecords`]): what
/// commands that go through a file once (`inspect`, `redact`) read, so that a capture of any size costs them only
/// what they keep of it.
pub enum RecordSource {
    Capture(Box<crate::capture::CaptureStream<std::fs::File>>),
    Har { records: Box<ImportedRecords>, has_end: bool },
}

/// Opens a capture, or imports a HAR (`.har`, `.zhar`) as `frametap convert` would, with the import's warnings:
/// `inspect`, `redact`, `ui FILE` take either.
pub fn open_capture_or_har(path: &Path) -> Result<(RecordSource, Vec<String>)> {
    open_imported(path, false).map(|(source, warnings, _)| (source, warnings))
}

/// [`open_capture_or_har`] for the replay commands: with a HAR's plain HTTP answers (none for a capture, which records
/// only WebSockets), without the import's warnings.
pub fn open_for_replay(path: &Path) -> Result<(RecordSource, RecordedAnswers)> {
    open_imported(path, true).map(|(source, _, answers)| (source, answers))
}

fn open_imported(path: &Path, with_answers: bool) -> Result<(RecordSource, Vec<String>, RecordedAnswers)> {
    if !is_har_to_read(path) {
        let stream = Box::new(crate::capture::open_capture(path)?);
        return Ok((RecordSource::Capture(stream), Vec::new(), RecordedAnswers::default()));
    }
    let ImportedHar { records, warnings, answers, .. } = import_har_file(path, with_answers)?;
    let has_end = records.has_end();
    Ok((RecordSource::Har { records: Box::new(records), has_end }, warnings, answers))
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

/// Writes a HAR to `out` as it is serialised (pretty JSON), zlib-compressed when `zlib` is set (for `.zhar`): no copy
/// of the document is made, in memory or compressed.
pub fn write_har(har: &HarDocument, out: impl Write, zlib: bool) -> std::io::Result<()> {
    if !zlib {
        let mut out = std::io::BufWriter::new(out);
        serde_json::to_writer_pretty(&mut out, har)?;
        return out.flush();
    }
    let encoder = flate2::write::ZlibEncoder::new(out, flate2::Compression::best());
    let mut buffered = std::io::BufWriter::new(encoder);
    serde_json::to_writer_pretty(&mut buffered, har)?;
    buffered.into_inner().map_err(std::io::IntoInnerError::into_error)?.finish()?.flush()
}
