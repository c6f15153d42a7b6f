//! Records set aside in a temporary file and read back by where they were put: what lets a command that needs a
//! capture's records in another order than the file's (`convert` to a HAR groups each connection's) hold only the
//! ones it is working on. Frames are kept in their compact form, every other record as its JSON.

use super::compact;
use crate::event::Record;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Where a record was put in a [`Spill`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpillSpan {
    offset: u64,
    len: u64,
}

/// A temporary file records are appended to; [`Spill::into_reader`] then reads them back by their spans. The file
/// is created next to `beside` (0600) and unlinked at once, so nothing is left behind, whatever becomes of the run.
pub struct Spill {
    out: BufWriter<File>,
    /// The same file, opened for reading.
    read: File,
    len: u64,
    scratch: Vec<u8>,
}

/// A finished [`Spill`], read by span.
pub struct SpillReader {
    file: File,
}

impl Spill {
    /// A spill in the folder of `beside` (the file the command writes, so the spill goes where there is room for
    /// it), named after it; the name is unlinked as soon as the file is open.
    pub fn create_beside(beside: &Path) -> Result<Spill> {
        let mut name = beside.file_name().unwrap_or_default().to_os_string();
        name.push(format!(
            ".{}.{}.spill",
            std::process::id(),
            SPILLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let path = beside.with_file_name(name);
        let file = crate::paths::create_private_file(&path)
            .with_context(|| format!("{}: no temporary file can be made beside it", beside.display()))?;
        let read = File::open(&path);
        std::fs::remove_file(&path)
            .with_context(|| format!("could not remove the temporary file {}", path.display()))?;
        let read = read.with_context(|| format!("could not read the temporary file {}", path.display()))?;
        Ok(Spill { out: BufWriter::with_capacity(256 * 1024, file), read, len: 0, scratch: Vec::new() })
    }

    /// Appends `record`; returns where it is.
    pub fn push(&mut self, record: &Record) -> Result<SpillSpan> {
        self.scratch.clear();
        match record {
            Record::Frame(frame) if compact::fits(frame) => compact::encode(frame, &mut self.scratch),
            other => crate::event::write_record_json(other, &mut self.scratch)?,
        }
        self.out.write_all(&self.scratch).context("could not write the temporary file")?;
        let span = SpillSpan { offset: self.len, len: self.scratch.len() as u64 };
        self.len += span.len;
        Ok(span)
    }

    /// Done appending: the records can be read back.
    pub fn into_reader(self) -> Result<SpillReader> {
        self.out.into_inner().map_err(|e| e.into_error()).context("could not write the temporary file")?;
        Ok(SpillReader { file: self.read })
    }
}

/// Spills made by this process, numbering their names.
static SPILLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl SpillReader {
    /// The record put at `span`.
    pub fn read(&self, span: SpillSpan) -> Result<Record> {
        let mut bytes = vec![0; span.len as usize];
        read_exact_at(&self.file, &mut bytes, span.offset).context("could not read back the temporary file")?;
        if bytes.first() == Some(&compact::TAG) {
            let (frame, _) = compact::decode(&bytes)
                .map_err(|e| anyhow::anyhow!("the temporary file does not read back ({e:?})"))?;
            return Ok(Record::Frame(frame));
        }
        serde_json::from_slice(&bytes).context("the temporary file does not read back")
    }
}

/// Fills `bytes` from `file` at `offset`, without moving a shared cursor (`pread`).
#[cfg(unix)]
fn read_exact_at(file: &File, bytes: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

/// Fills `bytes` from `file` at `offset`. Windows' positioned read (`seek_read`) may return fewer bytes than asked
/// and moves the file's cursor, which nothing else here uses.
#[cfg(windows)]
fn read_exact_at(file: &File, mut bytes: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt as _;
    while !bytes.is_empty() {
        match file.seek_read(bytes, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                bytes = &mut bytes[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_they_were_put_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let beside = dir.path().join("out.har");
        let records: Vec<Record> = [
            r#"{"kind":"note","conn":1,"ts":"2026-01-01T00:00:00.000001Z","level":"info","code":"x","message":"m"}"#,
            r#"{"kind":"frame","conn":1,"ts":"2026-01-01T00:00:00.000002Z","seq":1,"from":"client","to":"server","opcode":"text","fin":true,"len":2,"text":"hi"}"#,
            r#"{"kind":"frame","conn":1,"ts":"2026-01-01T00:00:00.000003Z","seq":2,"from":"server","to":"client","opcode":"text","fin":true,"len":9,"text":"cut"}"#,
        ]
        .iter()
        .map(|json| serde_json::from_str(json).unwrap())
        .collect();
        let mut spill = Spill::create_beside(&beside).unwrap();
        let spans: Vec<SpillSpan> = records.iter().map(|r| spill.push(r).unwrap()).collect();
        // On Linux and macOS the name is gone while the file is open. Under Wine (and on Windows where a delete
        // is not POSIX-style, e.g. FAT) a deleted file keeps its name until its last handle closes: gone by the end.
        #[cfg(unix)]
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the spill has no name in the folder");
        let reader = spill.into_reader().unwrap();
        for (span, record) in spans.iter().zip(&records).rev() {
            assert_eq!(&reader.read(*span).unwrap(), record);
        }
        drop(reader);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the spill is gone once read");
    }
}
