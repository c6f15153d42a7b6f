//! Reads capture files back, tolerating a cut-off last line and reporting (then skipping) corrupt lines.

use crate::event::{Record, FORMAT_NAME, FORMAT_VERSION};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// A capture read back from disk.
#[derive(Debug, Default)]
pub struct CaptureFile {
    pub records: Vec<Record>,
    /// Lines that could not be read, with their line numbers.
    pub problems: Vec<ReadProblem>,
    /// True when the file ends with an `end` record (a file without one was cut short).
    pub has_end: bool,
}

/// A line of a capture that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadProblem {
    /// 1-based line number.
    pub line: usize,
    /// True for the last line of a file that ends without a newline: the writer was cut off mid-record.
    pub truncated: bool,
    pub message: String,
}

impl std::fmt::Display for ReadProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.truncated {
            write!(f, "line {}: cut off mid-record (skipped): {}", self.line, self.message)
        } else {
            write!(f, "line {}: corrupt record (skipped): {}", self.line, self.message)
        }
    }
}

impl CaptureFile {
    /// The connection ids in the capture, in order of their first record.
    pub fn connections(&self) -> Vec<u64> {
        let mut ids = Vec::new();
        for record in &self.records {
            if let Some(id) = record.conn() {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// The records of one connection, in file order.
    pub fn connection(&self, conn: u64) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(move |r| r.conn() == Some(conn))
    }

    /// The capture's `meta` record, if the first line held one.
    pub fn meta(&self) -> Option<&crate::event::Meta> {
        match self.records.first() {
            Some(Record::Meta(meta)) => Some(meta),
            _ => None,
        }
    }
}

/// Reads and parses a capture file.
pub fn read_capture(path: &Path) -> Result<CaptureFile> {
    let bytes = std::fs::read(path).with_context(|| format!("could not read the capture {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    parse_capture(&text).with_context(|| format!("{} is not a usable frametap capture", path.display()))
}

/// Parses capture text. Fails only when nothing in it is a frametap record, or its version is newer than this build.
pub fn parse_capture(text: &str) -> Result<CaptureFile> {
    let mut capture = CaptureFile::default();
    let ends_cleanly = text.is_empty() || text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(record) => {
                if let Record::Meta(meta) = &record {
                    if meta.format != FORMAT_NAME {
                        bail!("line {}: format is {:?}, expected {FORMAT_NAME:?}", index + 1, meta.format);
                    }
                    if meta.version > FORMAT_VERSION {
                        bail!(
                            "capture format version {} is newer than this frametap reads ({FORMAT_VERSION}): upgrade frametap",
                            meta.version
                        );
                    }
                }
                capture.has_end = matches!(record, Record::End(_));
                capture.records.push(record);
            }
            Err(e) => capture.problems.push(ReadProblem {
                line: index + 1,
                truncated: index + 1 == lines.len() && !ends_cleanly,
                message: e.to_string(),
            }),
        }
    }
    if capture.records.is_empty() {
        match capture.problems.first() {
            Some(problem) => bail!("no line is a frametap record ({problem})"),
            None => bail!("the file is empty"),
        }
    }
    Ok(capture)
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{"kind":"meta","ts":"2026-01-01T00:00:00.000000Z","format":"frametap-capture","version":1,"frametap":"0.1.0","command":["frametap"],"mode":"proxy","redacted":false}"#;
    const NOTE: &str =
        r#"{"kind":"note","conn":1,"ts":"2026-01-01T00:00:00.000001Z","level":"info","code":"x","message":"m"}"#;

    #[test]
    fn cut_off_last_line_is_tolerated_and_reported() {
        let text = format!("{META}\n{NOTE}\n{{\"kind\":\"fra");
        let capture = parse_capture(&text).unwrap();
        assert_eq!(capture.records.len(), 2);
        assert!(!capture.has_end);
        assert_eq!(capture.problems.len(), 1);
        assert!(capture.problems[0].truncated);
        assert_eq!(capture.problems[0].line, 3);
    }

    #[test]
    fn corrupt_line_is_reported_with_its_number_and_skipped() {
        let text = format!("{META}\nnot json\n{NOTE}\n");
        let capture = parse_capture(&text).unwrap();
        assert_eq!(capture.records.len(), 2);
        assert_eq!(capture.problems[0].line, 2);
        assert!(!capture.problems[0].truncated);
        assert!(capture.problems[0].to_string().contains("line 2: corrupt"));
    }

    #[test]
    fn nothing_readable_is_an_error() {
        assert!(parse_capture("hello\nworld\n").unwrap_err().to_string().contains("no line"));
        assert!(parse_capture("").unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn newer_versions_are_refused() {
        let text = META.replace(r#""version":1"#, r#""version":99"#);
        assert!(parse_capture(&text).unwrap_err().to_string().contains("upgrade frametap"));
    }
}
