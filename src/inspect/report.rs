//! Text and JSON rendering of diagnoses, tokens and `inspect` timelines.

use super::analyzer::MessageFacts;
use super::close::{fragment_words, human_ms, one_line};
use crate::event::{Diagnosis, Record, Token};
use serde_json::{Map, Value};

const RED: &str = "31";
const YELLOW: &str = "33";
const CYAN: &str = "36";
const DIM: &str = "2";
const BOLD: &str = "1";

/// Wraps `text` in an ANSI colour when `color` is on.
pub fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

fn frame_line(frame: &Value) -> Option<String> {
    let seq = frame.get("seq")?.as_u64()?;
    let from = frame.get("from")?.as_str()?;
    let to = if from == "client" { "server" } else { "client" };
    let opcode = frame.get("opcode").and_then(Value::as_str).unwrap_or("?");
    let gap = human_ms(frame.get("gap_ms").and_then(Value::as_f64).unwrap_or_default());
    let fragment = frame.get("message").and_then(|m| {
        let message = MessageFacts {
            first_seq: m.get("first_seq")?.as_u64()?,
            fragments: m.get("fragments")?.as_u64()?,
            len: m.get("len")?.as_u64()?,
        };
        Some(format!(" ({})", fragment_words(&message, m.get("complete")?.as_bool()?)))
    });
    Some(format!("#{seq} {from}→{to} {opcode}{}, {gap} before the close", fragment.unwrap_or_default()))
}

/// The terminal log's block renderer (`log::BlockRenderer`): the token report or diagnosis block of a record,
/// without a trailing newline (the log adds one); `None` for other records.
pub fn render_block(record: &Record, color: bool) -> Option<String> {
    let block = match record {
        Record::Diagnosis(d) => render_diagnosis(d, color),
        Record::Token(t) => render_token(t, color),
        _ => return None,
    };
    Some(block.trim_end().to_string())
}

/// The terminal block printed after a close line: the preceding frame and the likely causes.
pub fn render_diagnosis(d: &Diagnosis, color: bool) -> String {
    let m = &d.details;
    let mut out = String::new();
    let initiator = crate::event::closer_phrase(str_of(m, "initiator").unwrap_or("?"));
    let clean = m.get("clean").and_then(Value::as_bool).unwrap_or(true);
    let duration = m.get("duration_ms").and_then(Value::as_f64).unwrap_or_default();
    let reason = match str_of(m, "reason") {
        Some(r) if !r.is_empty() => format!("reason {r:?}"),
        _ => "no reason".into(),
    };
    let how = str_of(m, "how").unwrap_or(if clean { "closed" } else { "dropped TCP" });
    if m.get("opened").and_then(Value::as_bool) == Some(false) {
        let detail = str_of(m, "detail").unwrap_or("the upgrade failed");
        out.push_str(&format!("  {} conn {}: {detail}\n", paint("diagnosis", BOLD, color), d.conn));
    } else {
        out.push_str(&format!(
            "  {} conn {}: {} {how}, {reason}, after {}\n",
            paint("diagnosis", BOLD, color),
            d.conn,
            paint(initiator, BOLD, color),
            human_ms(duration)
        ));
        if let Some(meaning) = str_of(m, "code_meaning") {
            out.push_str(&format!("    code: {meaning}\n"));
        }
    }
    match m.get("preceding").and_then(frame_line) {
        Some(line) => {
            out.push_str(&format!("    {} {line}:\n", paint("▶ preceding frame", YELLOW, color)));
            let preview = m.get("preceding").and_then(|p| p.get("preview")).and_then(Value::as_str).unwrap_or("");
            out.push_str(&format!("        {preview}\n"));
        }
        None => out.push_str("    ▶ preceding frame: none (no data frame before the close)\n"),
    }
    if let Some(line) = m.get("other_side_last").and_then(frame_line) {
        let preview = m.get("other_side_last").and_then(|p| p.get("preview")).and_then(Value::as_str).unwrap_or("");
        out.push_str(&format!("      last from the other side: {line}\n        {preview}\n"));
    }
    let causes = m.get("causes").and_then(Value::as_array).cloned().unwrap_or_default();
    if causes.is_empty() {
        out.push_str("    causes: no rule explains this close\n");
    } else {
        out.push_str("    causes:\n");
    }
    for (i, cause) in causes.iter().enumerate() {
        let confidence = cause.get("confidence").and_then(Value::as_str).unwrap_or("?");
        let code = match confidence {
            "certain" => RED,
            "likely" => YELLOW,
            _ => CYAN,
        };
        out.push_str(&format!(
            "      {}. {} {}: {}\n",
            i + 1,
            paint(&format!("[{confidence}]"), code, color),
            cause.get("rule").and_then(Value::as_str).unwrap_or("?"),
            crate::inspect::one_line(cause.get("message").and_then(Value::as_str).unwrap_or(""))
        ));
        for evidence in cause.get("evidence").and_then(Value::as_array).into_iter().flatten() {
            if let Some(e) = evidence.as_str() {
                let e = crate::log::one_line_cut(e);
                out.push_str(&format!("         {}\n", paint(&format!("· {e}"), DIM, color)));
            }
        }
    }
    for ruled in m.get("ruled_out").and_then(Value::as_array).into_iter().flatten() {
        if let Some(message) = ruled.get("message").and_then(Value::as_str) {
            out.push_str(&format!("    {} {message}\n", paint("ruled out:", DIM, color)));
        }
    }
    // Findings a cause already cites as evidence are not repeated; `info` ones are left to the JSON.
    let cited: Vec<&str> = causes
        .iter()
        .flat_map(|c| c.get("evidence").and_then(Value::as_array).into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let findings: Vec<&Value> = m
        .get("findings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.get("severity").and_then(Value::as_str) != Some("info"))
        .filter(|f| !f.get("message").and_then(Value::as_str).is_some_and(|msg| cited.contains(&msg)))
        .collect();
    if !findings.is_empty() {
        out.push_str(&format!("    other findings ({}):\n", findings.len()));
        for finding in findings.iter().copied().take(12) {
            out.push_str(&format!("      {}\n", finding_line(finding)));
        }
        if findings.len() > 12 {
            out.push_str(&format!("      … and {} more\n", findings.len() - 12));
        }
    }
    out
}

/// One lint finding on one line: `[error] #1 genesys-no-action: …`.
pub fn finding_line(finding: &Value) -> String {
    let seq = finding.get("seq").and_then(Value::as_u64).map(|s| format!("#{s} ")).unwrap_or_default();
    format!(
        "[{}] {seq}{}: {}",
        finding.get("severity").and_then(Value::as_str).unwrap_or("?"),
        finding.get("rule").and_then(Value::as_str).unwrap_or("?"),
        finding.get("message").and_then(Value::as_str).unwrap_or("")
    )
}

/// A token's line(s) for the terminal: where it was found, its kind, flags, times and claims (unverified).
pub fn render_token(t: &Token, color: bool) -> String {
    let m = &t.details;
    let kind = str_of(m, "token_kind").unwrap_or("token");
    let at = t.seq.map(|s| format!(" (frame #{s})")).unwrap_or_else(|| " (handshake)".into());
    let mut out = format!("  {} conn {}: {kind} in {}{at}", paint("token", BOLD, color), t.conn, t.source);
    if let Some(preview) = str_of(m, "preview") {
        out.push_str(&format!(" {preview}"));
    }
    let flags: Vec<&str> =
        m.get("flags").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if !flags.is_empty() {
        out.push_str(&format!(" {}", paint(&format!("[{}]", flags.join(", ")), RED, color)));
    }
    if kind == "jwt" {
        out.push_str(&paint(" (unverified)", DIM, color));
    }
    if let Some(Value::Object(times)) = m.get("times") {
        for (name, time) in times {
            let utc = time.get("utc").and_then(Value::as_str).unwrap_or("?");
            let relative = time.get("relative").and_then(Value::as_str).unwrap_or("");
            out.push_str(&format!("\n    {name} {utc} ({relative})"));
        }
    }
    if let Some(Value::Object(claims)) = m.get("claims") {
        let listed: Vec<String> = claims.iter().map(|(k, v)| format!("{}={}", one_line(k), compact(v))).collect();
        out.push_str(&format!("\n    claims: {}", listed.join(" ")));
    }
    for key in ["reason", "note"] {
        if let Some(text) = str_of(m, key) {
            out.push_str(&format!("\n    {key}: {text}"));
        }
    }
    out.push('\n');
    out
}

/// A claim's value on the terminal: a string as its text, with control characters (ESC, BEL, NUL, line breaks)
/// made spaces as in a frame's preview, since a JWT's claims are whatever its issuer wrote; anything else as JSON.
fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => one_line(s),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Note, Ts};
    use serde_json::json;

    #[test]
    fn blocks_render_for_diagnoses_and_tokens_only() {
        let mut details = Map::new();
        details.insert("initiator".into(), json!("server"));
        details.insert(
            "causes".into(),
            json!([{"rule":"tcp-drop","confidence":"certain","message":"gone","evidence":["reset"]}]),
        );
        let d = Record::Diagnosis(Diagnosis { conn: 3, ts: Ts::now(), details });
        let block = render_block(&d, false).unwrap();
        assert!(block.contains("diagnosis conn 3") && block.contains("1. [certain] tcp-drop: gone"), "{block}");
        assert!(!block.ends_with('\n'));
        assert!(render_block(&d, true).unwrap().contains("\x1b["));
        let note = Record::Note(Note::info("x", None, Ts::now(), "m"));
        assert!(render_block(&note, false).is_none());
    }

    /// A connection that lasted 1.2 ms is not "after 0.0 s", and a frame 5 minutes before the close is not
    /// "300000 ms before the close": durations read in the unit that fits them.
    #[test]
    fn durations_read_in_the_unit_that_fits_them() {
        let mut details = Map::new();
        details.insert("initiator".into(), json!("server"));
        details.insert("duration_ms".into(), json!(1.2));
        details.insert("preceding".into(), json!({"seq": 1, "from": "client", "opcode": "text", "gap_ms": 0.1}));
        details.insert(
            "other_side_last".into(),
            json!({"seq": 2, "from": "server", "opcode": "text", "gap_ms": 300000.0}),
        );
        let block = render_diagnosis(&Diagnosis { conn: 1, ts: Ts::now(), details: details.clone() }, false);
        assert!(block.contains("server closed, no reason, after 1.2 ms\n"), "{block}");
        assert!(block.contains("#1 client→server text, 0.1 ms before the close"), "{block}");
        assert!(block.contains("#2 server→client text, 5.0 min before the close"), "{block}");
        details.insert("duration_ms".into(), json!(95_000.0));
        let block = render_diagnosis(&Diagnosis { conn: 1, ts: Ts::now(), details }, false);
        assert!(block.contains("after 95.0 s\n"), "{block}");
    }

    #[test]
    fn claims_reach_the_terminal_without_control_characters() {
        let mut details = Map::new();
        details.insert("token_kind".into(), json!("jwt"));
        details.insert(
            "claims".into(),
            json!({"name\u{1b}[2J": "\u{1b}]0;pwned\u{7}x\u{0}y\u{1b}[31m", "exp": 4102444800u64}),
        );
        let token = Token { conn: 1, ts: Ts::now(), seq: Some(2), source: "frame:body.jwt".into(), details };
        let text = render_token(&token, false);
        assert!(!text.contains(['\u{1b}', '\u{7}', '\u{0}']), "{text:?}");
        assert!(text.contains("claims: name [2J= ]0;pwned x y [31m exp=4102444800"), "{text:?}");
    }
}
