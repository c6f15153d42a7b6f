//! Keeps a long capture from filling the page cache: as each 8 MiB of the file is written, the kernel is asked to
//! start writing it to disk, and what was written well before — on disk by then — is dropped from the cache (Linux;
//! elsewhere the file is written as it is).
//!
//! A capture is written once and read later from the start, so its pages are of no use in the cache, where gigabytes
//! of them pushed out everything else, and filling fresh pages cost the kernel more than twice as much CPU per byte
//! written on the VM measured in docs/performance.md as reusing the pages just dropped. Nothing waits: the writes
//! are only started, and a range still being written when its turn to be dropped comes stays cached until it comes
//! round again, one lag later; a capture that outruns the disk is held back by the kernel's own limits, as before.

use std::fs::File;
use std::io::{self, Write};

/// How much of the file is handed to the disk at a time.
pub const WINDOW: u64 = 8 << 20;
/// How far behind the write position cached pages are dropped: a window written this long before is normally on disk.
pub const LAG: u64 = 32 << 20;

/// A capture file that keeps what it leaves in the page cache bounded (see the module's doc).
pub struct WritebackFile {
    file: File,
    /// Bytes written to the file so far: files are written from their start (a new capture).
    written: u64,
    /// Where the next window to hand to the disk starts.
    next_window: u64,
}

impl WritebackFile {
    pub fn new(file: File) -> Self {
        WritebackFile { file, written: 0, next_window: 0 }
    }

    pub fn get_ref(&self) -> &File {
        &self.file
    }

    /// Hands each window written in full to the disk, and drops from the cache the windows one and two lags behind
    /// it (the second try catches a window that was still being written at the first).
    fn windows_written(&mut self) {
        while self.written - self.next_window >= WINDOW {
            start_writeback(&self.file, self.next_window, WINDOW);
            for behind in [LAG, 2 * LAG] {
                if let Some(start) = self.next_window.checked_sub(behind) {
                    drop_cached(&self.file, start, WINDOW);
                }
            }
            self.next_window += WINDOW;
        }
    }
}

impl Write for WritebackFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        self.windows_written();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Starts writing `len` bytes from `offset` to disk, without waiting. Best effort: when the call fails the kernel
/// writes the range back on its own schedule, and a write error still shows where it did before (the capture's
/// final `sync_data`).
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: `file` keeps the descriptor open for the call, which only reads its integer arguments.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset as i64, len as i64, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Drops `len` bytes from `offset` from the page cache where they are on disk (pages still dirty or being written
/// stay). Best effort, like [`start_writeback`]: the data is never affected, only whether it stays cached.
#[cfg(target_os = "linux")]
fn drop_cached(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: as in `start_writeback`.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), offset as i64, len as i64, libc::POSIX_FADV_DONTNEED);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

#[cfg(not(target_os = "linux"))]
fn drop_cached(_file: &File, _offset: u64, _len: u64) {}
