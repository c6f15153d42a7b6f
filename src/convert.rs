//! `frametap convert IN OUT`: capture (.jsonl, compact .ftcap) ↔ HAR (.har, .zhar), one capture format to the
//! other, or (with `--partial`) a cut-off capture repaired into one of its own format, chosen by the files'
//! extensions; never overwrites OUT.

use crate::capture::{read_capture, CaptureFormat, CaptureWriter, ProblemKind, ReadProblem};
use crate::event::{End, Note, Record, Ts};
use crate::har::{self, HarSource};
use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Convert a capture to a HAR or a HAR to a capture (by extension: .jsonl or .ftcap ↔ .har/.zhar), or a
/// compact capture to JSON Lines and back (.ftcap ↔ .jsonl).
#[derive(clap::Args, Debug, Clone)]
pub struct ConvertCommand {
    /// The file to read: a capture (.jsonl, or .ftcap for a compact one), or a HAR (.har, or mitmproxy's
    /// zlib-compressed .zhar) saved by frametap, Chrome DevTools, mitmproxy or HTTP Toolkit.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// The file to write: .har or .zhar for a HAR; .jsonl or .ftcap for a capture in JSON Lines or compact
    /// form. Never overwritten.
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// Replace secrets (session tokens, JWTs, cookies, Authorization) with placeholders in what is written.
    #[arg(long)]
    pub redact: bool,
    /// Convert what can be read from a cut-off or partly corrupt capture (OUT gets a note naming the skipped lines,
    /// and an end record saying what was lost). With it, IN and OUT may be captures of the same format: a repair.
    #[arg(long)]
    pub partial: bool,
}

/// What a conversion wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertReport {
    pub output: PathBuf,
    pub connections: usize,
    pub frames: usize,
    /// The tool that saved the HAR (HAR → capture only).
    pub source: Option<HarSource>,
    /// What was skipped or guessed, one line each.
    pub warnings: Vec<String>,
}

/// Runs `frametap convert` and prints what it wrote (warnings to stderr).
pub fn run_convert(cmd: ConvertCommand) -> Result<()> {
    let report = convert(&cmd)?;
    for warning in &report.warnings {
        crate::warning!("{}: {warning}", cmd.input.display());
    }
    let from = report.source.map(|s| format!(" (a HAR saved by {})", s.name())).unwrap_or_default();
    println!(
        "wrote {}: {}, {} from {}{from}",
        report.output.display(),
        crate::words::count(report.connections as u64, "connection"),
        crate::words::count(report.frames as u64, "frame"),
        cmd.input.display()
    );
    Ok(())
}

/// The direction of a conversion, from the extensions of IN and OUT.
enum Direction {
    CaptureToHar { zlib: bool },
    HarToCapture(CaptureFormat),
    CaptureToCapture(CaptureFormat),
}

/// With `partial`, a capture to a capture of its own format is a repair (the records that can be read, and a
/// true `end` record); without it, two files of the same kind are refused.
fn direction(input: &Path, output: &Path, partial: bool) -> Result<Direction> {
    let (capture_in, capture_out) = (CaptureFormat::named_by(input), CaptureFormat::named_by(output));
    match (capture_in, har::is_har_path(input), capture_out, har::is_har_path(output)) {
        (Some(_), _, _, true) => Ok(Direction::CaptureToHar { zlib: har::is_zhar_path(output) }),
        (_, true, Some(format), _) => Ok(Direction::HarToCapture(format)),
        (Some(from), _, Some(to), _) if from != to || partial => Ok(Direction::CaptureToCapture(to)),
        (Some(_), _, Some(_), _) => bail!(
            "{} and {} are the same kind of file: convert goes from a capture (.jsonl, .ftcap) to a HAR (.har, .zhar) \
             or back, or from one capture format to the other (.ftcap ↔ .jsonl); to repair a capture that was cut \
             short into one of the same format, pass --partial",
            input.display(),
            output.display()
        ),
        (_, true, _, true) => bail!(
            "{} and {} are the same kind of file: convert goes from a HAR (.har, .zhar) to a capture (.jsonl, .ftcap) \
             or back",
            input.display(),
            output.display()
        ),
        (None, false, _, _) => bail!(
            "{}: unknown kind of file: name a capture *.jsonl (or *.ftcap, compact), or a HAR *.har (or *.zhar, \
             zlib-compressed)",
            input.display()
        ),
        _ => bail!(
            "{}: unknown kind of file to write: name it *.har or *.zhar for a HAR, *.jsonl (or *.ftcap, compact) for a \
             capture",
            output.display()
        ),
    }
}

/// Converts IN to OUT and says what it wrote. OUT is created only after IN was read in full; a failed write removes it.
pub fn convert(cmd: &ConvertCommand) -> Result<ConvertReport> {
    let direction = direction(&cmd.input, &cmd.output, cmd.partial)?;
    crate::paths::refuse_existing(&cmd.output)?;
    match direction {
        Direction::CaptureToHar { zlib } => capture_to_har_file(cmd, zlib),
        Direction::HarToCapture(format) => har_to_capture_file(cmd, format),
        Direction::CaptureToCapture(format) => capture_to_capture_file(cmd, format),
    }
}

/// The records of the capture IN; a cut-off or partly corrupt one only with `--partial`, and then with a note
/// naming what was skipped (also returned as a warning) and a fresh `end` record after it, with true counts,
/// `complete: false` and the losses in `errors`, so that the output is a complete file that converts again.
/// Records kept though they contradict the others are warned about; the flag says whether anything was repaired.
fn read_capture_records(cmd: &ConvertCommand) -> Result<(Vec<Record>, Vec<String>, bool)> {
    let input = &cmd.input;
    let capture = read_capture(input)?;
    // Records kept though they contradict the others are copied as they are, and said.
    let mut warnings: Vec<String> = capture.doubts().map(|doubt| format!("{}: {doubt}", input.display())).collect();
    let Some(what) = capture.incomplete() else {
        return Ok((capture.records, warnings, false));
    };
    if !cmd.partial {
        bail!("{}: {what}; pass --partial to convert the records that could be read", input.display());
    }
    let (dropped, errors) = capture.losses();
    let places: Vec<String> = capture.lost().map(ReadProblem::place).collect();
    let message = if places.is_empty() {
        format!("converted from a capture that was cut short ({}): it has no end record", input.display())
    } else {
        let left_out = capture.lost().any(|problem| problem.kind == ProblemKind::Skipped);
        let what = if left_out { "what could not be read or was left out" } else { "what could not be read" };
        format!("converted from {} without {what}: {}", input.display(), places.join(", "))
    };
    warnings.push(message.clone());
    let mut records: Vec<Record> = capture.records.into_iter().filter(|r| !matches!(r, Record::End(_))).collect();
    let ts = records.last().map(Record::ts).unwrap_or_else(Ts::now);
    records.push(Record::Note(Note { conn: None, ts, level: "warn".into(), code: "convert-partial".into(), message }));
    records.push(Record::End(End::counting(records.iter().map(Record::kind), ts, dropped, errors)));
    Ok((records, warnings, true))
}

fn capture_to_har_file(cmd: &ConvertCommand, zlib: bool) -> Result<ConvertReport> {
    let (records, warnings, _) = read_capture_records(cmd)?;
    let records = redacted(records, cmd.redact);
    let har_value = har::capture_to_har(&records);
    let bytes = har::encode_har(&har_value, zlib)?;
    write_new_file(&cmd.output, |file| file.write_all(&bytes))?;
    Ok(ConvertReport {
        output: cmd.output.clone(),
        connections: har_value["log"]["entries"].as_array().map_or(0, Vec::len),
        frames: records.iter().filter(|r| matches!(r, Record::Frame(_))).count(),
        source: None,
        warnings,
    })
}

fn har_to_capture_file(cmd: &ConvertCommand, format: CaptureFormat) -> Result<ConvertReport> {
    let input = &cmd.input;
    let value = har::read_har(input)?;
    let source = HarSource::detect(&value);
    let (records, warnings) = har::har_to_records(&value).with_context(|| format!("{}", input.display()))?;
    let mut report = write_capture_file(cmd, format, redacted(records, cmd.redact))?;
    report.source = Some(source);
    report.warnings = warnings;
    Ok(report)
}

fn capture_to_capture_file(cmd: &ConvertCommand, format: CaptureFormat) -> Result<ConvertReport> {
    let (records, mut warnings, repaired) = read_capture_records(cmd)?;
    if !repaired && CaptureFormat::named_by(&cmd.input) == Some(format) {
        warnings.push(format!(
            "{} was read in full: nothing to repair, the copy holds the same records",
            cmd.input.display()
        ));
    }
    let mut report = write_capture_file(cmd, format, redacted(records, cmd.redact))?;
    report.warnings = warnings;
    Ok(report)
}

/// Writes `records` to the capture OUT in `format` (its `meta` says that format's version).
fn write_capture_file(cmd: &ConvertCommand, format: CaptureFormat, records: Vec<Record>) -> Result<ConvertReport> {
    let mut writer = CaptureWriter::create_as(&cmd.output, format)?;
    for record in &records {
        writer.write(record);
    }
    writer.flush();
    if let Some(failure) = writer.failed().map(str::to_owned) {
        drop(writer);
        let removed = std::fs::remove_file(&cmd.output).is_ok();
        bail!("{failure}; {}", removed_or_not(&cmd.output, removed));
    }
    Ok(ConvertReport {
        output: cmd.output.clone(),
        connections: records.iter().filter(|r| matches!(r, Record::Open(_))).count(),
        frames: records.iter().filter(|r| matches!(r, Record::Frame(_))).count(),
        source: None,
        warnings: Vec::new(),
    })
}

/// The records with their secrets replaced by stable placeholders (`--redact`), or as they are.
fn redacted(records: Vec<Record>, redact: bool) -> Vec<Record> {
    if !redact {
        return records;
    }
    crate::redact::Redactor::new().redact_all(records)
}

/// Creates `path` (0600, never overwriting) and fills it; on a write error removes it and says so.
fn write_new_file(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<()> {
    let mut file = crate::paths::create_private_file(path)?;
    let result = fill(&mut file).and_then(|()| file.sync_all());
    if let Err(e) = result {
        drop(file);
        let removed = std::fs::remove_file(path).is_ok();
        return Err(anyhow!("writing {} failed: {e}; {}", path.display(), removed_or_not(path, removed)));
    }
    Ok(())
}

fn removed_or_not(path: &Path, removed: bool) -> String {
    if removed {
        "the partial file was removed".into()
    } else {
        format!("{} is incomplete: delete it", path.display())
    }
}
