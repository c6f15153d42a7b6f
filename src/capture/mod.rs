//! Capture files: [`crate::event::Record`]s as JSON Lines (version 1), or with frames in a compact binary
//! form (version 2, `--capture-format compact`), written by the pipeline and read by `inspect`, `replay`,
//! `convert`, `redact` and the UI (docs/capture-format.md).

pub(crate) mod compact;
mod consistency;
mod reader;
mod spill;
mod stream;
pub mod writeback;
mod writer;

pub use reader::{
    open_capture, parse_capture, parse_capture_bytes, read_capture, CaptureFile, Place, ProblemKind, ReadProblem,
};
pub use spill::{Spill, SpillReader, SpillSpan};
pub use stream::{CaptureStream, ReadEnd};
pub use writer::CaptureWriter;

/// The format version of a capture whose frames may be in compact form.
pub const COMPACT_VERSION: u32 = 2;
/// The newest capture format version this build reads.
pub const NEWEST_VERSION: u32 = COMPACT_VERSION;
/// The file extension frametap gives compact captures (JSON Lines captures get `.jsonl`).
pub const COMPACT_EXTENSION: &str = "ftcap";

/// How a capture file stores frames (`--capture-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CaptureFormat {
    /// One JSON object per line (format version 1): readable with jq, grep and an editor.
    #[default]
    Jsonl,
    /// Frames as a short binary header and the raw payload, everything else as JSON lines (format version
    /// 2): about half the bytes for small frames and no base64; read by every frametap command, and
    /// `frametap convert FILE.ftcap FILE.jsonl` turns it into JSON Lines.
    Compact,
}

impl CaptureFormat {
    /// The `meta.version` a capture in this format carries.
    pub fn version(self) -> u32 {
        match self {
            CaptureFormat::Jsonl => crate::event::FORMAT_VERSION,
            CaptureFormat::Compact => COMPACT_VERSION,
        }
    }

    /// The format of a capture whose `meta` record says `version`.
    pub fn of_version(version: u32) -> Self {
        if version >= COMPACT_VERSION {
            CaptureFormat::Compact
        } else {
            CaptureFormat::Jsonl
        }
    }

    /// The format a file's extension names (`.jsonl`, `.ftcap`), if it names one.
    pub fn named_by(path: &std::path::Path) -> Option<Self> {
        match crate::har::extension_of(path)?.as_str() {
            "jsonl" => Some(CaptureFormat::Jsonl),
            COMPACT_EXTENSION => Some(CaptureFormat::Compact),
            _ => None,
        }
    }

    /// The extension frametap gives such files.
    pub fn extension(self) -> &'static str {
        match self {
            CaptureFormat::Jsonl => "jsonl",
            CaptureFormat::Compact => COMPACT_EXTENSION,
        }
    }
}
