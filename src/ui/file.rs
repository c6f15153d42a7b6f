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
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// What the UI needs from a line: the first `kind` (the record's; a token's details may add a
/// second `kind` naming the token's kind) and the connection.
#[derive(Default)]
struct Head {
    kind: Option<String>,
    conn: Option<u64>,
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeadVisitor;
        impl<'de> Visitor<'de> for HeadVisitor {
            type Value = Head;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
                let mut head = Head::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        "kind" if head.kind.is_none() => head.kind = map.next_value()?,
                        "conn" if head.conn.is_none() => head.conn = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(head)
            }
        }
        d.deserialize_map(HeadVisitor)
    }
}

/// One usable line of a capture.
struct Line {
    kind: String,
    conn: Option<u64>,
    json: String,
}

fn parse(text: &str, path: &Path) -> Vec<Line> {
    let mut lines = Vec::new();
    let total = text.lines().count();
    for (number, raw) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if raw.is_empty() {
            continue;
        }
        let head: Head = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) if number == total && !text.ends_with('\n') => {
                tracing::warn!("{}: the last line is cut off ({e}); showing the rest", path.display());
                continue;
            }
            Err(e) => {
                tracing::warn!("{}: line {number} is not a JSON record ({e}); skipped", path.display());
                continue;
            }
        };
        let Some(kind) = head.kind else {
            tracing::warn!("{}: line {number} has no \"kind\"; skipped", path.display());
            continue;
        };
        let conn = head.conn;
        lines.push(Line { kind, conn, json: raw.to_string() });
    }
    lines
}

/// Reads `path` into a hub large enough to hold all of it.
pub fn load(path: &Path) -> anyhow::Result<Arc<Hub>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("could not read the capture {}", path.display()))?;
    let lines = parse(&text, path);
    if lines.is_empty() {
        anyhow::bail!("{} holds no capture records (expected JSON Lines from `frametap proxy`)", path.display());
    }
    let meta = lines.iter().find(|l| l.kind == "meta");
    match meta {
        Some(m) if m.json.contains(FORMAT_NAME) => {}
        _ => tracing::warn!("{} does not start like a frametap capture; showing what it can", path.display()),
    }
    let redacted = meta
        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m.json).ok())
        .is_some_and(|m| m["redacted"] == true);
    let hub = Hub::new(HubOptions { history_limit: lines.len().max(DEFAULT_HISTORY_LIMIT), redacted });
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
        let lines = parse(text, Path::new("x.jsonl"));
        let kinds: Vec<_> = lines.iter().map(|l| (l.kind.as_str(), l.conn)).collect();
        assert_eq!(kinds, vec![("meta", None), ("frame", Some(1))]);
    }

    #[test]
    fn a_token_whose_details_carry_a_kind_stays_a_token() {
        let line = r#"{"kind":"token","conn":3,"ts":"2026-01-02T03:04:05.000000Z","source":"query:jwt","kind":"jwt"}"#;
        let lines = parse(&format!("{line}\n"), Path::new("x.jsonl"));
        assert_eq!((lines[0].kind.as_str(), lines[0].conn), ("token", Some(3)));
        assert_eq!(lines[0].json, line);
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let err = load(Path::new("/nonexistent/capture.jsonl")).err().unwrap();
        assert!(format!("{err:#}").contains("could not read the capture /nonexistent/capture.jsonl"));
    }
}
