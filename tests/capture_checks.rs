//! Captures that were hand-edited, joined or damaged, read by the real binary (`inspect`, `convert`, `redact`,
//! `replay`, `ui FILE`) in both formats: every record that contradicts the others (a second `open`, a `len` that is
//! not the payload's, time going backwards, frames of a connection that never opened, records after `end`) is
//! warned about with its place, what is wrong and what frametap did with it; one left out is counted as lost.

mod common;

use common::binary::frametap_command;
use frametap::capture::read_capture;
use frametap::event::Record;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The seed story (tests/fixtures): meta, connection 1 (lines 2–7), connection 2 (open at line 8, frames 9–14,
/// close 15), end (16).
fn seed_story() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-story.jsonl");
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

/// The seed story edited by hand: connection 2's `open` copied (line 9), its frame #2 given a wrong `len` (line
/// 11), its frame #3 stamped before its frame #1 (line 12), and a frame and a close of a connection 7 that never
/// opened (lines 16, 17).
fn edited_lines() -> Vec<String> {
    let mut lines = seed_story();
    lines.insert(8, lines[7].clone());
    lines[10] = lines[10].replace(r#""len":139"#, r#""len":100"#);
    lines[11] = lines[11].replace("10:00:02.000000Z", "10:00:01.005000Z");
    lines.insert(
        15,
        r#"{"kind":"frame","conn":7,"ts":"2026-11-25T10:00:05.001000Z","seq":1,"from":"client","to":"server","opcode":"text","fin":true,"len":2,"text":"hi"}"#.to_owned(),
    );
    lines.insert(
        16,
        r#"{"kind":"close","conn":7,"ts":"2026-11-25T10:00:05.002000Z","initiator":"client","clean":false,"duration_ms":1.0}"#.to_owned(),
    );
    lines
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn frametap(args: &[&str], file: &Path) -> Output {
    let mut command = frametap_command();
    let (before, after) = args.split_at(args.iter().position(|a| *a == "FILE").expect("FILE in the arguments"));
    command.args(before).arg(file).args(&after[1..]).env("NO_COLOR", "1").env("FRAMETAP_HOME", file.parent().unwrap());
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The warnings every command gives for [`edited_lines`], each with its place, what is wrong and what was done.
const EDITED_WARNINGS: [&str; 4] = [
    "line 9: a second `open` record for connection 2, which opened at line 8: skipped, so the connection keeps its \
     first handshake",
    "line 11: frame #2 of connection 2 says `len` 100, but its payload holds 139 bytes: kept as written",
    "line 12: frame #3 of connection 2 (client → server) is stamped 2026-11-25T10:00:01.005000Z, 5.0 ms before frame \
     #1 of the same direction at line 10, which comes before it: kept in file order",
    "line 16: connection 7 has 1 frame and 1 close record but no `open` record (the capture starts after its \
     handshake, or the line was lost): kept as they are",
];

fn assert_warns(said: &str, expected: &[&str]) {
    for warning in expected {
        assert!(said.contains(warning), "expected {warning:?} in:\n{said}");
    }
}

#[test]
fn inspect_warns_about_each_record_that_contradicts_the_others_and_counts_the_one_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "edited.jsonl", &edited_lines());
    let out = frametap(&["inspect", "FILE"], &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert_warns(&said, &EDITED_WARNINGS);
    assert_eq!(said.lines().count(), EDITED_WARNINGS.len(), "one warning each, nothing else:\n{said}");
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("note: the capture is incomplete: input line 9: a second `open`"), "{report}");

    let json = frametap(&["inspect", "--json", "FILE"], &file);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["complete"], false, "a record was left out");
    let problems = json["problems"].as_array().unwrap();
    let kept: Vec<(u64, bool)> =
        problems.iter().map(|p| (p["line"].as_u64().unwrap(), p["kept"].as_bool().unwrap())).collect();
    assert_eq!(kept, [(9, false), (11, true), (12, true), (16, true)]);
    assert_eq!(json["losses"].as_array().unwrap().len(), 1, "only the skipped open is a loss: {json:#}");
}

#[test]
fn convert_redact_and_replay_say_the_same_and_convert_counts_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "edited.jsonl", &edited_lines());

    let har = dir.path().join("out.har");
    let refused = frametap(&["convert", "FILE", har.to_str().unwrap()], &file);
    assert!(!refused.status.success());
    assert_warns(&stderr(&refused), &[&format!("{}: {}", file.display(), EDITED_WARNINGS[0]), "pass --partial"]);

    let converted = frametap(&["convert", "--partial", "FILE", har.to_str().unwrap()], &file);
    assert!(converted.status.success(), "{}", stderr(&converted));
    let said = stderr(&converted);
    assert_warns(&said, &EDITED_WARNINGS[1..]);
    assert!(said.contains("without what could not be read or was left out: line 9"), "{said}");
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(said.lines().all(|line| line.matches(name).count() == 1), "each warning names the input once:\n{said}");

    let copy = dir.path().join("copy.jsonl");
    let repaired = frametap(&["convert", "--partial", "FILE", copy.to_str().unwrap()], &file);
    assert!(repaired.status.success(), "{}", stderr(&repaired));
    let copy = read_capture(&copy).unwrap();
    let opens = copy.records.iter().filter(|r| matches!(r, Record::Open(o) if o.conn == 2)).count();
    assert_eq!(opens, 1, "the copy holds connection 2's first open only");
    let Some(Record::End(end)) = copy.records.last() else { panic!("the copy ends with an end record") };
    assert!(!end.complete && end.errors.iter().any(|e| e.contains("line 9: a second `open`")), "{end:?}");

    let redacted = dir.path().join("redacted.jsonl");
    let redact = frametap(&["redact", "FILE", redacted.to_str().unwrap()], &file);
    assert!(redact.status.success(), "{}", stderr(&redact));
    assert_warns(&stderr(&redact), &EDITED_WARNINGS);

    let replay = frametap(&["replay", "send", "FILE", "--upstream", "ws://127.0.0.1:9", "--conn", "2"], &file);
    assert_warns(&stderr(&replay), &[&format!("{}: {}", file.display(), EDITED_WARNINGS[0]), "pass --partial"]);
    let replay =
        frametap(&["replay", "send", "FILE", "--partial", "--upstream", "ws://127.0.0.1:9", "--conn", "2"], &file);
    assert_warns(&stderr(&replay), &EDITED_WARNINGS);
}

/// Two captures joined with `cat`: the second's `meta`, its connection ids again and what follows the first `end`
/// are said, not read as one session in silence; the second `open` and `close` of each connection are left out.
#[test]
fn two_joined_captures_are_read_with_warnings_for_what_collides() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = seed_story();
    lines.extend(seed_story());
    let file = write(dir.path(), "joined.jsonl", &lines);
    let said = stderr(&frametap(&["inspect", "FILE"], &file));
    assert_warns(
        &said,
        &[
            "line 17: a second `meta` record (the first is at line 1): another session starts here (were two captures \
             joined?); kept",
            "line 17: 12 records after the capture's `end` record at line 16: kept",
            "line 18: a second `open` record for connection 1, which opened at line 2 and closed at line 7: skipped",
            "line 19: connection 1 has 3 frames after its `close` record at line 7: kept in file order",
            "line 23: a second `close` record for connection 1, which closed at line 7: skipped",
            "line 24: a second `open` record for connection 2, which opened at line 8 and closed at line 15: skipped",
            "line 25: connection 2 has 6 frames after its `close` record at line 15",
            "line 31: a second `close` record for connection 2, which closed at line 15: skipped",
        ],
    );
    assert_eq!(said.lines().count(), 8, "the frames out of place are not also said to go back in time:\n{said}");
}

/// Frames of one connection out of `seq` order (a server frame moved before the client frame read before it, as a
/// frametap before 2026-11-27 could write them under backpressure) are said once, not also for their time.
#[test]
fn a_frame_out_of_seq_order_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = seed_story();
    // Connection 2's frame #3 (client, line 11) and #4 (server, line 12) swapped.
    lines.swap(10, 11);
    let file = write(dir.path(), "reordered.jsonl", &lines);
    let out = frametap(&["inspect", "--json", "FILE"], &file);
    let said = stderr(&frametap(&["inspect", "FILE"], &file));
    assert_warns(
        &said,
        &["line 12: frame #3 of connection 2 comes after its frame #4 at line 11: kept in file order, so the analysis \
           reads it after that frame"],
    );
    assert_eq!(said.lines().count(), 1, "{said}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["complete"], true, "a frame kept out of order is no loss: {json:#}");
}

/// A capture without its beginning (the first lines cut away by hand) says so once.
#[test]
fn a_capture_without_its_meta_record_says_its_beginning_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "tail.jsonl", &seed_story()[7..]);
    let said = stderr(&frametap(&["inspect", "FILE"], &file));
    assert_warns(
        &said,
        &["line 1: the capture does not start with a `meta` record (its first record is an `open`): its beginning is \
           missing"],
    );
    assert_eq!(said.lines().count(), 1, "{said}");
}

/// The compact form: records say their place as a record number and byte offset, JSON lines too: the compact frames
/// before them are no lines of text, so "line 9" would send an editor to another record.
#[test]
fn a_compact_capture_is_checked_the_same_way_with_byte_offsets() {
    let dir = tempfile::tempdir().unwrap();
    // Only what a record kept as written: convert copies it (and says so), and the compact frames keep it.
    let mut lines = seed_story();
    lines[10] = lines[10].replace("10:00:02.000000Z", "10:00:01.005000Z");
    let jsonl = write(dir.path(), "edited.jsonl", &lines);
    let ftcap = dir.path().join("edited.ftcap");
    let converted = frametap(&["convert", "FILE", ftcap.to_str().unwrap()], &jsonl);
    assert!(converted.status.success(), "{}", stderr(&converted));
    let warned = stderr(&converted);
    assert_warns(&warned, &["line 11: frame #3 of connection 2 (client → server) is stamped"]);
    assert_eq!(warned.matches("edited.jsonl").count(), 1, "the warning names the input once:\n{warned}");
    // Then connection 2's open copied right after it, in the binary file.
    let mut bytes = std::fs::read(&ftcap).unwrap();
    let open_at = find(&bytes, br#"{"kind":"open","conn":2,"#);
    let open_end = open_at + bytes[open_at..].iter().position(|b| *b == b'\n').unwrap() + 1;
    let open: Vec<u8> = bytes[open_at..open_end].to_vec();
    bytes.splice(open_end..open_end, open);
    std::fs::write(&ftcap, &bytes).unwrap();

    let said = stderr(&frametap(&["inspect", "FILE"], &ftcap));
    let second_open = format!(
        "record 9 (a JSON line at byte {open_end}): a second `open` record for connection 2, which opened at record 8 \
         (a JSON line at byte {open_at}): skipped"
    );
    assert_warns(
        &said,
        &[
            second_open.as_str(),
            "record 12 (a compact frame at byte ",
            "): frame #3 of connection 2 (client → server) is stamped 2026-11-25T10:00:01.005000Z, 5.0 ms before frame \
             #1 of the same direction at record 10 (a compact frame at byte ",
            "), which comes before it: kept in file order",
        ],
    );
    assert_eq!(said.lines().count(), 2, "{said}");
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).position(|w| w == needle).expect("the record is in the file")
}

/// `ui FILE` says each of them as it loads the file (and shows them in the page as `capture-inconsistent` notes).
#[test]
fn ui_file_says_them_as_it_loads() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "edited.jsonl", &edited_lines());
    let mut child = frametap_command()
        .args(["ui", "--ui", "127.0.0.1:0"])
        .arg(&file)
        .env("NO_COLOR", "1")
        .env("FRAMETAP_HOME", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its URL comes once the file is loaded (or stdout ends if it could not start).
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut url).unwrap();
    child.kill().unwrap();
    let mut said = String::new();
    child.stderr.take().unwrap().read_to_string(&mut said).unwrap();
    child.wait().unwrap();
    assert!(url.starts_with("frametap UI for "), "{url}{said}");
    assert_warns(&said, &EDITED_WARNINGS);
}
