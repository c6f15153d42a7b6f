//! `frametap convert` between captures and HARs: bad inputs, `--partial`, private never-overwritten output,
//! `--redact`, and the binary's one-line errors.

mod common;

use common::har::*;
use frametap::capture::read_capture;
use frametap::convert::{convert, ConvertCommand};
use frametap::event::*;
use std::path::Path;

fn assert_fails_without_output(input: &Path, out: &Path, expected: &[&str]) {
    let err = format!("{:#}", convert(&cmd(input, out)).unwrap_err());
    for part in expected {
        assert!(err.contains(part), "{err:?} should contain {part:?}");
    }
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(!out.exists(), "nothing written for {err}");
}

#[test]
fn bad_inputs_fail_clearly_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let plain = fixture("chrome-no-websocket.har");
    assert_fails_without_output(&plain, &out, &["chrome-no-websocket.har", "no WebSocket connection", "Export HAR"]);

    let cut = dir.path().join("cut.har");
    let text = std::fs::read_to_string(fixture("chrome-genesys.har")).unwrap();
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    assert_fails_without_output(&cut, &out, &["cut.har", "not valid JSON at line", "save it again"]);

    let bad_zhar = dir.path().join("bad.zhar");
    std::fs::write(&bad_zhar, b"{\"log\":{}}").unwrap();
    assert_fails_without_output(&bad_zhar, &out, &["bad.zhar", "not a zlib-compressed HAR"]);
    // A real .zhar cut short is not told it is no zlib at all, nor to rename it to .har.
    let cut_zhar = dir.path().join("cut.zhar");
    let zhar = std::fs::read(fixture("mitmproxy-echo.zhar")).unwrap();
    std::fs::write(&cut_zhar, &zhar[..zhar.len() / 2]).unwrap();
    assert_fails_without_output(
        &cut_zhar,
        &out,
        &["cut.zhar", "zlib-compressed HAR is corrupt or was cut off", "save it again"],
    );
    let err = format!("{:#}", convert(&cmd(&cut_zhar, &out)).unwrap_err());
    assert!(!err.contains("not a zlib") && !err.contains("rename it"), "{err}");

    let capture = dir.path().join("cut.jsonl");
    let mut lines = String::new();
    for record in &rich_capture()[..6] {
        lines.push_str(&serde_json::to_string(record).unwrap());
        lines.push('\n');
    }
    lines.push_str(r#"{"kind":"frame","conn":1,"ts":"2026"#);
    std::fs::write(&capture, &lines).unwrap();
    let har = dir.path().join("out.har");
    assert_fails_without_output(&capture, &har, &["cut.jsonl", "line 7: cut off mid-record", "--partial"]);

    let no_end = dir.path().join("no-end.jsonl");
    std::fs::write(&no_end, lines.rsplit_once('\n').unwrap().0.to_owned() + "\n").unwrap();
    assert_fails_without_output(&no_end, &har, &["no-end.jsonl", "without an end record", "--partial"]);

    let mut partial = cmd(&capture, &har);
    partial.partial = true;
    let report = convert(&partial).unwrap();
    assert!(report.warnings[0].contains("without what could not be read: line 7"), "{:?}", report.warnings);
    let written = frametap::har::read_har(&har).unwrap();
    assert_eq!(written["log"][frametap::har::EXTENSION]["records"][1]["record"]["code"], "convert-partial");

    assert_fails_without_output(&capture, &dir.path().join("x.jsonl"), &["same kind of file"]);
    assert_fails_without_output(&capture, &dir.path().join("x.txt"), &["x.txt", "*.har"]);
    assert_fails_without_output(&dir.path().join("in.csv"), &out, &["in.csv", "unknown kind"]);
    assert_fails_without_output(&dir.path().join("missing.har"), &out, &["missing.har", "could not read"]);
}

/// `convert --partial` of a capture with a corrupt line in the middle: the `convert-partial` note, then a fresh `end`
/// (true counts, `complete: false`, the skipped line in `errors`) instead of the input's; the output, capture or HAR,
/// converts again without `--partial`.
#[test]
fn convert_partial_ends_with_a_true_end_record_and_converts_again() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mid.jsonl");
    let mut lines: Vec<String> = rich_capture().iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    lines[5].truncate(40);
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    for name in ["mid.p.ftcap", "mid.p.har"] {
        let partial = dir.path().join(name);
        convert(&ConvertCommand { partial: true, ..cmd(&input, &partial) }).unwrap();
        let again = dir.path().join(format!("{name}.jsonl"));
        convert(&cmd(&partial, &again)).unwrap_or_else(|e| panic!("{name} converts again: {e:#}"));
        let records = read_capture(&again).unwrap().records;
        let ends: Vec<&End> =
            records.iter().filter_map(|r| if let Record::End(e) = r { Some(e) } else { None }).collect();
        assert_eq!(ends.len(), 1, "{name}: one end record");
        let Some((Record::End(end), rest)) = records.split_last() else { panic!("{name}: the end is last") };
        let Some(Record::Note(note)) = rest.last() else { panic!("{name}: the note comes before the end") };
        assert_eq!(note.code, "convert-partial");
        let count = |kind: &str| rest.iter().filter(|r| r.kind() == kind).count() as u64;
        assert_eq!(
            (end.connections, end.frames, end.records),
            (count("open"), count("frame"), rest.len() as u64),
            "{name}"
        );
        assert!(!end.complete, "{name}: {end:?}");
        assert!(end.errors.iter().any(|e| e.contains("line 6")), "{name}: {:?}", end.errors);
    }
}

/// `convert --partial` of a compact capture cut off inside a frame: its note names the record and the byte where the
/// unreadable compact frame starts, not a "line" (a compact file's frames are not lines of text).
#[test]
fn convert_partial_of_a_cut_compact_capture_names_the_record_not_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("whole.jsonl");
    write_capture(&original, &rich_capture());
    let compact = dir.path().join("whole.ftcap");
    convert(&cmd(&original, &compact)).unwrap();
    let mut bytes = std::fs::read(&compact).unwrap();
    let frame_at = bytes.iter().position(|&b| b == 0xF7).expect("a compact frame record (0xF7, never in a JSON line)");
    bytes.truncate(frame_at + 8);
    let cut = dir.path().join("cut.ftcap");
    std::fs::write(&cut, &bytes).unwrap();
    let out = dir.path().join("cut.jsonl");
    convert(&ConvertCommand { partial: true, ..cmd(&cut, &out) }).unwrap();
    let records = read_capture(&out).unwrap().records;
    let note = records
        .iter()
        .find_map(|r| match r {
            Record::Note(n) if n.code == "convert-partial" => Some(n.message.clone()),
            _ => None,
        })
        .expect("a convert-partial note");
    assert!(note.contains(&format!("(a compact frame at byte {frame_at})")) && note.contains(": record "), "{note}");
    assert!(!note.contains("line"), "{note}");
}

#[test]
fn output_is_private_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.jsonl");
    std::fs::write(&out, "precious").unwrap();
    let err = convert(&cmd(&fixture("chrome-genesys.har"), &out)).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    let har = dir.path().join("export.har");
    let capture = dir.path().join("c.jsonl");
    write_capture(&capture, &rich_capture());
    convert(&cmd(&capture, &har)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&har).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn redact_replaces_secrets_both_ways() {
    let secret = "a3c1d1e2-77b4-4c0b-bb0c-91f5a4e0d2c7";
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("redacted.jsonl");
    let mut redacting = cmd(&fixture("chrome-genesys.har"), &capture);
    redacting.redact = true;
    convert(&redacting).unwrap();
    let text = std::fs::read_to_string(&capture).unwrap();
    assert!(!text.contains(secret), "the session token is gone");
    assert!(text.contains(frametap::redact::UUID_PLACEHOLDER_PREFIX), "replaced by a UUID-shaped placeholder");
    let records = read_capture(&capture).unwrap().records;
    assert!(matches!(&records[0], Record::Meta(m) if m.redacted));
    assert_eq!(frames(&records).len(), 8, "every frame kept");

    let plain = dir.path().join("plain.jsonl");
    convert(&cmd(&fixture("chrome-genesys.har"), &plain)).unwrap();
    let har = dir.path().join("redacted.har");
    let mut exporting = cmd(&plain, &har);
    exporting.redact = true;
    convert(&exporting).unwrap();
    let text = std::fs::read_to_string(&har).unwrap();
    assert!(!text.contains(secret) && text.contains(frametap::redact::UUID_PLACEHOLDER_PREFIX));
}

#[test]
fn the_binary_converts_and_fails_with_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&Path]| {
        crate::common::binary::frametap_command()
            .arg("convert")
            .args(args)
            .env("FRAMETAP_HOME", dir.path())
            .output()
            .unwrap()
    };
    let out = dir.path().join("chrome.jsonl");
    let ok = run(&[&fixture("chrome-genesys.har"), &out]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("1 connection, 8 frames") && stdout.contains("Chrome DevTools"), "{stdout}");
    // Said as frametap's other warnings are, naming the file as `inspect` does.
    let warned = format!(
        "frametap: warning: {}: skipped 1 entry that is not a WebSocket connection",
        fixture("chrome-genesys.har").display()
    );
    assert!(
        String::from_utf8_lossy(&ok.stderr).lines().any(|l| l.starts_with(&warned)),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let failed = run(&[&fixture("chrome-no-websocket.har"), &dir.path().join("none.jsonl")]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("frametap: error: ") && stderr.contains("chrome-no-websocket.har"), "{stderr}");
    assert!(!dir.path().join("none.jsonl").exists());
}
