//! `convert` of a capture to a HAR sets the records aside in a spill (an unlinked 0600 file beside OUT) and writes
//! each connection's entry from there: a capture read from a pipe converts as one read from a file, and nothing is
//! left beside OUT.

mod common;

use std::path::Path;

fn convert(input: &Path, output: &Path) -> std::process::Output {
    let mut command = common::binary::frametap_command();
    command.args(["convert".as_ref(), input.as_os_str(), output.as_os_str()]);
    command.stdin(std::process::Stdio::null()).output().unwrap()
}

#[cfg(unix)] // a named pipe (mkfifo)
#[test]
fn a_capture_from_a_pipe_converts_to_the_same_har_as_from_its_file() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/relayed-session.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from-file.har");
    let done = convert(&golden, &from_file);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));

    let fifo = dir.path().join("piped.jsonl");
    let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path; mkfifo only creates the pipe.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "{}", std::io::Error::last_os_error());
    let writer = {
        let (fifo, golden) = (fifo.clone(), golden.clone());
        std::thread::spawn(move || std::fs::write(fifo, std::fs::read(golden).unwrap()).unwrap())
    };
    let from_pipe = dir.path().join("out").join("from-pipe.har");
    std::fs::create_dir(from_pipe.parent().unwrap()).unwrap();
    let done = convert(&fifo, &from_pipe);
    writer.join().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert_eq!(std::fs::read(&from_pipe).unwrap(), std::fs::read(&from_file).unwrap());
    let beside: Vec<_> =
        std::fs::read_dir(from_pipe.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(beside, ["from-pipe.har"], "the spill left nothing behind");
}

#[test]
fn a_convert_that_fails_leaves_neither_har_nor_spill() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.jsonl");
    let golden =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/relayed-session.jsonl"));
    let golden = golden.unwrap();
    std::fs::write(&cut, &golden[..golden.len() / 2]).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let done = convert(&cut, &out.join("cut.har"));
    assert!(!done.status.success());
    let said = String::from_utf8_lossy(&done.stderr);
    assert!(said.contains("pass --partial"), "{said}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "nothing left behind");
}

#[test]
fn a_har_for_a_missing_folder_is_refused_naming_it() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/relayed-session.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("missing").join("out.har");
    let done = convert(&golden, &out);
    assert!(!done.status.success());
    let said = String::from_utf8_lossy(&done.stderr);
    assert!(said.contains(&format!("{}: no temporary file can be made beside it", out.display())), "{said}");
    assert!(said.contains("does not exist (create it first"), "{said}");
}
