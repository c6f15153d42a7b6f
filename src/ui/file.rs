//! Loads a saved capture (or a HAR, imported) into a [`Hub`] for `frametap ui FILE`, through the capture reader.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use super::hub::{Hub, HubOptions};
use crate::capture::CaptureFile;
use crate::event::{Note, Record, Ts};

/// Reads `path` (a capture, or a HAR imported as `convert` does) into a hub that keeps all of it; unreadable lines
/// are reported and skipped. The file is read record by record, each published as it is read: the hub's history (each
/// record's JSON) is what the UI serves, and no other copy of the records is held.
pub fn load(path: &Path) -> anyhow::Result<Arc<Hub>> {
    let (mut source, har_warnings) = crate::har::open_capture_or_har(path)?;
    let unusable = || format!("{} is not a usable frametap capture", path.display());
    // Made at the first record, whose `meta` says whether the capture was redacted.
    let mut hub: Option<Arc<Hub>> = None;
    let mut last_ts = None;
    while let Some(record) = source.next_record().with_context(unusable)? {
        let redacted = matches!(&record, Record::Meta(meta) if meta.redacted);
        let hub = hub.get_or_insert_with(|| file_hub(redacted));
        publish(hub, &record)?;
        last_ts = Some(record.ts());
    }
    let read = source.finish().with_context(unusable)?;
    let hub = hub.unwrap_or_else(|| file_hub(false));
    let capture = CaptureFile { records: Vec::new(), problems: read.problems, has_end: read.has_end };
    // What went wrong reading the file is said on stderr and, as session notes, in the page itself.
    let mut warnings: Vec<(&str, String)> = har_warnings.into_iter().map(|w| ("har-import", w)).collect();
    warnings.extend(capture.read_warnings());
    let ts = last_ts.unwrap_or_else(Ts::now);
    for (code, message) in warnings {
        crate::warning!("{}: {message}", path.display());
        publish(&hub, &Record::Note(Note::warn(code, None, ts, message)))?;
    }
    hub.shrink_to_fit();
    Ok(hub)
}

/// A hub for a file: its history is all of it (nothing is forgotten; no record follows).
fn file_hub(redacted: bool) -> Arc<Hub> {
    Hub::new(HubOptions { history_limit: usize::MAX, redacted })
}

fn publish(hub: &Hub, record: &Record) -> anyhow::Result<()> {
    let json = serde_json::to_string(record).with_context(|| format!("re-serialising a {} record", record.kind()))?;
    hub.publish(record, &json);
    Ok(())
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
