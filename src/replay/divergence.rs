//! Compares a live frame with the recorded one: JSON structurally (ignoring fields named by `--ignore`),
//! anything else byte for byte; says where the first difference is.

use std::collections::BTreeSet;

use crate::event::{Frame, Opcode};
use serde_json::Value;

/// Describes how `got` differs from `expected`, or `None` when they match.
pub fn compare(expected: &Frame, got: &Frame, ignore: &[String]) -> Option<String> {
    if expected.opcode != got.opcode {
        return Some(format!("a {} frame, recorded: {}", got.opcode.name(), expected.opcode.name()));
    }
    if expected.fin != got.fin {
        return Some(format!("fin {} (a fragment boundary moved), recorded: fin {}", got.fin, expected.fin));
    }
    if expected.opcode == Opcode::Close {
        let (want, have) = (expected.close_parts(), got.close_parts());
        return (want != have).then(|| format!("{}, recorded: {}", close_words(have), close_words(want)));
    }
    if let (Some(want), Some(have)) = (json_of(expected), json_of(got)) {
        return json_difference("$", &want, &have, ignore);
    }
    (expected.payload != got.payload).then(|| {
        let (have, want) = match (got.text(), expected.text()) {
            (Some(have), Some(want)) => {
                let (have, want) = around_difference(have, want, 40);
                (format!("{have:?}"), format!("{want:?}"))
            }
            _ => (preview(got), preview(expected)),
        };
        format!("payload {have} ({} bytes), recorded: {want} ({} bytes)", got.payload.len(), expected.payload.len())
    })
}

/// A close frame's code and reason as a divergence names them: `close 1000 "bye"`, `close 1000 (no reason)`.
fn close_words((code, reason): (Option<u16>, Option<String>)) -> String {
    match (code, reason) {
        (Some(code), Some(reason)) if !reason.is_empty() => format!("close {code} {reason:?}"),
        (Some(code), Some(_)) => format!("close {code} (no reason)"),
        (Some(code), None) => format!("close {code} (its reason is not UTF-8)"),
        (None, _) => "close with no code".to_owned(),
    }
}

/// `a` and `b` cut to about `width` characters each, both starting a little before their first difference
/// (marked `…` where cut), so two long values that differ late do not print as the same prefix.
fn around_difference(a: &str, b: &str, width: usize) -> (String, String) {
    let first = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let start = first.saturating_sub(width / 3);
    let window = |text: &str| {
        let total = text.chars().count();
        let shown: String = text.chars().skip(start).take(width).collect();
        let head = if start > 0 { "…" } else { "" };
        let tail = if start + width < total { "…" } else { "" };
        format!("{head}{shown}{tail}")
    };
    (window(a), window(b))
}

/// The fields, by name and at any depth, whose values differ between two JSON frames (`ignore`d ones left out) where
/// both values look made afresh on every run: ids and times, what `--ignore` is for. [`compare`] names only the first
/// difference; this names them all. Any other difference (`newSession` true against false, another `type`) is left
/// out: it may be the very divergence the replay is for. Empty unless both frames are JSON; a difference in shape (a
/// field missing or new, arrays of different lengths) names no field.
pub fn changed_fields(expected: &Frame, got: &Frame, ignore: &[String]) -> BTreeSet<String> {
    let mut fields = BTreeSet::new();
    if let (Some(want), Some(have)) = (json_of(expected), json_of(got)) {
        collect_changed(None, &want, &have, ignore, &mut fields);
    }
    fields
}

/// Adds to `fields` the names of the fields under `field` whose values differ (an array's items count as its own).
fn collect_changed(field: Option<&str>, want: &Value, have: &Value, ignore: &[String], fields: &mut BTreeSet<String>) {
    match (want, have) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a.iter().filter(|(key, _)| !ignore.contains(key)) {
                if let Some(other) = b.get(key) {
                    collect_changed(Some(key), value, other, ignore, fields);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() == b.len() {
                a.iter().zip(b).for_each(|(x, y)| collect_changed(field, x, y, ignore, fields));
            }
        }
        _ => {
            if let Some(field) = field.filter(|_| want != have && made_per_run(want) && made_per_run(have)) {
                fields.insert(field.to_owned());
            }
        }
    }
}

/// A value that looks like an id or a time, which a server makes afresh each run: a hex id of at least 16 digits
/// (dashes allowed, so a UUID), an RFC 3339 timestamp, or a whole number of seconds or milliseconds since 1970
/// between 2001 and 2286.
fn made_per_run(value: &Value) -> bool {
    match value {
        Value::String(s) => {
            let hex_digits = s.chars().filter(char::is_ascii_hexdigit).count();
            let hex_id = hex_digits >= 16 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
            hex_id || chrono::DateTime::parse_from_rfc3339(s).is_ok()
        }
        Value::Number(n) => n.as_u64().is_some_and(|n| {
            (1_000_000_000..10_000_000_000).contains(&n) || (1_000_000_000_000..10_000_000_000_000).contains(&n)
        }),
        _ => false,
    }
}

fn json_of(frame: &Frame) -> Option<Value> {
    let text = frame.text()?;
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// The first structural difference between two JSON values, as `path: got X, recorded Y`.
pub fn json_difference(path: &str, want: &Value, have: &Value, ignore: &[String]) -> Option<String> {
    match (want, have) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                if ignore.iter().any(|i| i == key) {
                    continue;
                }
                let child = format!("{path}.{key}");
                match b.get(key) {
                    None => return Some(format!("{child} is missing, recorded: {}", short(value))),
                    Some(other) => {
                        if let Some(d) = json_difference(&child, value, other, ignore) {
                            return Some(d);
                        }
                    }
                }
            }
            b.iter()
                .find(|(key, _)| !a.contains_key(*key) && !ignore.iter().any(|i| i == *key))
                .map(|(key, value)| format!("{path}.{key} is new: {}", short(value)))
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!("{path} has {} items, recorded: {}", b.len(), a.len()));
            }
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| json_difference(&format!("{path}[{i}]"), x, y, ignore))
        }
        _ => (want != have).then(|| {
            let (have, want) = around_difference(&have.to_string(), &want.to_string(), 60);
            format!("{path} is {have}, recorded: {want}")
        }),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn preview(frame: &Frame) -> String {
    match frame.text() {
        Some(text) if text.chars().count() > 40 => format!("{:?}…", text.chars().take(40).collect::<String>()),
        Some(text) => format!("{text:?}"),
        None => format!("{} binary bytes", frame.payload.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Peer, Ts};
    use bytes::Bytes;

    fn text(payload: &str) -> Frame {
        Frame {
            conn: 1,
            ts: Ts::now(),
            seq: 1,
            from: Peer::Server,
            to: Peer::Client,
            opcode: Opcode::Text,
            fin: true,
            rsv: 0,
            len: payload.len() as u64,
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            text_message: true,
            relayed: true,
        }
    }

    #[test]
    fn every_changed_id_or_time_is_named_by_its_field_and_nothing_else_is() {
        let recorded = text(
            r#"{"body":{"id":"5b8043e5a7f44405af16a6ba9190485e","ts":1795810273,"at":"2026-11-26T20:24:30.367Z",
            "ids":["f6eb153d-2deb-4344-bd3c-b6f39425f416"],"new":true,"type":"a","n":1,"gone":1},"list":[1]}"#,
        );
        let got = text(
            r#"{"body":{"id":"956354f3076d49c48122516da739ac6f","ts":1795810683000,"at":"2026-11-26T20:25:00Z",
            "ids":["097b2f5b-6095-4a99-8f97-b6caad10552e"],"new":false,"type":"b","n":2,"added":1},"list":[1,2]}"#,
        );
        let names = |ignore: &[String]| changed_fields(&recorded, &got, ignore).into_iter().collect::<Vec<_>>();
        assert_eq!(names(&[]), ["at", "id", "ids", "ts"], "ids and times; not new, type, n, gone, added, list");
        assert_eq!(names(&["ts".into()]), ["at", "id", "ids"]);
        assert!(changed_fields(&text("plain"), &text("other"), &[]).is_empty());
    }

    #[test]
    fn json_is_compared_structurally_and_ignored_fields_do_not_count() {
        let recorded = text(r#"{"type":"response","body":{"id":"a","n":[1,2]}}"#);
        let same_but_spaced = text(r#"{ "body": {"n": [1, 2], "id": "a"}, "type": "response" }"#);
        assert_eq!(compare(&recorded, &same_but_spaced, &[]), None);
        let other_id = text(r#"{"type":"response","body":{"id":"b","n":[1,2]}}"#);
        assert_eq!(compare(&recorded, &other_id, &[]).unwrap(), r#"$.body.id is "b", recorded: "a""#);
        assert_eq!(compare(&recorded, &other_id, &["id".into()]), None);
        let shorter = text(r#"{"type":"response","body":{"id":"a","n":[1]}}"#);
        assert!(compare(&recorded, &shorter, &[]).unwrap().contains("$.body.n has 1 items"));
        let extra = text(r#"{"type":"response","body":{"id":"a","n":[1,2]},"x":1}"#);
        assert!(compare(&recorded, &extra, &[]).unwrap().contains("$.x is new"));
    }

    #[test]
    fn long_values_that_differ_late_show_where_they_differ() {
        let head = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.".repeat(3);
        let recorded = text(&format!(r#"{{"jwt":"{head}AAAA.sig"}}"#));
        let live = text(&format!(r#"{{"jwt":"{head}BBBB.sig"}}"#));
        let said = compare(&recorded, &live, &[]).unwrap();
        assert!(said.contains("BBBB") && said.contains("AAAA") && said.contains("…"), "{said}");
        let said = compare(&text(&format!("{head}xyz")), &text(&format!("{head}xyw")), &[]).unwrap();
        assert!(said.contains("xyw") && said.contains("xyz"), "{said}");
    }

    #[test]
    fn other_frames_compare_by_bytes_opcode_and_close_code() {
        assert!(compare(&text("hello"), &text("hallo"), &[]).unwrap().contains("\"hallo\""));
        let mut close = text("");
        close.opcode = Opcode::Close;
        close.payload = Bytes::from_static(b"\x03\xe8bye");
        let mut other = close.clone();
        other.payload = Bytes::from_static(b"\x0f\xa0bye");
        assert_eq!(compare(&close, &other, &[]).unwrap(), r#"close 4000 "bye", recorded: close 1000 "bye""#);
        other.payload = Bytes::from_static(b"\x03\xe8");
        assert_eq!(compare(&close, &other, &[]).unwrap(), r#"close 1000 (no reason), recorded: close 1000 "bye""#);
        other.payload = Bytes::new();
        assert_eq!(compare(&close, &other, &[]).unwrap(), r#"close with no code, recorded: close 1000 "bye""#);
        let mut binary = text("x");
        binary.opcode = Opcode::Binary;
        assert!(compare(&text("x"), &binary, &[]).unwrap().contains("a binary frame"));
    }
}
