//! The `note` record: frametap telling you something about a connection or the session, at a level.

use serde::{Deserialize, Serialize, Serializer};

use super::{ConnId, Ts};

/// A message from frametap about a connection or the session (cookies dropped, compression off, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn: Option<ConnId>,
    pub ts: Ts,
    pub level: NoteLevel,
    /// A stable, short identifier (`cookies-dropped`, `compression-off`, `message-too-big`, …;
    /// docs/capture-format.md lists them).
    pub code: String,
    pub message: String,
}

impl Note {
    /// A note with `code` at `level`, about connection `conn` (`None`: the session), dated `ts`.
    pub fn new(code: &str, level: NoteLevel, conn: Option<ConnId>, ts: Ts, message: impl Into<String>) -> Note {
        Note { conn, ts, level, code: code.to_owned(), message: message.into() }
    }

    /// An `info` note: something frametap did that changes what is seen, nothing wrong.
    pub fn info(code: &str, conn: Option<ConnId>, ts: Ts, message: impl Into<String>) -> Note {
        Note::new(code, NoteLevel::Info, conn, ts, message)
    }

    /// A `warn` note: something the user should know went differently than asked or recorded.
    pub fn warn(code: &str, conn: Option<ConnId>, ts: Ts, message: impl Into<String>) -> Note {
        Note::new(code, NoteLevel::Warn, conn, ts, message)
    }
}

/// How much a note matters: `info`, `warn` or `error` in the capture. A level this version does not know (one a
/// later frametap may write, or a hand-edited capture's) reads as [`NoteLevel::Other`] and is written back as it
/// was, so such a capture still reads, shows and converts unchanged; frametap treats it as `info`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum NoteLevel {
    Info,
    Warn,
    Error,
    /// A level other than the three, as written.
    Other(String),
}

impl NoteLevel {
    /// The level as the capture writes it.
    pub fn as_str(&self) -> &str {
        match self {
            NoteLevel::Info => "info",
            NoteLevel::Warn => "warn",
            NoteLevel::Error => "error",
            NoteLevel::Other(level) => level,
        }
    }

    /// True for `warn` and `error`: what the log shows even with `--quiet`, in colour.
    pub fn is_warning(&self) -> bool {
        matches!(self, NoteLevel::Warn | NoteLevel::Error)
    }
}

impl From<&str> for NoteLevel {
    fn from(level: &str) -> NoteLevel {
        match level {
            "info" => NoteLevel::Info,
            "warn" => NoteLevel::Warn,
            "error" => NoteLevel::Error,
            other => NoteLevel::Other(other.to_owned()),
        }
    }
}

impl From<String> for NoteLevel {
    fn from(level: String) -> NoteLevel {
        NoteLevel::from(level.as_str())
    }
}

impl Serialize for NoteLevel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for NoteLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_and_write_as_the_capture_has_them_unknown_ones_included() {
        for (json, level) in [
            ("\"info\"", NoteLevel::Info),
            ("\"warn\"", NoteLevel::Warn),
            ("\"error\"", NoteLevel::Error),
            ("\"debug\"", NoteLevel::Other("debug".into())),
            ("\"WARN\"", NoteLevel::Other("WARN".into())),
        ] {
            assert_eq!(serde_json::from_str::<NoteLevel>(json).unwrap(), level);
            assert_eq!(serde_json::to_string(&level).unwrap(), json);
        }
        let line = r#"{"kind":"note","conn":2,"ts":"2026-11-25T10:00:00.000000Z","level":"notice","code":"x-y","message":"m"}"#;
        let record: super::super::Record = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_string(&record).unwrap(), line, "an unknown level is written back as it was");
        assert!(!NoteLevel::Other("notice".into()).is_warning() && NoteLevel::Error.is_warning());
    }
}
