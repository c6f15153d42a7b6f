//! Loads a saved capture (or a HAR, imported) into a [`Hub`] for `frametap ui FILE`, through the capture reader.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use super::hub::{Hub, HubOptions, DEFAULT_HISTORY_LIMIT};
use crate::event::{Note, Record, Ts};

/// Reads `path` (a capture, or a HAR imported as `convert` does) into a hub large enough to hold all of it;
/// unreadable lines are reported and skipped.
pub fn load(path: &Path) -> anyhow::Result<Arc<Hub>> {
    let (capture, har_warnings) = crate::har::read_capture_or_har(path)?;
    // What went wrong reading the file is said on stderr and, as session notes, in the page itself.
    let mut warnings: Vec<(&str, String)> = har_warnings.into_iter().map(|w| ("har-import", w)).collect();
    warnings.extend(capture.read_warnings());
    let ts = capture.records.last().map_or_else(Ts::now, Record::ts);
    let notes: Vec<Record> = warnings
        .into_iter()
        .map(|(code, message)| {
            crate::warning!("{}: {message}", path.display());
            Record::Note(Note::warn(code, None, ts, message))
        })
        .collect();
    let redacted = capture.meta().is_some_and(|m| m.redacted);
    let history_limit = (capture.records.len() + notes.len()).max(DEFAULT_HISTORY_LIMIT);
    let hub = Hub::new(HubOptions { history_limit, redacted });
    for record in capture.records.iter().chain(&notes) {
        let json =
            serde_json::to_string(record).with_context(|| format!("re-serialising a {} record", record.kind()))?;
        hub.publish(record, &json);
    }
    Ok(hub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_loads_with_its_redaction_flag_and_skips_corrupt_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        let meta = r#"{"kind":"meta","ts":"2026-01-01T00:00:00.000000Z","format":"frametap-capture","version":1,"frametap":"0.1.0","command":["frametap"],"mode":"proxy","redacted":true}"#;
        let note =
            r#"{"kind":"note","conn":2,"ts":"2026-01-01T00:00:00.000001Z","level":"info","code":"x","message":"m"}"#;
        std::fs::write(&path, format!("{meta}\nnot json\n{note}\n{{\"kind\":\"fr")).unwrap();
        let hub = load(&path).unwrap();
        assert!(hub.options().redacted);
        let kinds: Vec<_> = hub.history().iter().map(|e| (e.kind.to_string(), e.conn)).collect();
        let session_note = ("note".to_string(), None);
        let expected = [("meta".to_string(), None), ("note".to_string(), Some(2))]
            .into_iter()
            .chain(std::iter::repeat_n(session_note, 3))
            .collect::<Vec<_>>();
        assert_eq!(kinds, expected, "two unreadable lines and the missing end become session notes");
        let said: Vec<String> = hub.history().iter().map(|e| e.json.to_string()).collect();
        assert!(said[2].contains("capture-unreadable") && said[2].contains("line 2"), "{said:?}");
        assert!(said[4].contains("capture-cut-short"), "{said:?}");
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let err = load(Path::new("/nonexistent/capture.jsonl")).err().unwrap();
        assert!(format!("{err:#}").contains("could not read the capture /nonexistent/capture.jsonl"), "{err:#}");
    }
}
