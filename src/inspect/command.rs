//! `frametap inspect FILE [--conn N] [--json]`: recompute the analysis of a capture and print it.

use super::report::{finding_line, paint, render_diagnosis, render_token};
use super::{AnalysisArgs, AnalysisOptions, Analyzer};
use crate::capture::CaptureFile;
use crate::event::{Annotation, ConnId, Diagnosis, Frame, Opcode, Record, Token, Ts};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Read a capture, recompute every connection's analysis, and print a timeline and the close diagnosis.
#[derive(clap::Args, Clone, Debug)]
pub struct InspectCommand {
    /// The capture file (written by `frametap proxy --capture`), or a HAR (.har, .zhar), imported as `convert` does.
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

/// One connection's records and what the analysis derived from them.
#[derive(Default)]
struct ConnReport<'a> {
    records: Vec<&'a Record>,
    annotations: BTreeMap<u64, Annotation>,
    tokens: Vec<Token>,
    diagnosis: Option<Diagnosis>,
    findings: Vec<crate::profile::Finding>,
    /// The profile of a connection with no close yet (a closed one's is in its diagnosis).
    profile: Option<&'static str>,
}

/// Builds the `inspect` report without printing it.
pub fn inspect(cmd: &InspectCommand, color: bool) -> Result<InspectOutput> {
    let (capture, har_warnings) = crate::har::read_capture_or_har(&cmd.file)?;
    let stderr: Vec<String> = har_warnings
        .iter()
        .map(|w| format!("frametap: warning: {}: {w}", cmd.file.display()))
        .chain(capture.problems.iter().map(|p| format!("frametap: warning: {}: {p}", cmd.file.display())))
        .collect();
    let ids = capture.connections();
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
    let mut reports = analyse(&capture, &cmd.analysis);
    // What the capture says it lacks (its end record's drops and errors), what could not be read, a missing end.
    let (dropped, losses) = capture.losses();
    let ends_incomplete = capture.records.iter().any(|r| matches!(r, Record::End(end) if !end.complete));
    let complete = dropped == 0 && losses.is_empty() && !ends_incomplete;
    let selected: Vec<ConnId> = ids.into_iter().filter(|id| cmd.conn.is_none_or(|w| w == *id)).collect();
    let stdout = if cmd.json {
        let connections: Vec<Value> =
            selected.iter().filter_map(|id| reports.remove(id).map(|r| conn_json(*id, &r))).collect();
        let problems: Vec<Value> = capture
            .problems
            .iter()
            .map(|p| json!({"line": p.line, "truncated": p.truncated(), "kept": !p.lost(), "message": p.message}))
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
                text.push_str(&timeline(*id, &report, !capture.has_end, color));
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

/// Runs the live analyzer over the capture, record by record, with `seen_at` = each record's own time.
fn analyse<'a>(capture: &'a CaptureFile, args: &AnalysisArgs) -> BTreeMap<ConnId, ConnReport<'a>> {
    let mut analyzer = Analyzer::new(recorded_options(capture, args));
    let mut reports: BTreeMap<ConnId, ConnReport<'a>> = BTreeMap::new();
    for record in &capture.records {
        if matches!(record, Record::Annotation(_) | Record::Token(_) | Record::Diagnosis(_)) {
            continue;
        }
        let derived = analyzer.observe(record, record.ts());
        if let Some(id) = record.conn() {
            reports.entry(id).or_default().records.push(record);
        }
        for out in derived {
            let Some(id) = out.conn() else { continue };
            let report = reports.entry(id).or_default();
            match out {
                Record::Annotation(a) => {
                    report.annotations.insert(a.seq, *a);
                }
                Record::Token(t) => report.tokens.push(*t),
                Record::Diagnosis(d) => report.diagnosis = Some(d),
                _ => {}
            }
        }
    }
    for (id, report) in reports.iter_mut() {
        if report.diagnosis.is_none() {
            report.findings = analyzer.findings(*id).to_vec();
            report.profile = analyzer.profile_name(*id);
        }
    }
    reports
}

fn conn_json(id: ConnId, report: &ConnReport) -> Value {
    let open = report.records.iter().find_map(|r| match r {
        Record::Open(o) => Some(o),
        _ => None,
    });
    let close = report.records.iter().find_map(|r| match r {
        Record::Close(c) => Some(c),
        _ => None,
    });
    let diagnosis = report.diagnosis.as_ref().map(|d| &d.details);
    let preceding_seq =
        diagnosis.and_then(|d| d.get("preceding")).and_then(|p| p.get("seq")).cloned().unwrap_or(Value::Null);
    let findings = match diagnosis.and_then(|d| d.get("findings")) {
        Some(f) => f.clone(),
        None => serde_json::to_value(&report.findings).unwrap_or_default(),
    };
    let frames = report.records.iter().filter(|r| matches!(r, Record::Frame(_))).count();
    json!({
        "conn": id,
        "request": open.map(|o| o.request.path.clone()),
        "upstream": open.and_then(|o| o.upstream.clone()),
        "status": open.and_then(|o| o.response.as_ref().map(|r| r.status)),
        "handshake_ms": open.and_then(|o| o.handshake_ms),
        "frames": frames,
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
        "annotations": report.annotations.values().map(|a| json!({"seq": a.seq, "profile": a.profile, "text": a.text})).collect::<Vec<_>>(),
        "diagnosis": diagnosis.map(|d| Value::Object(d.clone())),
    })
}

/// `cut_short`: the capture has no end record, so a connection without a close may have closed unrecorded.
fn timeline(id: ConnId, report: &ConnReport, cut_short: bool, color: bool) -> String {
    let mut out = String::new();
    let start: Option<Ts> = report.records.first().map(|r| r.ts());
    let rel = |ts: Ts| start.map(|s| ts.secs_since(s)).unwrap_or_default();
    for record in &report.records {
        match record {
            Record::Open(open) => {
                let failed_after_101 = super::refused::failed_after_101(open);
                let status = match &open.response {
                    Some(_) if failed_after_101.is_some() => "HTTP 101, upgrade failed".to_owned(),
                    Some(response) => format!("HTTP {}", response.status),
                    None => "no response".to_owned(),
                };
                let rtt = open.handshake_ms.map(|ms| format!(", handshake {ms:.1} ms")).unwrap_or_default();
                out.push_str(&format!(
                    "{} {} {} → {} ({status}{rtt})\n",
                    paint(&format!("connection {id}"), "1", color),
                    open.request.method,
                    open.request.path,
                    open.upstream.as_deref().unwrap_or("?")
                ));
                if let Some(failed) = failed_after_101 {
                    out.push_str(&format!("  upgrade failed: {failed}\n"));
                } else if let Some(error) = &open.error {
                    out.push_str(&format!("  upstream error: {error}\n"));
                }
            }
            Record::Frame(frame) => {
                out.push_str(&format!("  +{:>9.3}s  {}", rel(frame.ts), frame_summary(frame)));
                if let Some(a) = report.annotations.get(&frame.seq) {
                    out.push_str(&format!("  {}", paint(&format!("‹{}›", a.text), "36", color)));
                }
                out.push('\n');
            }
            Record::Note(note) => out.push_str(&format!(
                "  +{:>9.3}s  note [{}] {}: {}\n",
                rel(note.ts),
                note.level,
                note.code,
                note.message
            )),
            Record::Close(close) => {
                let code = close
                    .code
                    .map(|c| format!("{c} {}", super::close_code_name(c)))
                    .unwrap_or_else(|| "no code".into());
                let how = close.how();
                out.push_str(&format!("  +{:>9.3}s  {} {how}: {code}\n", rel(close.ts), close.closer_phrase()));
            }
            _ => {}
        }
    }
    for token in &report.tokens {
        out.push_str(&render_token(token, color));
    }
    match &report.diagnosis {
        Some(d) => out.push_str(&render_diagnosis(d, color)),
        None => {
            out.push_str(if cut_short {
                "  no close record: the capture was cut short while this connection was open; how it ended is unknown\n"
            } else {
                "  no close record: the capture ends while this connection was still open\n"
            });
            for finding in &report.findings {
                out.push_str(&format!("    {}\n", finding_line(&serde_json::to_value(finding).unwrap_or_default())));
            }
        }
    }
    out
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
                let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
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
