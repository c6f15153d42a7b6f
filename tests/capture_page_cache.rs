//! A capture does not fill the page cache (src/capture/writeback.rs): what was written a lag ago is dropped from the
//! cache once on disk, what was just written stays. Linux only (elsewhere the file is written as it is); on a real
//! file system under the build's target directory, as tmpfs keeps every page in memory by design.

#![cfg(target_os = "linux")]

use frametap::capture::writeback::{WritebackFile, LAG, WINDOW};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

const MIB: usize = 1 << 20;

/// How many bytes of the file at `path` in `[start, end)` are in the page cache (`mincore` over a read-only mapping).
fn cached_bytes(path: &Path, start: u64, end: u64) -> u64 {
    let file = File::open(path).unwrap();
    let page = 4096u64;
    let len = (end - start) as usize;
    // SAFETY: a read-only shared mapping of an open file, never dereferenced, unmapped before returning; mincore
    // writes one byte per page into a vector of that many bytes.
    unsafe {
        let map =
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), start as i64);
        assert_ne!(map, libc::MAP_FAILED, "mmap failed: {}", std::io::Error::last_os_error());
        let mut resident = vec![0u8; len.div_ceil(page as usize)];
        let rc = libc::mincore(map, len, resident.as_mut_ptr());
        libc::munmap(map, len);
        assert_eq!(rc, 0, "mincore failed: {}", std::io::Error::last_os_error());
        resident.iter().filter(|&&r| r & 1 == 1).count() as u64 * page
    }
}

fn on_tmpfs(dir: &Path) -> bool {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: statfs fills the zeroed struct for a valid C string path.
    unsafe {
        let mut stat: libc::statfs = std::mem::zeroed();
        libc::statfs(path.as_ptr(), &mut stat) == 0 && stat.f_type == libc::TMPFS_MAGIC
    }
}

/// Writes `windows` windows of bytes through `out` a MiB at a time, each MiB made durable through `observer` at
/// once, so every range is on disk by the time its turn to be dropped comes (the test does not race the disk).
fn write_windows(out: &mut impl Write, observer: &File, windows: u64) {
    let chunk = vec![b'x'; MIB];
    for _ in 0..windows * WINDOW / MIB as u64 {
        out.write_all(&chunk).unwrap();
        observer.sync_data().unwrap();
    }
}

#[test]
fn a_capture_keeps_only_its_last_stretch_in_the_page_cache() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    if on_tmpfs(dir.path()) {
        eprintln!("the target directory is on tmpfs, whose pages are the storage: nothing to drop, not tested here");
        return;
    }
    let windows = 2 * LAG / WINDOW + 4;
    let written = windows * WINDOW;

    // The control: a plain file written the same way keeps what it wrote cached (so this machine shows the difference).
    let plain_path = dir.path().join("plain.bin");
    let mut plain = File::create(&plain_path).unwrap();
    let plain_observer = plain.try_clone().unwrap();
    write_windows(&mut plain, &plain_observer, windows);
    let plain_cached = cached_bytes(&plain_path, 0, written);
    assert!(plain_cached > written / 2, "a plain file kept only {plain_cached} of {written} bytes cached");

    let path = dir.path().join("capture.bin");
    let file = File::create(&path).unwrap();
    let observer = file.try_clone().unwrap();
    let mut out = WritebackFile::new(file);
    write_windows(&mut out, &observer, windows);
    // Every window up to a lag before the last one handed to the disk has had its turn to be dropped.
    let dropped_until = written - LAG;
    let old = cached_bytes(&path, 0, dropped_until);
    assert!(old <= WINDOW / 8, "{old} of the first {dropped_until} bytes are still cached");
    let recent = cached_bytes(&path, dropped_until, written);
    assert!(recent > LAG / 2, "only {recent} of the last {LAG} bytes are cached: they should not have been dropped");
}
