//! Wraps the log's prose (diagnoses, closes, notes, handshakes) to a width with a hanging indent, so a long cause
//! reads as a block under its connection instead of running back to the first column.

use super::width::{columns, visible_chars};

/// Every line of `text` wrapped at spaces to `width` columns. A continued line starts under the text after its
/// line's list marker (`1. `, `· `, `▶ `, `↳ `) or short label (`  code: …` goes on at column 8), else two columns
/// in from its line's text (`07:20:22.554   #1 CLOSED …` goes on at column 20). A word too long to follow that
/// indent starts as far in as lets it fit; a word longer than a whole line (a URL, a token, a JSON text without
/// spaces) is never cut: it gets a line of its own and the terminal folds it, so what is copied from the screen is
/// what was sent.
pub fn wrap(text: &str, width: usize) -> String {
    wrap_with(text, width, |_| 0)
}

/// [`wrap`], but a word too long to follow the indent never starts left of its line's own indentation (a banner row's
/// value, four columns in, stays four columns in, where it would otherwise start at column 2 and read as a row's
/// label): one that does not fit there stands there whole, and the terminal folds it, as a word longer than a line.
pub fn wrap_keeping_margins(text: &str, width: usize) -> String {
    wrap_with(text, width, |line| line.len() - line.trim_start_matches(' ').len())
}

fn wrap_with(text: &str, width: usize, margin: impl Fn(&str) -> usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / width.max(1) * 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        wrap_line(line, width, margin(line), &mut out);
    }
    out
}

/// Wraps one line; `margin`: the least column a word that gives way to the left may start at.
fn wrap_line(line: &str, width: usize, margin: usize, out: &mut String) {
    if columns(line) <= width {
        out.push_str(line);
        return;
    }
    let hang = hanging_indent(line).min(width / 2);
    let mut used = 0;
    let mut spaces = 0;
    let mut at_start = true;
    for word in line.split(' ') {
        if word.is_empty() {
            spaces += 1;
            continue;
        }
        let word_columns = columns(word);
        if at_start {
            at_start = false;
            // A first word that fits a line, but not after its indentation, gives way to the left as a continued one.
            if word_columns <= width {
                spaces = spaces.min((width - word_columns).max(margin));
            }
        } else if used + spaces + 1 + word_columns > width && used > hang {
            out.push('\n');
            // A word too long to follow the indent, yet no longer than a line, starts as far in as lets it fit.
            let indent = if word_columns <= width { hang.min((width - word_columns).max(margin)) } else { hang };
            out.extend(std::iter::repeat_n(' ', indent));
            used = indent;
            spaces = 0;
            out.push_str(word);
            used += word_columns;
            continue;
        } else {
            spaces += 1;
        }
        out.extend(std::iter::repeat_n(' ', spaces));
        out.push_str(word);
        used += spaces + word_columns;
        spaces = 0;
    }
}

/// The longest label a continued line is indented past (`diagnosis conn 1: `, `ruled out: `, `info: `); a longer
/// one would leave too little room on the lines that follow.
const MAX_LABEL_COLUMNS: usize = 20;

/// Where a continued line starts: just after the line's list marker (`1. `, `· `, `▶ `, `↳ `) or its short label
/// (`code: `), else two columns in from the start of its text. The text starts after the indentation, and on a
/// stamped line (`07:20:22.554   #1 …`) after the time and the connection.
pub(super) fn hanging_indent(line: &str) -> usize {
    let visible: String = visible_chars(line).collect();
    let mut rest = visible.as_str();
    if let Some(after_time) = after_stamp(rest) {
        rest = after_time.trim_start_matches(' ');
        rest = rest.strip_prefix('#').and_then(after_number).unwrap_or(rest);
    }
    rest = rest.trim_start_matches(' ');
    let text_at = columns(&visible) - columns(rest);
    let marker = ["▶ ", "· ", "↳ "].into_iter().find(|m| rest.starts_with(m)).map(columns).or_else(|| {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        (digits > 0 && rest[digits..].starts_with(". ")).then_some(digits + 2)
    });
    text_at + marker.or_else(|| label(rest)).unwrap_or(2)
}

/// The columns of the label `text` starts with (`ruled out: `): words, then `: `, short enough.
fn label(text: &str) -> Option<usize> {
    let (label, _) = text.split_once(": ")?;
    let wordy = label.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '#' | '-' | '_'));
    let width = columns(label) + 2;
    (wordy && width <= MAX_LABEL_COLUMNS).then_some(width)
}

/// What follows a line's `HH:MM:SS.mmm ` time stamp, if it has one.
fn after_stamp(line: &str) -> Option<&str> {
    let stamp = line.get(..13)?.as_bytes();
    let shape = b"00:00:00.000 ";
    let matches = stamp.iter().zip(shape).all(|(&c, &s)| if s == b'0' { c.is_ascii_digit() } else { c == s });
    matches.then(|| &line[13..])
}

/// What follows a connection number and its space (`12 CLOSED` → `CLOSED`).
fn after_number(text: &str) -> Option<&str> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    (digits > 0).then(|| &text[digits..]).and_then(|rest| rest.strip_prefix(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        text.split('\n').collect()
    }

    #[test]
    fn a_cause_wraps_under_its_text_and_its_evidence_under_its_bullet() {
        let cause = "      1. [likely] protocol-lint: client frame #1 breaks the Genesys Guest API protocol; the server likely closed because of it";
        let wrapped = wrap(cause, 50);
        assert_eq!(
            lines(&wrapped),
            [
                "      1. [likely] protocol-lint: client frame #1",
                "         breaks the Genesys Guest API protocol;",
                "         the server likely closed because of it",
            ]
        );
        let evidence = "         · frame #1 has no `action`: every Guest API request names one";
        assert_eq!(
            lines(&wrap(evidence, 40)),
            ["         · frame #1 has no `action`:", "           every Guest API request names", "           one"]
        );
    }

    #[test]
    fn a_labelled_line_goes_on_past_its_label_and_other_prose_two_columns_in() {
        let code = "    code: 1000 Normal Closure: the endpoint ended the connection on purpose";
        assert_eq!(
            lines(&wrap(code, 50)),
            ["    code: 1000 Normal Closure: the endpoint ended", "          the connection on purpose"]
        );
        let preview = r#"        { "a": "a long quoted text", "b": "and another one" }"#;
        assert_eq!(
            lines(&wrap(preview, 50)),
            [r#"        { "a": "a long quoted text", "b": "and"#, r#"          another one" }"#],
            "JSON is no label"
        );
        let long_label = "      last from the other side: #1 client→server text, 0.0 ms before the close";
        assert_eq!(
            lines(&wrap(long_label, 60)),
            ["      last from the other side: #1 client→server text, 0.0", "        ms before the close"]
        );
    }

    #[test]
    fn stamped_lines_go_on_under_their_text_past_the_connection() {
        let close = "07:20:22.554   #1 CLOSED first by server: 1000 Normal Closure, clean close, after 0.001 s";
        assert_eq!(
            lines(&wrap(close, 60)),
            [
                "07:20:22.554   #1 CLOSED first by server: 1000 Normal",
                "                    Closure, clean close, after 0.001 s",
            ]
        );
        let note = "07:20:22.554   #1 info: the client offered compression; frametap removed it";
        assert_eq!(
            lines(&wrap(note, 60)),
            ["07:20:22.554   #1 info: the client offered compression;", "                        frametap removed it"]
        );
        let annotation = "07:20:22.554   #1     ↳ request without action ⚠ no `action`, no `token`";
        assert_eq!(
            lines(&wrap(annotation, 50)),
            ["07:20:22.554   #1     ↳ request without action ⚠", "                        no `action`, no `token`"]
        );
    }

    #[test]
    fn colours_take_no_room_and_long_words_are_never_cut() {
        let painted = "  \x1b[1mdiagnosis\x1b[0m conn 1: \x1b[1mserver\x1b[0m closed, no reason, after 0.0 s";
        let wrapped = wrap(painted, 40);
        assert_eq!(
            lines(&wrapped),
            [
                "  \x1b[1mdiagnosis\x1b[0m conn 1: \x1b[1mserver\x1b[0m closed, no",
                "                    reason, after 0.0 s"
            ]
        );
        let url = format!("07:20:22.553   #1 GET /v1?token={} → sim:genesys  101 upgraded", "a".repeat(80));
        let wrapped = wrap(&url, 60);
        let got = lines(&wrapped);
        assert_eq!(got[0], "07:20:22.553   #1 GET");
        assert_eq!(got[1], format!("                    /v1?token={}", "a".repeat(80)), "whole, on its own line");
        assert_eq!(got[2], "                    → sim:genesys  101 upgraded", "inner spaces kept");
        assert_eq!(wrap("short  line\n  next", 60), "short  line\n  next", "what fits is untouched");
        // A word that fits a line but not after the indent starts as far in as lets it fit, on a continued line
        // and on a first line alike.
        let json = r#"{"type":"message","content":"Hello"#;
        let quoted = format!("    ▶ preceding frame #1:\n        {json} from custom UI");
        assert_eq!(
            lines(&wrap(&quoted, 40)),
            ["    ▶ preceding frame #1:", &format!("      {json}"), "          from custom UI"]
        );
        let after = format!("07:20:22.553   #1 GET /chat → {json}");
        assert_eq!(lines(&wrap(&after, 40)), ["07:20:22.553   #1 GET /chat →", &format!("      {json}")]);
    }
}
