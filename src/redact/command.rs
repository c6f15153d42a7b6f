//! `frametap redact IN OUT`: writes a redacted copy of a capture, keeping every record.

use super::Redactor;
use crate::capture::{CaptureFile, CaptureFormat, CaptureWriter};
use crate::event::Record;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// Write a copy of a capture with its secrets replaced by stable placeholders (for sharing).
#[derive(Debug, Clone, clap::Args)]
pub struct RedactCommand {
    /// The capture to read (JSON Lines, compact, or a HAR: .har, .zhar, or Playwright's .zip).
    pub input: PathBuf,
    /// Where to write the redacted copy (must not exist: frametap never overwrites a file).
    pub output: PathBuf,
}

/// Reads IN, masks every record, writes OUT (0600, never overwriting). Unreadable lines of IN are
/// reported on stderr and named in OUT's `end` record, which then says the capture is incomplete.
pub fn run_redact(cmd: RedactCommand) -> Result<()> {
    crate::paths::refuse_same_file(&cmd.input, &cmd.output)?;
    if crate::har::is_har_path(&cmd.output) {
        bail!(
            "{} is a HAR name, and redact writes a capture (.jsonl, .ftcap); for a redacted HAR run \
             `frametap convert --redact {} {}`",
            cmd.output.display(),
            cmd.input.display(),
            cmd.output.display()
        );
    }
    let (mut source, warnings) = crate::har::open_capture_or_har(&cmd.input)?;
    let unusable = || format!("{} is not a usable frametap capture", cmd.input.display());
    let Some(first) = source.next_record().with_context(unusable)? else {
        // Nothing in it is a record: the read's end says why.
        source.finish().with_context(unusable)?;
        bail!("{}: no records to redact", cmd.input.display());
    };
    // The copy keeps the input's form (a compact capture stays compact) unless OUT's name says otherwise.
    let format = CaptureFormat::named_by(&cmd.output).unwrap_or_else(|| {
        CaptureFormat::of_version(match &first {
            Record::Meta(meta) => meta.version,
            _ => crate::event::FORMAT_VERSION,
        })
    });
    let mut writer = CaptureWriter::create_as(&cmd.output, format)
        .with_context(|| format!("could not create the redacted copy {}", cmd.output.display()))?;
    let mut redactor = Redactor::new();
    // The input is read as the copy is written; the writer writes `end` afresh, with true counts, and the input's
    // losses (its own `end` records' and what could not be read) carry over.
    let mut read = CaptureFile::default();
    let mut written = 0;
    let mut next = Some(first);
    while let Some(record) = next {
        match record {
            Record::End(_) => read.records.push(record),
            record => write_records(&mut writer, redactor.feed(record), &mut written, &cmd.output)?,
        }
        next = match source.next_record() {
            Ok(next) => next,
            Err(error) => {
                drop(writer);
                let removed = std::fs::remove_file(&cmd.output).is_ok();
                let output =
                    if removed { "nothing was written".to_owned() } else { format!("delete {}", cmd.output.display()) };
                return Err(error.context(format!("{}; {output}", unusable())));
            }
        };
    }
    write_records(&mut writer, redactor.finish(), &mut written, &cmd.output)?;
    let end = source.finish().with_context(unusable)?;
    (read.problems, read.has_end) = (end.problems, end.has_end);
    for problem in read.problems.iter().map(ToString::to_string).chain(warnings) {
        crate::notice!("frametap redact: warning: {}: {problem}", cmd.input.display());
    }
    let (dropped, errors) = read.losses();
    let errors = errors.iter().map(|error| redactor.redact_str(error)).collect();
    let end = writer.finish(dropped, errors);
    if let Some(error) = end.errors.iter().find(|e| e.starts_with("writing the capture")) {
        bail!("{error}");
    }
    // Counted as the `end` record counts (the records before it), so the number reads the same in both.
    crate::notice!(
        "frametap redact: wrote {} and the end record to {} ({} replaced{})",
        crate::words::count(end.records, "record"),
        cmd.output.display(),
        crate::words::count(redactor.secrets_replaced() as u64, "distinct secret"),
        if end.complete { "" } else { "; the copy is marked incomplete, see its end record" },
    );
    Ok(())
}

/// Writes redacted records to the copy; a failed write ends the command (the copy says it is incomplete).
fn write_records(
    writer: &mut CaptureWriter,
    records: Vec<Record>,
    written: &mut u64,
    output: &std::path::Path,
) -> Result<()> {
    for record in records {
        if !writer.write(&record) {
            let why = writer.failed().unwrap_or("unknown write error").to_owned();
            bail!("{why} (after {written} records); {} is incomplete", output.display());
        }
        *written += 1;
    }
    Ok(())
}
