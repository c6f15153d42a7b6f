//! `frametap inspect FILE [--conn N] [--json]`: recompute the analysis of a capture and print it.

use super::report::{finding_line, paint, render_diagnosis, render_token};
use super::{AnalysisArgs, AnalysisOptions, Analyzer};
use crate::capture::CaptureFile;
use crate::event::{Annotation, Close, ConnId, Diagnosis, Frame, Opcode, Open, Record, Token, Ts};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Read a capture, recompute every connection's analysis, and print a timeline and the close diagnosis.
#[derive(clap::Args, Clone, Debug)]
pub struct InspectCommand {
    /// The capture file (written by `frametap proxy --capture`), or a HAR (.har, .zhar, or Playwright's .zip), imported as `convert` does.
    pub file: PathBuf,
    /// Only this connection.
    #[arg(long, value_name = "N", value_parser = crate::cli::parse_conn_id, allow_negative_numbers = true)]
    pub conn: Option<u64>,
    /// Print a JSON report instead of the timeline.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// What `inspect` prints: the report on stdout, the capture's read problems on stderr.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectOutput {
    pub stdout: String,
    pub stderr: Vec<String>,
}

/// Runs `frametap inspect`; an error (missing or unreadable file, unknown `--conn`) means a non-zero exit.
pub fn run_inspect(cmd: InspectCommand) -> Result<()> {
    let color = !cmd.json && crate::log::colours_for(std::io::stdout().is_terminal());
    let output = inspect(&cmd, color)?;
    for line in &output.stderr {
        crate::notice!("{line}");
    }
    // The report's prose wraps as the live log's does: to `COLUMNS` or the terminal, never in a pipe.
    let text = match crate::log::Width::for_stdout().columns().filter(|_| !cmd.json) {
        Some(width) => crate::log::wrap(&output.stdout, width),
        None => output.stdout,
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// What `inspect` keeps of one connection as the capture goes by: its timeline's lines (for a text report on it)
/// and what the analysis derived, never its records, so a capture of any size is inspected in the memory its
/// report takes.
#[derive(Default)]
struct ConnReport {
    /// The time of its first record: the timeline's times count from it.
    start: Option<Ts>,
    /// The text timeline, one line each; a frame's line gets its annotation when the report is written.
    lines: Vec<TimelineLine>,
    /// Its first `open` and `close` (the JSON report's fields).
    open: Option<Box<Open>>,
    close: Option<Close>,
    frames: u64,
    /// Each annotated frame's profile and text, by `seq` (a message's annotation comes at its last fragment).
    annotations: BTreeMap<u64, (String, String)>,
    tokens: Vec<Token>,
    diagnosis: Option<Diagnosis>,
    findings: Vec<crate::profile::Finding>,
    /// The profile of a connection with no close yet (a closed one's is in its diagnosis).
    profile: Option<&'static str>,
    /// Imported from a HAR (its `har-import-incomplete` note): a missing close is the HAR's, not a cut capture's.
    from_har: bool,
}

/// A line of a connection's text timeline: a frame's carries its `seq`, for its annotation.
struct TimelineLine {
    seq: Option<u64>,
    text: String,
}

/// What `inspect` was asked for, as the records go by.
struct Wanted {
    conn: Option<ConnId>,
    text: bool,
    color: bool,
}

impl Wanted {
    fn keeps(&self, conn: ConnId) -> bool {
        self.conn.is_none_or(|wanted| wanted == conn)
    }
}

/// Builds the `inspect` report without printing it.
pub fn inspect(cmd: &InspectCommand, color: bool) -> Result<InspectOutput> {
    let (mut input, har_warnings) = crate::har::open_capture_or_har(&cmd.file)?;
    let unusable = || format!("{} is not a usable frametap capture", cmd.file.display());
    let wanted = Wanted { conn: cmd.conn, text: !cmd.json, color };
    // The records no connection owns (meta, end, session notes): what the report's heading needs.
    let mut capture = CaptureFile::default();
    // The connections in order of their first record.
    let (mut ids, mut seen): (Vec<ConnId>, std::collections::BTreeSet<ConnId>) = Default::default();
    let mut reports: BTreeMap<ConnId, ConnReport> = BTreeMap::new();
    let mut analyzer: Option<Analyzer> = None;
    while let Some(record) = input.next_record().with_context(unusable)? {
        // The analysis the capture was recorded with, from its meta record (the first, when it has one).
        let analyzer = analyzer.get_or_insert_with(|| {
            let command = match &record {
                Record::Meta(meta) => meta.command.as_slice(),
                _ => &[],
            };
            Analyzer::new(options_recorded_in(command, &cmd.analysis))
        });
        if let Some(id) = record.conn().filter(|id| seen.insert(*id)) {
            ids.push(id);
        }
        observe(analyzer, record, &wanted, &mut reports, &mut capture);
    }
    let read = input.finish().with_context(unusable)?;
    (capture.problems, capture.has_end) = (read.problems, read.has_end);
    if let Some(analyzer) = &analyzer {
        for (id, report) in reports.iter_mut() {
            if report.diagnosis.is_none() {
                report.findings = analyzer.findings(*id).to_vec();
                report.profile = analyzer.profile_name(*id);
            }
        }
    }
    let stderr: Vec<String> = har_warnings
        .iter()
        .map(|w| format!("frametap: warning: {}: {w}", cmd.file.display()))
        .chain(capture.problems.iter().map(|p| format!("frametap: warning: {}: {p}", cmd.file.display())))
        .collect();
    if let Some(wanted) = cmd.conn {
        if !ids.contains(&wanted) {
            let list = if ids.is_empty() {
                "none".to_string()
            } else {
                ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            };
            bail!("connection {wanted} is not in {}: the connections it holds are {list}", cmd.file.display());
        }
    }
    // What the capture says it lacks (its end record's drops and errors), what could not be read, a missing end.
    let (dropped, losses) = capture.losses();
    let ends_incomplete = capture.records.iter().any(|r| matches!(r, Record::End(end) if !end.complete));
    let complete = dropped == 0 && losses.is_empty() && !ends_incomplete;
    let selected: Vec<ConnId> = ids.into_iter().filter(|id| wanted.keeps(*id)).collect();
    let stdout = if cmd.json {
        let connections: Vec<Value> =
            selected.iter().filter_map(|id| reports.remove(id).map(|r| conn_json(*id, &r))).collect();
        let problems: Vec<Value> = capture
            .problems
            .iter()
            .map(|p| json!({"line": p.place.line, "truncated": p.truncated(), "kept": !p.lost(), "message": p.message}))
            .collect();
        let report = json!({
            "file": cmd.file.display().to_string(),
            "complete": complete,
            "dropped": dropped,
            "losses": losses,
            "problems": problems,
            "connections": connections,
        });
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        let mut text = String::new();
        if !capture.has_end {
            text.push_str(
                "note: the capture has no `end` record: it was cut short (frametap stopped or crashed while writing \
                 it), or a frametap still running is writing it\n\n",
            );
        } else if !complete {
            // The end record's own errors name the drops; a bare count only when they do not.
            let mut why = losses.clone();
            if why.is_empty() && dropped > 0 {
                why.push(format!("{} dropped while capturing", crate::words::count(dropped, "record")));
            }
            if why.is_empty() {
                why.push("its end record says so".into());
            }
            text.push_str(&format!("note: the capture is incomplete: {}\n\n", why.join("; ")));
        }
        if selected.is_empty() {
            text.push_str("the capture holds no connections\n");
        }
        for id in &selected {
            if let Some(report) = reports.remove(id) {
                write_timeline(&mut text, report, !capture.has_end, color);
                text.push('\n');
            }
        }
        text
    };
    Ok(InspectOutput { stdout, stderr })
}

/// The analysis the capture was recorded with: `--profile` and `--require-scope` from its `meta.command`,
/// unless `args` gives others (a profile other than auto, any scope), so `inspect` recomputes what the live
/// run derived.
pub fn recorded_options(capture: &CaptureFile, args: &AnalysisArgs) -> AnalysisOptions {
    options_recorded_in(capture.meta().map(|meta| meta.command.as_slice()).unwrap_or_default(), args)
}

/// [`recorded_options`] from a capture's `meta.command`.
pub fn options_recorded_in(command: &[String], args: &AnalysisArgs) -> AnalysisOptions {
    use clap::ValueEnum as _;
    let mut options = args.options();
    let values = |flag: &str| -> Vec<String> {
        let prefix = format!("{flag}=");
        let mut found = Vec::new();
        for (i, arg) in command.iter().enumerate() {
            if arg == flag {
                found.extend(command.get(i + 1).cloned());
            } else if let Some(value) = arg.strip_prefix(&prefix) {
                found.push(value.to_owned());
            }
        }
        found
    };
    if options.profile == crate::profile::ProfileChoice::Auto {
        if let Some(profile) =
            values("--profile").iter().find_map(|v| crate::profile::ProfileChoice::from_str(v, true).ok())
        {
            options.profile = profile;
        }
    }
    if options.require_scopes.is_empty() {
        options.require_scopes = values("--require-scope");
    }
    options
}

/// Runs the live analyzer on one record, with `seen_at` = the record's own time, and keeps what the report needs of
/// it and of what the analysis derives; records that no connection owns go to `capture`.
fn observe(
    analyzer: &mut Analyzer,
    record: Record,
    wanted: &Wanted,
    reports: &mut BTreeMap<ConnId, ConnReport>,
    capture: &mut CaptureFile,
) {
    // What the analysis derived when the capture was written: it is derived again.
    if matches!(record, Record::Annotation(_) | Record::Token(_) | Record::Diagnosis(_)) {
        return;
    }
    let derived = analyzer.observe(&record, record.ts());
    match record.conn() {
        Some(id) if wanted.keeps(id) => reports.entry(id).or_default().keep(record, wanted),
        Some(_) => {}
        None => capture.records.push(record),
    }
    for out in derived {
        let Some(report) = out.conn().filter(|id| wanted.keeps(*id)).map(|id| reports.entry(id).or_default()) else {
            continue;
        };
        match out {
            Record::Annotation(a) => {
                let Annotation { seq, profile, text, .. } = *a;
                report.annotations.insert(seq, (profile, text));
            }
            Record::Token(t) => report.tokens.push(*t),
            Record::Diagnosis(d) => report.diagnosis = Some(d),
            _ => {}
        }
    }
}

impl ConnReport {
    /// Keeps what the report needs of one of the connection's records: its timeline line, for a text report.
    fn keep(&mut self, record: Record, wanted: &Wanted) {
        let start = *self.start.get_or_insert(record.ts());
        let at = |ts: Ts| ts.secs_since(start);
        let color = wanted.color;
        let (seq, text) = match &record {
            Record::Open(open) => (None, open_line(record.conn().unwrap_or_default(), open, color)),
            Record::Frame(frame) => {
                self.frames += 1;
                (Some(frame.seq), format!("  +{:>9.3}s  {}", at(frame.ts), frame_summary(frame)))
            }
            Record::Note(note) => {
                self.from_har |= note.code == "har-import-incomplete";
                (None, format!("  +{:>9.3}s  note [{}] {}: {}\n", at(note.ts), note.level, note.code, note.message))
            }
            Record::Close(close) => {
                let code = close
                    .code
                    .map(|c| format!("{c} {}", super::close_code_name(c)))
                    .unwrap_or_else(|| "no code".into());
                let how = close.how();
                (None, format!("  +{:>9.3}s  {} {how}: {code}\n", at(close.ts), close.closer_phrase()))
            }
            _ => return,
        };
        if wanted.text {
            self.lines.push(TimelineLine { seq, text });
        }
        match record {
            Record::Open(open) if self.open.is_none() => self.open = Some(open),
            Record::Close(close) if self.close.is_none() => self.close = Some(close),
            _ => {}
        }
    }
}

/// A connection's `open` as the timeline heads it: the request, where it went, and how the upstream answered.
fn open_line(id: ConnId, open: &Open, color: bool) -> String {
    let failed_after_101 = super::refused::failed_after_101(open);
    let status = match &open.response {
        Some(_) if failed_after_101.is_some() => "HTTP 101, upgrade failed".to_owned(),
        Some(response) => format!("HTTP {}", response.status),
        None => "no response".to_owned(),
    };
    let rtt = open.handshake_ms.map(|ms| format!(", handshake {ms:.1} ms")).unwrap_or_default();
    let mut line = format!(
        "{} {} {} → {} ({status}{rtt})\n",
        paint(&format!("connection {id}"), "1", color),
        open.request.method,
        open.request.path,
        open.upstream.as_deref().unwrap_or("?")
    );
    if let Some(failed) = failed_after_101 {
        line.push_str(&format!("  upgrade failed: {failed}\n"));
    } else if let Some(error) = &open.error {
        line.push_str(&format!("  upstream error: {error}\n"));
    }
    line
}

fn conn_json(id: ConnId, report: &ConnReport) -> Value {
    let open = report.open.as_deref();
    let close = report.close.as_ref();
    let diagnosis = report.diagnosis.as_ref().map(|d| &d.details);
    let preceding_seq =
        diagnosis.and_then(|d| d.get("preceding")).and_then(|p| p.get("seq")).cloned().unwrap_or(Value::Null);
    let findings = match diagnosis.and_then(|d| d.get("findings")) {
        Some(f) => f.clone(),
        None => serde_json::to_value(&report.findings).unwrap_or_default(),
    };
    json!({
        "conn": id,
        "request": open.map(|o| o.request.path.clone()),
        "upstream": open.and_then(|o| o.upstream.clone()),
        "status": open.and_then(|o| o.response.as_ref().map(|r| r.status)),
        "handshake_ms": open.and_then(|o| o.handshake_ms),
        "frames": report.frames,
        "opened": diagnosis.and_then(|d| d.get("opened")).cloned().unwrap_or(Value::Bool(open.is_some_and(|o| o.relayed_response().is_some_and(|r| r.status == 101)))),
        "profile": diagnosis.and_then(|d| d.get("profile")).cloned().or(report.profile.map(Value::from)).unwrap_or(Value::Null),
        "close": close.map(|c| json!({
            "initiator": c.closer_name(),
            "code": c.code,
            "code_name": c.code.map(super::close_code_name),
            "reason": c.reason,
            "clean": c.clean,
            "duration_ms": c.duration_ms,
            "detail": c.detail,
            "preceding_seq": preceding_seq,
        })),
        "causes": diagnosis.and_then(|d| d.get("causes")).cloned().unwrap_or(Value::Array(vec![])),
        "findings": findings,
        "tokens": report.tokens.iter().map(|t| serde_json::to_value(t).unwrap_or_default()).collect::<Vec<_>>(),
        "annotations": report.annotations.iter().map(|(seq, (profile, text))| json!({"seq": seq, "profile": profile, "text": text})).collect::<Vec<_>>(),
        "diagnosis": diagnosis.map(|d| Value::Object(d.clone())),
    })
}

/// Writes a connection's timeline, its tokens and its diagnosis to `out`. `cut_short`: the capture has no end
/// record, so a connection without a close may have closed unrecorded.
fn write_timeline(out: &mut String, report: ConnReport, cut_short: bool, color: bool) {
    for line in report.lines {
        out.push_str(&line.text);
        let Some(seq) = line.seq else { continue };
        if let Some((_, text)) = report.annotations.get(&seq) {
            out.push_str(&format!("  {}", paint(&format!("‹{text}›"), "36", color)));
        }
        out.push('\n');
    }
    for token in &report.tokens {
        out.push_str(&render_token(token, color));
    }
    match &report.diagnosis {
        Some(d) => out.push_str(&render_diagnosis(d, color)),
        None => {
            out.push_str(if report.from_har {
                "  no close record: the HAR does not record how this connection ended (its note above says what the \
                 tool that saved it leaves out)\n"
            } else if cut_short {
                "  no close record: the capture was cut short while this connection was open; how it ended is unknown\n"
            } else {
                "  no close record: the capture ends while this connection was still open\n"
            });
            for finding in &report.findings {
                out.push_str(&format!("    {}\n", finding_line(&serde_json::to_value(finding).unwrap_or_default())));
            }
        }
    }
}

fn frame_summary(frame: &Frame) -> String {
    let to = frame.to.as_str();
    let head = format!("#{:<4} {}→{to} {}", frame.seq, frame.from.as_str(), frame.opcode.name());
    let body = match frame.opcode {
        Opcode::Close => {
            let (code, reason) = frame.close_parts();
            match code {
                Some(code) => format!(
                    "{code} {}{}",
                    super::close_code_name(code),
                    reason.filter(|r| !r.is_empty()).map(|r| format!(" {r:?}")).unwrap_or_default()
                ),
                None => "(no code)".into(),
            }
        }
        _ => match frame.preview_text() {
            Some(text) => {
                // On one line, its bidirectional controls escaped as the live log shows them: raw, they would
                // reorder the line on screen.
                let flat = super::close::one_line(&text);
                match flat.char_indices().nth(120) {
                    Some((cut, _)) => format!("{}…", &flat[..cut]),
                    None => flat,
                }
            }
            None => format!("<{} bytes>", frame.len),
        },
    };
    let fin = if frame.fin { "" } else { " (fin=0)" };
    format!("{head}{fin} {}B  {body}", frame.len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Peer, Ts};

    fn frame(opcode: Opcode, payload: &'static [u8]) -> Frame {
        Frame::whole(1, Ts::now(), 1, Peer::Server, opcode, bytes::Bytes::from_static(payload))
    }

    /// A payload or close reason cannot reorder the timeline's line: `attachment: \u{202e}fdp.exe` printed raw reads
    /// `attachment: exe.pdf` on a terminal. It was printed raw (only control characters were replaced).
    #[test]
    fn bidirectional_controls_are_escaped_in_the_timeline() {
        let text = frame(Opcode::Text, "attachment: \u{202e}fdp.exe\nnext".as_bytes());
        assert!(
            frame_summary(&text).ends_with(r"text 27B  attachment: \u{202e}fdp.exe next"),
            "{}",
            frame_summary(&text)
        );
        let close = frame(Opcode::Close, b"\x03\xe8bye \xe2\x81\xa6x"); // 1000, "bye \u{2066}x"
        let said = frame_summary(&close);
        assert!(said.contains("close 10B  1000 Normal Closure") && said.contains(r"\u{2066}"), "{said}");
        assert!(!said.contains('\u{2066}'), "{said}");
    }
}
