//! `frametap redact IN OUT`: writes a redacted copy of a capture, keeping every record.

use super::Redactor;
use crate::capture::{CaptureFormat, CaptureWriter};
use crate::event::Record;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// Write a copy of a capture with its secrets replaced by stable placeholders (for sharing).
#[derive(Debug, Clone, clap::Args)]
pub struct RedactCommand {
    /// The capture to read (JSON Lines, compact, or a HAR: .har, .zhar).
    pub input: PathBuf,
    /// Where to write the redacted copy (must not exist: frametap never overwrites a file).
    pub output: PathBuf,
}

/// Reads IN, masks every record, writes OUT (0600, never overwriting). Unreadable lines of IN are
/// reported on stderr and named in OUT's `end` record, which then says the capture is incomplete.
pub fn run_redact(cmd: RedactCommand) -> Result<()> {
    if crate::har::is_har_path(&cmd.output) {
        bail!(
            "{} is a HAR name, and redact writes a capture (.jsonl, .ftcap); for a redacted HAR run \
             `frametap convert --redact {} {}`",
            cmd.output.display(),
            cmd.input.display(),
            cmd.output.display()
        );
    }
    let (capture, warnings) = crate::har::read_capture_or_har(&cmd.input)?;
    for problem in capture.problems.iter().map(ToString::to_string).chain(warnings) {
        crate::notice!("frametap redact: warning: {}: {problem}", cmd.input.display());
    }
    // The copy keeps the input's form (a compact capture stays compact) unless OUT's name says otherwise.
    let format = CaptureFormat::named_by(&cmd.output).unwrap_or_else(|| {
        CaptureFormat::of_version(capture.meta().map_or(crate::event::FORMAT_VERSION, |meta| meta.version))
    });
    let mut writer = CaptureWriter::create_as(&cmd.output, format)
        .with_context(|| format!("could not create the redacted copy {}", cmd.output.display()))?;
    let mut redactor = Redactor::new();
    // The writer writes `end` afresh, with true counts; the input's losses carry over.
    let (dropped, errors) = capture.losses();
    let records = capture.records.into_iter().filter(|record| !matches!(record, Record::End(_)));
    for (written, record) in redactor.redact_all(records).into_iter().enumerate() {
        if !writer.write(&record) {
            let why = writer.failed().unwrap_or("unknown write error").to_owned();
            bail!("{why} (after {written} records); {} is incomplete", cmd.output.display());
        }
    }
    let errors = errors.iter().map(|error| redactor.redact_str(error)).collect();
    let end = writer.finish(dropped, errors);
    if let Some(error) = end.errors.iter().find(|e| e.starts_with("writing the capture")) {
        bail!("{error}");
    }
    crate::notice!(
        "frametap redact: wrote {} to {} ({} replaced{})",
        crate::words::count(end.records + 1, "record"),
        cmd.output.display(),
        crate::words::count(redactor.secrets_replaced() as u64, "distinct secret"),
        if end.complete { "" } else { "; the copy is marked incomplete, see its end record" },
    );
    Ok(())
}
