//! Loads a saved capture into a [`Hub`] for `frametap ui FILE`.
//!
//! A small private line reader until `frametap::capture::read_capture` lands on main: each line is
//! published as it is (so record kinds this build does not know, like `annotation`, still show);
//! a corrupt line is reported with its number and skipped, a cut-off last line is tolerated.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use super::hub::{Hub, HubOptions, DEFAULT_HISTORY_LIMIT};
use crate::event::FORMAT_NAME;

/// One usable line of a capture.
struct Line {
    kind: String,
    conn: Option<u64>,
    json: String,
}

fn parse(text: &str, path: &Path) -> anyhow::Result<Vec<Line>> {
    let mut lines = Vec::new();
    let total = text.lines().count();
    for (number, raw) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if raw.is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) if number == total && !text.ends_with('\n') => {
                tracing::warn!(
                    "{}: the last line is cut off ({e}); showing the rest",
                    path.display()
                );
                continue;
            }
            Err(e) => {
                tracing::warn!(
                    "{}: line {number} is not a JSON record ({e}); skipped",
                    path.display()
                );
                continue;
            }
        };
        let Some(kind) = value.get("kind").and_then(|k| k.as_str()) else {
            tracing::warn!("{}: line {number} has no \"kind\"; skipped", path.display());
            continue;
        };
        lines.push(Line {
            kind: kind.to_string(),
            conn: value.get("conn").and_then(|c| c.as_u64()),
            json: serde_json::to_string(&value).context("re-serialising a record")?,
        });
    }
    Ok(lines)
}

/// Reads `path` into a hub large enough to hold all of it.
pub fn load(path: &Path) -> anyhow::Result<Arc<Hub>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the capture {}", path.display()))?;
    let lines = parse(&text, path)?;
    if lines.is_empty() {
        anyhow::bail!(
            "{} holds no capture records (expected JSON Lines from `frametap proxy`)",
            path.display()
        );
    }
    let meta = lines.iter().find(|l| l.kind == "meta");
    match meta {
        Some(m) if m.json.contains(&format!("\"format\":\"{FORMAT_NAME}\"")) => {}
        _ => tracing::warn!(
            "{} does not start like a frametap capture; showing what it can",
            path.display()
        ),
    }
    let redacted = meta.is_some_and(|m| m.json.contains("\"redacted\":true"));
    let hub = Hub::new(HubOptions {
        history_limit: lines.len().max(DEFAULT_HISTORY_LIMIT),
        redacted,
    });
    for line in &lines {
        hub.publish_raw(&line.kind, line.conn, &line.json);
    }
    Ok(hub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_and_cut_off_lines_are_skipped() {
        let text = "{\"kind\":\"meta\",\"format\":\"frametap-capture\",\"redacted\":true}\nnot json\n{\"kind\":\"frame\",\"conn\":1}\n{\"kind\":\"fr";
        let lines = parse(text, Path::new("x.jsonl")).unwrap();
        let kinds: Vec<_> = lines.iter().map(|l| (l.kind.as_str(), l.conn)).collect();
        assert_eq!(kinds, vec![("meta", None), ("frame", Some(1))]);
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let err = load(Path::new("/nonexistent/capture.jsonl")).err().unwrap();
        assert!(
            format!("{err:#}").contains("could not read the capture /nonexistent/capture.jsonl")
        );
    }
}
