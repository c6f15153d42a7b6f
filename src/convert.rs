//! `frametap convert IN OUT`: capture (.jsonl, compact .ftcap) ↔ HAR (.har, .zhar), one capture format to the
//! other, or (with `--partial`) a cut-off capture repaired into one of its own format, chosen by the files'
//! extensions; never overwrites OUT.

use crate::capture::{CaptureFile, CaptureFormat, CaptureWriter, ProblemKind, Spill, SpillSpan};
use crate::event::{ConnId, End, Note, Record, RecordCounts, Ts};
use crate::har::{self, HarSource};
use anyhow::{anyhow, bail, Context, Result};
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
    CaptureToHar {
        zlib: bool,
    },
    HarToCapture(CaptureFormat),
    CaptureToCapture(CaptureFormat),
    /// A redacted copy of a HAR (`--redact`), as `frametap redact` points at for a HAR name.
    HarToHar {
        zlib: bool,
    },
}

/// With `partial`, a capture to a capture of its own format is a repair (the records that can be read, and a
/// true `end` record); with `redact`, a HAR to a HAR is a redacted copy; otherwise two files of the same kind are
/// refused.
fn direction(input: &Path, output: &Path, partial: bool, redact: bool) -> Result<Direction> {
    let (capture_in, capture_out) = (CaptureFormat::named_by(input), CaptureFormat::named_by(output));
    match (capture_in, har::is_har_to_read(input), capture_out, har::is_har_path(output)) {
        (Some(_), _, _, true) => Ok(Direction::CaptureToHar { zlib: har::is_zhar_path(output) }),
        (_, true, Some(format), _) => Ok(Direction::HarToCapture(format)),
        (_, true, _, true) if redact => Ok(Direction::HarToHar { zlib: har::is_zhar_path(output) }),
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
             or back; for a redacted copy of a HAR, pass --redact",
            input.display(),
            output.display()
        ),
        (None, false, _, _) => bail!(
            "{}: unknown kind of file: name a capture *.jsonl (or *.ftcap, compact), or a HAR *.har (or *.zhar, \
             zlib-compressed, or a Playwright recordHar *.zip)",
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
    crate::paths::refuse_folder_to_read(&cmd.input)?;
    crate::paths::refuse_same_file(&cmd.input, &cmd.output)?;
    let direction = direction(&cmd.input, &cmd.output, cmd.partial, cmd.redact)?;
    crate::paths::refuse_existing(&cmd.output)?;
    match direction {
        Direction::CaptureToHar { zlib } => capture_to_har_file(cmd, zlib),
        Direction::HarToCapture(format) => har_to_capture_file(cmd, format),
        Direction::CaptureToCapture(format) => capture_to_capture_file(cmd, format),
        Direction::HarToHar { zlib } => har_to_redacted_har_file(cmd, zlib),
    }
}

/// Reads the capture IN into a spill beside OUT as it comes, sorted by connection for its HAR, so that memory does not
/// grow with the capture; a cut-off or partly corrupt one only with `--partial`, and then with a note naming what was
/// skipped (also returned as a warning) and a fresh `end` record in place of its own, with true counts, `complete:
/// false` and the losses in `errors`, so that the output is a complete file that converts again. Records kept though
/// they contradict the others are warned about. With `--redact`, the records are then read back in file order
/// through the redaction into a second spill.
fn spill_capture(cmd: &ConvertCommand) -> Result<(har::SpilledConnections, usize, Vec<String>)> {
    let unusable = || format!("{} is not a usable frametap capture", cmd.input.display());
    let mut stream = crate::capture::open_capture(&cmd.input)?;
    let mut spill = Spill::create_beside(&cmd.output)?;
    // Where each record was put, its connection, and whether it is a frame or an `end` record, in file order.
    let mut read: Vec<(SpillSpan, Option<ConnId>, &'static str)> = Vec::new();
    // Every `end` record of IN (what it says was lost), for the repair.
    let mut summary = CaptureFile::default();
    let (mut counts, mut last_ts) = (RecordCounts::default(), None);
    while let Some(record) = stream.next_record().with_context(unusable)? {
        if matches!(record, Record::End(_)) {
            summary.records.push(record.clone());
        } else {
            counts.add(record.kind());
            last_ts = Some(record.ts());
        }
        read.push((spill.push(&record)?, record.conn(), record.kind()));
    }
    let end = stream.finish().with_context(unusable)?;
    (summary.problems, summary.has_end) = (end.problems, end.has_end);
    let mut warnings = doubts(&summary);
    let tail = repair_tail(cmd, &summary, counts, last_ts)?.map(|(note, end, message)| {
        warnings.push(message);
        [note, end]
    });
    let spill = spill.into_reader()?;
    // A repaired capture's own `end` records give way to the fresh one.
    let repaired = tail.is_some();
    let kept = read.into_iter().filter(|(_, _, kind)| !repaired || *kind != "end");
    let mut sorted = har::ByConnection::default();
    if !cmd.redact {
        for (span, conn, kind) in kept {
            match conn {
                Some(conn) => sorted.place(conn, span, kind == "frame"),
                None => sorted.hold(spill.read(span)?),
            }
        }
        tail.into_iter().flatten().for_each(|record| sorted.hold(record));
        let frames = sorted.frames();
        return Ok((sorted.read_from(spill), frames, warnings));
    }
    let mut redactor = crate::redact::Redactor::new();
    let mut redacted = Spill::create_beside(&cmd.output)?;
    let records = kept.map(|(span, _, _)| spill.read(span)).chain(tail.into_iter().flatten().map(Ok));
    for record in records {
        for record in redactor.feed(record?) {
            sorted.add(record, &mut redacted)?;
        }
    }
    for record in redactor.finish() {
        sorted.add(record, &mut redacted)?;
    }
    let frames = sorted.frames();
    Ok((sorted.read_from(redacted.into_reader()?), frames, warnings))
}

/// Warnings about the records of IN kept though they contradict the others: they are copied as they are. Like every
/// warning of the report, they do not name IN (`run_convert` puts it before each).
fn doubts(capture: &CaptureFile) -> Vec<String> {
    capture.doubts().map(ToString::to_string).collect()
}

/// What ends the copy of an incomplete capture (`summary`: its `end` records, problems and `has_end`; `counts` and
/// `last_ts` for the records before them, `end` records left out): a `convert-partial` note naming what was
/// skipped, a fresh `end` record, and the warning to print. `None` for a complete capture; an error without
/// `--partial`.
fn repair_tail(
    cmd: &ConvertCommand,
    summary: &CaptureFile,
    mut counts: RecordCounts,
    last_ts: Option<Ts>,
) -> Result<Option<(Record, Record, String)>> {
    let input = &cmd.input;
    let Some(what) = summary.incomplete() else {
        return Ok(None);
    };
    if !cmd.partial {
        bail!("{}: {what}; pass --partial to convert the records that could be read", input.display());
    }
    let (dropped, errors) = summary.losses();
    let places: Vec<String> = summary.lost().map(|problem| problem.place.to_string()).collect();
    // The note names IN (it travels with OUT); the warning does not (`run_convert` puts IN before each warning).
    let (message, warning) = if places.is_empty() {
        let cut = "converted from a capture that was cut short";
        (format!("{cut} ({}): it has no end record", input.display()), format!("{cut}: it has no end record"))
    } else {
        let left_out = summary.lost().any(|problem| problem.kind == ProblemKind::Skipped);
        let what = if left_out { "what could not be read or was left out" } else { "what could not be read" };
        let without = format!("without {what}: {}", places.join(", "));
        (format!("converted from {} {without}", input.display()), format!("converted {without}"))
    };
    let ts = last_ts.unwrap_or_else(Ts::now);
    let note = Record::Note(Note::warn("convert-partial", None, ts, message));
    counts.add(note.kind());
    Ok(Some((note, Record::End(End::of(counts, ts, dropped, errors)), warning)))
}

fn capture_to_har_file(cmd: &ConvertCommand, zlib: bool) -> Result<ConvertReport> {
    let (records, frames, warnings) = spill_capture(cmd)?;
    let document = har::HarDocument::spilled(&records);
    write_new_file(&cmd.output, |file| har::write_har(&document, file, zlib))?;
    Ok(ConvertReport { output: cmd.output.clone(), connections: document.entries(), frames, source: None, warnings })
}

fn har_to_capture_file(cmd: &ConvertCommand, format: CaptureFormat) -> Result<ConvertReport> {
    let input = &cmd.input;
    let har::ImportedHar { records, warnings, source, .. } = har::import_har_file(input, false)?;
    let mut report = write_capture_file(cmd, format, records)?;
    report.source = Some(source);
    report.warnings = warnings;
    Ok(report)
}

/// A HAR to a redacted HAR: imported as for a capture (its WebSocket connections; what is not one is warned about),
/// masked, and written as frametap's own HAR. A HAR is read whole anyway (one JSON document), so the records are held.
fn har_to_redacted_har_file(cmd: &ConvertCommand, zlib: bool) -> Result<ConvertReport> {
    let har::ImportedHar { records, warnings, source, .. } = har::import_har_file(&cmd.input, false)?;
    let redacted = crate::redact::Redactor::new().redact_all(records);
    let frames = redacted.iter().filter(|record| matches!(record, Record::Frame(_))).count();
    let document = har::HarDocument::new(&redacted);
    write_new_file(&cmd.output, |file| har::write_har(&document, file, zlib))?;
    Ok(ConvertReport {
        output: cmd.output.clone(),
        connections: document.entries(),
        frames,
        source: Some(source),
        warnings,
    })
}

/// A capture to a capture in another format, or repaired (`--partial`): written as IN is read, so memory does not
/// grow with the capture, to `OUT.part`, which becomes OUT only once IN was read in full (and is complete, or
/// `--partial` allows what it lacks); otherwise it is removed.
fn capture_to_capture_file(cmd: &ConvertCommand, format: CaptureFormat) -> Result<ConvertReport> {
    let stream = crate::capture::open_capture(&cmd.input)?;
    let part = part_path(&cmd.output);
    if part.exists() {
        bail!("{} is left from a conversion that did not finish: delete it, then convert again", part.display());
    }
    let mut copy = CaptureCopy::create(&part, format, cmd.redact)?;
    let copied = copy_capture(cmd, stream, &mut copy).and_then(|copied| copy.finish().map(|()| copied));
    let write_failed = copy.writer.failed().is_some();
    drop(copy.writer);
    let (mut warnings, repaired) = match copied {
        Ok(copied) => copied,
        Err(error) => {
            let removed = std::fs::remove_file(&part).is_ok();
            // A failed write says what became of the file; IN refused (cut short, unreadable) leaves none behind.
            if write_failed || !removed {
                return Err(anyhow!("{error:#}; {}", removed_or_not(&part, removed)));
            }
            return Err(error);
        }
    };
    publish(&part, &cmd.output)?;
    if !repaired && CaptureFormat::named_by(&cmd.input) == Some(format) {
        warnings.push("read in full: nothing to repair, the copy holds the same records".to_owned());
    }
    Ok(ConvertReport {
        output: cmd.output.clone(),
        connections: copy.connections,
        frames: copy.frames,
        source: None,
        warnings,
    })
}

/// Copies the records of IN to `copy` as they are read. An `end` record is held until a record follows it (one
/// in the middle of a joined capture stays where it was); the last is written if IN is complete, else (with
/// `--partial`) a `convert-partial` note and a fresh `end` take its place. Returns the warnings, and whether it
/// repaired IN.
fn copy_capture(
    cmd: &ConvertCommand,
    mut stream: crate::capture::CaptureStream<std::fs::File>,
    copy: &mut CaptureCopy,
) -> Result<(Vec<String>, bool)> {
    let unusable = || format!("{} is not a usable frametap capture", cmd.input.display());
    // Every `end` record of IN (what it says was lost), and those not yet followed by another record.
    let (mut summary, mut held) = (CaptureFile::default(), Vec::new());
    let (mut counts, mut last_ts) = (RecordCounts::default(), None);
    while let Some(record) = stream.next_record().with_context(unusable)? {
        if matches!(record, Record::End(_)) {
            summary.records.push(record.clone());
            held.push(record);
            continue;
        }
        for end in held.drain(..) {
            counts.add(end.kind());
            copy.write(end)?;
        }
        counts.add(record.kind());
        last_ts = Some(record.ts());
        copy.write(record)?;
    }
    let read = stream.finish().with_context(unusable)?;
    (summary.problems, summary.has_end) = (read.problems, read.has_end);
    let mut warnings = doubts(&summary);
    let repair = repair_tail(cmd, &summary, counts, last_ts)?;
    let repaired = repair.is_some();
    let tail = match repair {
        Some((note, end, message)) => {
            warnings.push(message);
            vec![note, end]
        }
        None => held,
    };
    for record in tail {
        copy.write(record)?;
    }
    Ok((warnings, repaired))
}

/// Where `convert` writes a capture as it reads one: the writer, the redaction when asked for, and what it wrote.
struct CaptureCopy {
    writer: CaptureWriter,
    redactor: Option<crate::redact::Redactor>,
    connections: usize,
    frames: usize,
}

impl CaptureCopy {
    /// Creates the capture file at `path` (0600, never overwriting) in `format`.
    fn create(path: &Path, format: CaptureFormat, redact: bool) -> Result<Self> {
        let writer = CaptureWriter::create_as(path, format)?;
        Ok(CaptureCopy { writer, redactor: redact.then(crate::redact::Redactor::new), connections: 0, frames: 0 })
    }

    /// Writes a record, redacted when asked for (the redaction may hold it back until its message is whole).
    fn write(&mut self, record: Record) -> Result<()> {
        match self.redactor.as_mut() {
            Some(redactor) => redactor.feed(record).into_iter().try_for_each(|record| self.put(record)),
            None => self.put(record),
        }
    }

    /// Writes what the redaction still holds, then flushes.
    fn finish(&mut self) -> Result<()> {
        if let Some(held) = self.redactor.as_mut().map(crate::redact::Redactor::finish) {
            held.into_iter().try_for_each(|record| self.put(record))?;
        }
        self.writer.flush();
        self.failed()
    }

    fn put(&mut self, record: Record) -> Result<()> {
        match record {
            Record::Open(_) => self.connections += 1,
            Record::Frame(_) => self.frames += 1,
            _ => {}
        }
        self.writer.write(&record);
        self.failed()
    }

    fn failed(&self) -> Result<()> {
        match self.writer.failed() {
            Some(failure) => bail!("{failure}"),
            None => Ok(()),
        }
    }
}

/// Where a conversion to OUT is written until IN has been read in full: `OUT.part`.
fn part_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    output.with_file_name(name)
}

/// Makes the finished `part` file OUT, never overwriting a file created meanwhile.
fn publish(part: &Path, output: &Path) -> Result<()> {
    match std::fs::hard_link(part, output) {
        Ok(()) => {
            let _ = std::fs::remove_file(part);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} was created while converting, and is not overwritten: the conversion is in {}",
            output.display(),
            part.display()
        ),
        // A file system without hard links: a rename, once more making sure OUT is not there.
        Err(_) if !output.exists() => std::fs::rename(part, output)
            .with_context(|| format!("could not rename {} to {}", part.display(), output.display())),
        Err(e) => bail!("could not name the conversion {} ({e}): it is in {}", output.display(), part.display()),
    }
}

/// Writes `records` to the capture OUT in `format` (its `meta` says that format's version), redacted with
/// `--redact`; a failed write removes OUT and says so.
fn write_capture_file(
    cmd: &ConvertCommand,
    format: CaptureFormat,
    records: impl IntoIterator<Item = Record>,
) -> Result<ConvertReport> {
    let mut copy = CaptureCopy::create(&cmd.output, format, cmd.redact)?;
    let written = records.into_iter().try_for_each(|record| copy.write(record)).and_then(|()| copy.finish());
    drop(copy.writer);
    if let Err(error) = written {
        let removed = std::fs::remove_file(&cmd.output).is_ok();
        bail!("{error:#}; {}", removed_or_not(&cmd.output, removed));
    }
    Ok(ConvertReport {
        output: cmd.output.clone(),
        connections: copy.connections,
        frames: copy.frames,
        source: None,
        warnings: Vec::new(),
    })
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
