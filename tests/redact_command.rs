//! `frametap redact` end to end, and the pipeline writing a redacted capture: damaged inputs, clear errors, HARs.

mod common;

use common::redact::*;
use frametap::capture::{read_capture, CaptureWriter};
use frametap::event::Record;
use frametap::redact::{run_redact, RedactCommand, Redactor};
use serde_json::json;

fn write_capture(path: &std::path::Path, with_end: bool) {
    let mut writer = CaptureWriter::create(path).unwrap();
    let token = jwt(json!({"exp": T0 + 60}));
    for record in [
        meta(&["frametap", "proxy"]),
        open(&format!("/v1?deploymentId={DEPLOYMENT}"), &[("Authorization", &format!("Bearer {token}"))], &[]),
        text(1, &json!({"action":"configureSession","deploymentId":DEPLOYMENT,"token":SESSION}).to_string()),
        text(2, r#"{"type":"response","class":"SessionResponse","code":200,"body":{"connected":true}}"#),
    ] {
        assert!(writer.write(&record));
    }
    if with_end {
        writer.finish(0, vec![]);
    } else {
        writer.flush();
    }
}

#[test]
fn redact_command_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    write_capture(&input, true);
    run_redact(RedactCommand { input: input.clone(), output: output.clone() }).unwrap();

    let original = read_capture(&input).unwrap();
    let copy = read_capture(&output).unwrap();
    assert_eq!(copy.records.len(), original.records.len(), "every record kept, end included");
    assert!(copy.has_end && copy.problems.is_empty());
    assert!(copy.meta().unwrap().redacted);
    let Some(Record::End(end)) = copy.records.last() else { panic!("no end record") };
    assert!(end.complete && end.frames == 2 && end.connections == 1, "{end:?}");
    let raw = std::fs::read_to_string(&output).unwrap();
    assert!(!raw.contains(SESSION), "{raw}");
    assert!(raw.contains(DEPLOYMENT));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&output).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Never overwrites.
    let err = run_redact(RedactCommand { input: input.clone(), output: output.clone() }).unwrap_err();
    assert!(format!("{err:#}").contains("already exists"), "{err:#}");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), raw);
}

#[test]
fn redact_command_keeps_going_past_corrupt_and_cut_off_lines_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    write_capture(&input, false);
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.insert_str(text.find('\n').unwrap() + 1, "this is not a record\n");
    text.push_str(r#"{"kind":"frame","conn":1,"#);
    std::fs::write(&input, text).unwrap();
    run_redact(RedactCommand { input, output: output.clone() }).unwrap();
    let copy = read_capture(&output).unwrap();
    assert_eq!(copy.records.len(), 5, "4 good records + a new end");
    let Some(Record::End(end)) = copy.records.last() else { panic!("no end record") };
    assert!(!end.complete);
    let errors = end.errors.join("\n");
    assert!(errors.contains("line 2: corrupt record"), "{errors}");
    assert!(errors.contains("line 6: cut off"), "{errors}");
    assert!(errors.contains("no end record"), "{errors}");
}

#[test]
fn redact_command_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let err = run_redact(RedactCommand { input: missing, output: dir.path().join("o.jsonl") }).unwrap_err();
    assert!(format!("{err:#}").contains("could not read the capture"), "{err:#}");
    assert!(!dir.path().join("o.jsonl").exists());
}

/// OUT naming IN itself (or another path to it) is said to be IN, before `convert` would suggest `--partial` for two
/// captures of one format, or either command that OUT exists; the file is left as it was.
#[test]
fn writing_over_the_file_read_is_refused_as_that() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("c.jsonl");
    write_capture(&input, true);
    let before = std::fs::read(&input).unwrap();
    let other_path = dir.path().join(".").join("c.jsonl");
    let said = "c.jsonl is the file to read, and frametap never writes over it: name a new file to write";
    for output in [&input, &other_path] {
        let convert = frametap::convert::ConvertCommand {
            input: input.clone(),
            output: output.clone(),
            redact: false,
            partial: false,
        };
        let err = format!("{:#}", frametap::convert::convert(&convert).unwrap_err());
        assert!(err.ends_with(said) && !err.contains("--partial"), "{err}");
        let err =
            format!("{:#}", run_redact(RedactCommand { input: input.clone(), output: output.clone() }).unwrap_err());
        assert!(err.ends_with(said), "{err}");
    }
    assert_eq!(std::fs::read(&input).unwrap(), before, "the capture is untouched");
}

/// A Chrome HAR is redacted into a capture (its session token gone); a HAR name for OUT points at
/// `convert --redact`, which writes HARs.
#[test]
fn redact_takes_a_har_and_points_at_convert_for_a_har_copy() {
    let dir = tempfile::tempdir().unwrap();
    let har = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har/chrome-genesys.har");
    let secret = "a3c1d1e2-77b4-4c0b-bb0c-91f5a4e0d2c7";
    assert!(std::fs::read_to_string(&har).unwrap().contains(secret));
    let output = dir.path().join("redacted.jsonl");
    run_redact(RedactCommand { input: har.clone(), output: output.clone() }).unwrap();
    let copy = std::fs::read_to_string(&output).unwrap();
    assert!(!copy.contains(secret), "{copy}");
    let frames = read_capture(&output).unwrap().records.iter().filter(|r| matches!(r, Record::Frame(_))).count();
    assert!(frames > 0, "the HAR's messages are in the copy");

    let as_har = dir.path().join("redacted.har");
    let err = run_redact(RedactCommand { input: har.clone(), output: as_har.clone() }).unwrap_err().to_string();
    assert!(err.contains("frametap convert --redact"), "{err}");
    assert!(!as_har.exists());

    // The command it points at works: a HAR in, a redacted HAR out (it used to be refused as "the same kind of file").
    let hint = err.split('`').nth(1).expect("the hint is a command in backquotes");
    let args: Vec<&str> = hint.split(' ').collect();
    assert_eq!(args[..2], ["frametap", "convert"], "{hint}");
    let status = common::binary::frametap_command().args(&args[1..]).status().unwrap();
    assert!(status.success(), "{hint}");
    let copy = std::fs::read_to_string(&as_har).unwrap();
    assert!(!copy.contains(secret), "{copy}");
    let (records, _) = frametap::har::har_json_to_records(copy.as_bytes()).unwrap();
    let Some(Record::Meta(meta)) = records.first() else { panic!("no meta record") };
    assert!(meta.redacted, "{meta:?}");
    let copied_frames = records.iter().filter(|r| matches!(r, Record::Frame(_))).count();
    assert_eq!(copied_frames, frames, "the redacted HAR holds the messages the capture copy does");
}

/// `proxy --redact` runs the Redactor as the pipeline's redaction stage: what reaches the capture is masked.
#[tokio::test]
async fn the_pipeline_writes_a_redacted_capture() {
    use frametap::pipeline::{self, LagPolicy, PipelineOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    let Record::Meta(meta) = meta(&["frametap", "proxy", "--redact"]) else { unreachable!() };
    let (sink, running) = pipeline::start(PipelineOptions {
        meta: *meta,
        capture: Some(CaptureWriter::create(&path).unwrap()),
        log: None,
        analysis: None,
        redaction: Some(Box::new(Redactor::new())),
        publishers: vec![],
        on_lag: LagPolicy::Block,
        buffer: 16,
    });
    let bearer = jwt(json!({"exp": T0 + 60}));
    sink.emit(open(&format!("/v1?token={SESSION}"), &[("Authorization", &format!("Bearer {bearer}"))], &[])).await;
    sink.emit(text(1, &json!({"action":"configureSession","deploymentId":DEPLOYMENT,"token":SESSION}).to_string()))
        .await;
    let summary = running.finish().await;
    assert!(summary.end.complete);
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains(SESSION) && !raw.contains(signature(&bearer)), "{raw}");
    let capture = read_capture(&path).unwrap();
    assert!(capture.meta().unwrap().redacted);
    assert_eq!(capture.records.len(), 4, "meta, open, frame, end");
}

/// The `frametap redact` binary: skipped lines are named on stderr, a missing input fails with a clear message.
#[test]
fn the_redact_subcommand_reports_on_stderr_and_exits_non_zero_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    write_capture(&input, true);
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.insert_str(text.find('\n').unwrap() + 1, "garbage\n");
    std::fs::write(&input, text).unwrap();
    let run = |args: &[&std::path::Path]| {
        crate::common::binary::frametap_command().arg("redact").args(args).output().unwrap()
    };
    let done = run(&[&input, &output]);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    assert!(stderr.contains("line 2: corrupt record (skipped)"), "{stderr}");
    assert!(stderr.contains("marked incomplete"), "{stderr}");
    assert!(!std::fs::read_to_string(&output).unwrap().contains(SESSION));

    let again = run(&[&input, &output]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let missing = run(&[&dir.path().join("nope.jsonl"), &dir.path().join("x.jsonl")]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("could not read the capture"));
}

/// The line `redact` ends with counts records as the copy's `end` record does (those before it): it used to say
/// "wrote 5 records" of a copy whose `end` says `"records": 4`, which reads as a record lost.
#[test]
fn the_redact_line_counts_the_records_as_the_end_record_does() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    write_capture(&input, true);
    let done = crate::common::binary::frametap_command().arg("redact").arg(&input).arg(&output).output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    let copy = read_capture(&output).unwrap();
    let Some(Record::End(end)) = copy.records.last() else { panic!("no end record") };
    assert_eq!(end.records, 4, "meta, open and two frames");
    let said = format!("frametap redact: wrote {} records and the end record to {}", end.records, output.display());
    assert!(stderr.contains(&said), "{stderr}");
}
