//! Per-connection downloads: the connection's records as a capture file (as published, or redacted with
//! [`Redactor`]) or as a HAR ([`crate::har::HarDocument`]), each preceded by the capture's `meta` record and
//! followed by an `end` record counting what it holds, so the download is a complete capture file. Its `complete`
//! is false when the UI's history may have forgotten some of the connection's records.
//!
//! Redaction and HAR export need the records themselves, so the hub's JSON lines are read back into
//! [`Record`]s. A line that does not read back is never dropped silently: the download ends with a `note`
//! record (`ui-download-partial`) naming how many were left out, and the response carries
//! `X-Frametap-Skipped-Records`.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::hub::{self, Entry, Hub};
use crate::event::{ConnId, End, Note, Record, Ts};
use crate::redact::Redactor;

/// The header that says how many history lines could not be read back into records.
pub const SKIPPED_HEADER: &str = "x-frametap-skipped-records";

/// What a download asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Capture,
    Har,
}

/// Builds the download of connection `conn` from the hub's history.
pub fn download(hub: &Hub, conn: ConnId, format: Format, want_redacted: bool) -> Response {
    let entries = hub.connection(conn);
    if !entries.iter().any(|e| e.conn == Some(conn)) {
        return (StatusCode::NOT_FOUND, format!("frametap UI: no records for connection {conn} in history\n"))
            .into_response();
    }
    let already_redacted = hub.options().redacted;
    let redacted = want_redacted || already_redacted;
    let suffix = if redacted { "-redacted" } else { "" };
    let lost = history_losses(hub, &entries, conn);
    // Records the pipeline redacted, or an unredacted capture download: the published lines as they are.
    if format == Format::Capture && (already_redacted || !want_redacted) {
        let end = End::counting(entries.iter().map(|e| &*e.kind), Ts::now(), 0, lost);
        let mut body = hub::jsonl(&entries);
        match serde_json::to_string(&Record::End(end)) {
            Ok(line) => {
                body.push_str(&line);
                body.push('\n');
            }
            Err(e) => crate::warning!(
                "the web UI's download of connection {conn} has no end record ({e}): the capture file written by the \
                 proxy is complete"
            ),
        }
        return attachment("application/x-ndjson", &format!("frametap-conn-{conn}{suffix}.jsonl"), body, 0);
    }
    let (mut records, skipped) = read_back(&entries, conn);
    if want_redacted && !already_redacted {
        let mut redactor = Redactor::new();
        records = redactor.redact_all(records);
    }
    let mut errors = lost;
    if skipped > 0 {
        errors.push(format!(
            "{} of connection {conn} in the UI's history could not be read back",
            crate::words::count(skipped as u64, "record")
        ));
    }
    records.push(Record::End(End::counting(records.iter().map(Record::kind), Ts::now(), 0, errors)));
    match format {
        Format::Capture => {
            let mut body = String::new();
            for record in &records {
                match serde_json::to_string(record) {
                    Ok(line) => {
                        body.push_str(&line);
                        body.push('\n');
                    }
                    Err(e) => crate::warning!(
                        "the web UI's download of connection {conn} leaves out a {} record that did not serialise \
                         ({e}): the capture file written by the proxy has it",
                        record.kind()
                    ),
                }
            }
            attachment("application/x-ndjson", &format!("frametap-conn-{conn}{suffix}.jsonl"), body, skipped)
        }
        Format::Har => match serde_json::to_string_pretty(&crate::har::HarDocument::new(&records)) {
            Ok(body) => attachment("application/json", &format!("frametap-conn-{conn}{suffix}.har"), body, skipped),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("frametap UI: the HAR did not serialise: {e}\n"))
                .into_response(),
        },
    }
}

/// Why the download may lack some of the connection's records: the UI's history is bounded and forgets the oldest
/// first. Nothing is missing when the connection's `open` is in history and nothing published since was forgotten.
fn history_losses(hub: &Hub, entries: &[Entry], conn: ConnId) -> Vec<String> {
    let first = entries.iter().find(|e| e.conn == Some(conn));
    if first.is_some_and(|first| &*first.kind == "open" && !hub.forgot_since(first.index)) {
        return Vec::new();
    }
    vec![format!(
        "the UI's history keeps only the latest {} records of each kind and has forgotten older ones: some of \
         connection {conn}'s may be missing from this download; the capture file written by the proxy has them",
        hub.options().history_limit
    )]
}

/// The entries as records; a line that does not read back is counted, and a closing `note` says so.
fn read_back(entries: &[Entry], conn: ConnId) -> (Vec<Record>, usize) {
    let mut records = Vec::with_capacity(entries.len() + 1);
    let mut failed: Vec<String> = Vec::new();
    for entry in entries {
        match serde_json::from_str::<Record>(&entry.json) {
            Ok(record) => records.push(record),
            Err(e) => {
                crate::warning!(
                    "the web UI's download of connection {conn} leaves out a {} record that does not read back \
                     ({e}); a note in the download says so, and the capture file written by the proxy has it",
                    entry.kind
                );
                failed.push(format!("a {} record ({e})", entry.kind));
            }
        }
    }
    if !failed.is_empty() {
        let ts = records.last().map(Record::ts).unwrap_or_else(Ts::now);
        let examples: Vec<&str> = failed.iter().take(3).map(String::as_str).collect();
        records.push(Record::Note(Note::warn(
            "ui-download-partial",
            Some(conn),
            ts,
            format!(
                "{} of connection {conn} in the UI's history could not be read back and are left out of this \
                 download: {}{}; the capture file written by the proxy has them",
                crate::words::count(failed.len() as u64, "record"),
                examples.join("; "),
                if failed.len() > examples.len() { "; …" } else { "" }
            ),
        )));
    }
    (records, failed.len())
}

fn attachment(content_type: &'static str, filename: &str, body: String, skipped: usize) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(HeaderName::from_static(SKIPPED_HEADER), HeaderValue::from(skipped));
    response
}
