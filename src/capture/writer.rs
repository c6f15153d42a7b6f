//! Writes records to a capture file: one JSON line each (frames in compact form in a compact capture),
//! buffered, never overwriting, honest about failures, and without filling the page cache (writeback.rs).

use super::writeback::WritebackFile;
use super::{compact, CaptureFormat};
use crate::event::{End, Frame, Record, Ts};
use anyhow::Result;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Buffered capture writer. After a write error it stops writing (the relay goes on) and remembers why,
/// so the `end` record — if it can still be written — says the capture is incomplete.
pub struct CaptureWriter {
    path: PathBuf,
    format: CaptureFormat,
    out: Option<BufWriter<WritebackFile>>,
    /// A compact frame's header, reused.
    header: Vec<u8>,
    records: u64,
    connections: u64,
    frames: u64,
    errors: Vec<String>,
}

impl CaptureWriter {
    /// Creates `path` (0600, never overwriting an existing file) for a JSON Lines capture.
    pub fn create(path: &Path) -> Result<Self> {
        Self::create_as(path, CaptureFormat::Jsonl)
    }

    /// Creates `path` (0600, never overwriting an existing file) for a capture in `format`.
    pub fn create_as(path: &Path, format: CaptureFormat) -> Result<Self> {
        let file = crate::paths::create_private_file(path)?;
        Ok(Self::from_file(path, file).with_format(format))
    }

    /// Wraps an already-open file (tests use this to simulate a failing disk).
    pub fn from_file(path: &Path, file: File) -> Self {
        CaptureWriter {
            path: path.to_owned(),
            format: CaptureFormat::Jsonl,
            header: Vec::with_capacity(32),
            out: Some(BufWriter::with_capacity(256 * 1024, WritebackFile::new(file))),
            records: 0,
            connections: 0,
            frames: 0,
            errors: Vec::new(),
        }
    }

    fn with_format(mut self, format: CaptureFormat) -> Self {
        self.format = format;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How this capture stores frames.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// True when `record` is written without JSON (a frame in a compact capture): see [`Self::write_frame`].
    pub fn writes_compact(&self, record: &Record) -> bool {
        matches!(record, Record::Frame(frame) if self.format == CaptureFormat::Compact && compact::fits(frame))
    }

    /// The first write error, if any: the capture is incomplete from that point on.
    pub fn failed(&self) -> Option<&str> {
        self.errors.first().map(String::as_str)
    }

    /// Appends one record. Returns false when the record could not be written (see [`Self::failed`]).
    /// A `meta` record is written with this capture's format version.
    pub fn write(&mut self, record: &Record) -> bool {
        if let Record::Frame(frame) = record {
            if self.writes_compact(record) {
                return self.write_frame(frame);
            }
        }
        if let Record::Meta(meta) = record {
            if meta.version != self.format.version() {
                let mut meta = meta.clone();
                meta.version = self.format.version();
                return self.write(&Record::Meta(meta));
            }
        }
        let mut json = Vec::with_capacity(256);
        if let Err(e) = crate::event::write_record_json(record, &mut json) {
            self.fail(std::io::Error::other(e));
            return false;
        }
        self.write_json_line(record, &json)
    }

    /// Appends one record already serialised as a JSON line (UTF-8, without its newline).
    pub fn write_json_line(&mut self, record: &Record, json: &[u8]) -> bool {
        match record {
            Record::Open(_) => self.connections += 1,
            Record::Frame(_) => self.frames += 1,
            _ => {}
        }
        let Some(out) = self.out.as_mut() else {
            return false;
        };
        let result = out.write_all(json).and_then(|()| out.write_all(b"\n"));
        self.after(result)
    }

    /// Appends a frame in compact form (for a compact capture; see [`Self::writes_compact`]).
    pub fn write_frame(&mut self, frame: &Frame) -> bool {
        self.frames += 1;
        let Some(out) = self.out.as_mut() else {
            return false;
        };
        self.header.clear();
        compact::encode_header(frame, &mut self.header);
        let result = out.write_all(&self.header).and_then(|()| out.write_all(&frame.payload));
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
        crate::warning!("{message}; the relay goes on, but the capture is incomplete from here");
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

    /// Makes what was written durable (`fdatasync`); a failure is an error of the capture's: records written before
    /// may be missing from the disk (with the page cache kept small, writeback.rs, a disk's late write error shows
    /// here).
    fn sync(&mut self) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        if let Err(e) = out.get_ref().get_ref().sync_data() {
            let message = format!(
                "making the capture {} durable failed (fdatasync: {e}): records written before may be missing from the disk",
                self.path.display()
            );
            crate::warning!("{message}");
            self.errors.push(message);
        }
    }

    /// Flushes and syncs what was written, then writes the `end` record (which says when the sync failed) and syncs it.
    /// Returns the `end` record, so callers can report it.
    pub fn finish(mut self, dropped: u64, mut extra_errors: Vec<String>) -> End {
        self.flush();
        self.sync();
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
            self.sync();
        }
        // What failed once `end` was made (writing it, or making it durable) can no longer be written down; the
        // returned `end` still tells the caller.
        match std::mem::take(&mut self.errors) {
            late if late.is_empty() => end,
            late => End { complete: false, errors: [end.errors, late].concat(), ..end },
        }
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use crate::event::Note;
    use std::io::Read;
    use std::os::fd::FromRawFd;

    /// A pipe's two ends as files (a pipe takes writes but not `fdatasync`, as a failing disk would refuse it).
    fn pipe() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: pipe fills two new descriptors, each then owned by one `File`.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1]))
        }
    }

    #[test]
    fn a_capture_that_cannot_be_made_durable_ends_incomplete_and_says_why() {
        let (mut reader, writer) = pipe();
        let read_all = std::thread::spawn(move || {
            let mut text = String::new();
            reader.read_to_string(&mut text).unwrap();
            text
        });
        let mut capture = CaptureWriter::from_file(Path::new("piped.jsonl"), writer);
        assert!(capture.write(&Record::Note(Note::info("test", None, Ts::now(), "one record"))));
        let end = capture.finish(0, Vec::new());
        assert!(!end.complete);
        assert!(end.errors.iter().any(|e| e.contains("durable failed")), "{:?}", end.errors);
        let text = read_all.join().unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["kind"], "end", "{text}");
        assert_eq!(last["complete"], false, "the end record on file says so too: {text}");
        assert!(last["errors"][0].as_str().unwrap().contains("durable failed"), "{text}");
    }
}
