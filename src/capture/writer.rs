//! Writes records to a capture file: one JSON line each, buffered, never overwriting, and honest about failures.

use crate::event::{End, Record, Ts};
use anyhow::Result;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Buffered JSONL writer. After a write error it stops writing (the relay goes on) and remembers why,
/// so the `end` record — if it can still be written — says the capture is incomplete.
pub struct CaptureWriter {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    records: u64,
    connections: u64,
    frames: u64,
    errors: Vec<String>,
}

impl CaptureWriter {
    /// Creates `path` (0600, never overwriting an existing file).
    pub fn create(path: &Path) -> Result<Self> {
        let file = crate::paths::create_private_file(path)?;
        Ok(Self::from_file(path, file))
    }

    /// Wraps an already-open file (tests use this to simulate a failing disk).
    pub fn from_file(path: &Path, file: File) -> Self {
        CaptureWriter {
            path: path.to_owned(),
            out: Some(BufWriter::with_capacity(256 * 1024, file)),
            records: 0,
            connections: 0,
            frames: 0,
            errors: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first write error, if any: the capture is incomplete from that point on.
    pub fn failed(&self) -> Option<&str> {
        self.errors.first().map(String::as_str)
    }

    /// Appends one record. Returns false when the record could not be written (see [`Self::failed`]).
    pub fn write(&mut self, record: &Record) -> bool {
        let mut json = Vec::with_capacity(256);
        if let Err(e) = crate::event::write_record_json(record, &mut json) {
            self.fail(std::io::Error::other(e));
            return false;
        }
        self.write_json_line(record, std::str::from_utf8(&json).unwrap_or("{}"))
    }

    /// Appends one record already serialised as a JSON line (without its newline).
    pub fn write_json_line(&mut self, record: &Record, json: &str) -> bool {
        match record {
            Record::Open(_) => self.connections += 1,
            Record::Frame(_) => self.frames += 1,
            _ => {}
        }
        let Some(out) = self.out.as_mut() else {
            return false;
        };
        let result = out.write_all(json.as_bytes()).and_then(|()| out.write_all(b"\n"));
        self.after(result)
    }

    fn after(&mut self, result: std::io::Result<()>) -> bool {
        match result {
            Ok(()) => {
                self.records += 1;
                true
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    fn fail(&mut self, e: std::io::Error) {
        let message = format!("writing the capture {} failed: {e}", self.path.display());
        tracing::error!("{message}; the relay goes on, but the capture is incomplete from here");
        self.errors.push(message);
        // Drop without flushing again: the buffer may hold a partial line; what is on disk ends cleanly or is cut.
        if let Some(out) = self.out.take() {
            let (_file, _unflushed) = out.into_parts();
        }
    }

    /// Pushes buffered records to the file (called between batches, so a crash loses little).
    pub fn flush(&mut self) {
        if let Some(out) = self.out.as_mut() {
            if let Err(e) = out.flush() {
                self.fail(e);
            }
        }
    }

    /// Writes the `end` record and flushes. Returns the `end` record, so callers can report it.
    pub fn finish(mut self, dropped: u64, mut extra_errors: Vec<String>) -> End {
        let mut errors = std::mem::take(&mut self.errors);
        errors.append(&mut extra_errors);
        let end = End {
            ts: Ts::now(),
            connections: self.connections,
            frames: self.frames,
            records: self.records,
            dropped,
            complete: dropped == 0 && errors.is_empty(),
            errors,
        };
        if self.out.is_some() {
            self.write(&Record::End(end.clone()));
            self.flush();
            if let Some(out) = self.out.as_mut() {
                let _ = out.get_ref().sync_data();
            }
        }
        end
    }
}
