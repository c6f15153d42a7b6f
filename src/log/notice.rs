//! Fits frametap's notices on stderr (the start banner, "shutting down…", "capture saved", warnings) to the width of
//! where they are read, as the log fits its lines: `COLUMNS`, else stderr's terminal, else whole lines (a pipe or a
//! file keeps every notice as it was written).

use std::io::IsTerminal;

use super::width::{columns, stderr_columns, Width};
use super::wrap::wrap_keeping_margins;

/// Where a banner row's value starts at the least: rows are `  label   value`, the values aligned past the labels.
const ROW_VALUE_MIN_COLUMN: usize = 16;

/// `text` fitted to the notice width (unchanged when there is none).
pub fn fit(text: &str) -> String {
    match notice_columns() {
        Some(width) => fit_to(text, width),
        None => text.to_owned(),
    }
}

/// How wide a notice may be: `COLUMNS` (one that is no width is warned about by the log, and ignored here), else
/// stderr's terminal width, else no limit.
fn notice_columns() -> Option<usize> {
    let terminal = || std::io::stderr().is_terminal().then(stderr_columns);
    let columns = std::env::var("COLUMNS").ok();
    let width =
        Width::from_settings(columns.as_deref(), terminal()).or_else(|_| Width::from_settings(None, terminal()));
    width.ok().and_then(Width::columns)
}

/// Every line of `text` fitted to `width` columns: a banner row that does not fit puts its value on the next line,
/// further in (`  web UI` / `    http://…`); other lines wrap as the log's prose does. Words are never cut: a URL
/// longer than a line gets a line of its own, so what is copied from the screen is what was printed; and no word
/// starts left of its line's indentation (a value's URL just short of the width stays under the other values, at
/// column 4, rather than at column 2, where the rows' labels are).
pub fn fit_to(text: &str, width: usize) -> String {
    let fitted: Vec<String> = text
        .split('\n')
        .map(|line| {
            if columns(line) <= width {
                return line.to_owned();
            }
            match banner_row(line) {
                Some((label, value)) => format!("  {label}\n{}", wrap_keeping_margins(&format!("    {value}"), width)),
                None => wrap_keeping_margins(line, width),
            }
        })
        .collect();
    fitted.join("\n")
}

/// A banner row's label and value: two spaces, the label (words one space apart), two spaces or more, and the value
/// at column [`ROW_VALUE_MIN_COLUMN`] or further.
fn banner_row(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("  ").filter(|rest| !rest.starts_with(' '))?;
    let gap = rest.find("  ")?;
    let (label, after) = rest.split_at(gap);
    let value = after.trim_start_matches(' ');
    let value_column = line.len() - value.len();
    (!value.is_empty() && value_column >= ROW_VALUE_MIN_COLUMN && !label.starts_with("***")).then_some((label, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_banner_row_too_wide_puts_its_value_under_its_label() {
        let row = "  upstream                        sim:genesys";
        assert_eq!(fit_to(row, 60), row, "what fits is untouched");
        assert_eq!(fit_to(row, 40), "  upstream\n    sim:genesys");
        let url = format!("  web UI                          http://127.0.0.1:9001/?token={}", "t".repeat(32));
        let fitted = fit_to(&url, 40);
        assert_eq!(fitted, format!("  web UI\n    http://127.0.0.1:9001/?token={}", "t".repeat(32)), "never cut");
        let example = "  point your WebSocket client at  ws://127.0.0.1:9000/<path>   (e.g. ws://127.0.0.1:9000/v1?deploymentId=…)";
        assert_eq!(
            fit_to(example, 40),
            "  point your WebSocket client at\n    ws://127.0.0.1:9000/<path>   (e.g.\n    ws://127.0.0.1:9000/v1?deploymentId=…)",
            "a word too long to follow the indent starts no further left than the value (column 2 read as a label)"
        );
        let just_short = format!("  web UI                          http://127.0.0.1:9001/?token={}", "t".repeat(32));
        let ui_url = just_short.split_whitespace().last().unwrap();
        for width in [columns(ui_url) + 1, columns(ui_url) + 2, columns(ui_url) + 3] {
            assert_eq!(fit_to(&just_short, width), format!("  web UI\n    {ui_url}"), "{width}: at column 4, whole");
        }
    }

    #[test]
    fn prose_wraps_past_its_label_and_every_line_of_a_notice_is_fitted() {
        let saved =
            "frametap: capture saved to /home/sam/.frametap/captures/2026-11-27.jsonl (2 connections, 5 frames)";
        let fitted = fit_to(saved, 40);
        assert!(fitted.lines().all(|l| columns(l) <= 40 || !l.trim().contains(' ')), "{fitted}");
        assert!(fitted.starts_with("frametap: capture saved to\n"), "{fitted}");
        let shutting = "\nframetap: shutting down… (Ctrl-C again stops at once, without waiting for close handshakes)";
        let fitted = fit_to(shutting, 40);
        assert!(fitted.starts_with('\n') && fitted.lines().all(|l| columns(l) <= 40), "{fitted:?}");
        assert_eq!(
            fit_to("  *** Give --upstream wss://webmessaging.<your region> to talk to the real service. ***", 40),
            "  *** Give --upstream\n    wss://webmessaging.<your region> to\n    talk to the real service. ***"
        );
    }
}
