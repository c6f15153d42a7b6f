//! How wide the terminal log's lines may be: `COLUMNS`, else the terminal's own width, else no limit (a file or a
//! pipe keeps whole lines), and how many columns a piece of text takes on screen.

use std::io::IsTerminal;
use unicode_width::UnicodeWidthChar;

/// The widest line the log fits to: wider settings are taken as this (the preview of every frame is cut from its
/// text's start, and a preview thousands of characters long would only slow the log down).
pub const MAX_COLUMNS: usize = 1000;

/// Where the log's width comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// Not a terminal and no `COLUMNS`: lines are as long as they are (today's 160-character previews, one line per
    /// cause), so a log file keeps every sentence whole for `grep`.
    Unlimited,
    /// `COLUMNS` says how wide: kept for the whole run, terminal or not.
    Fixed(usize),
    /// The terminal's width, read again after every batch of records so a resized window is followed.
    Terminal(usize),
}

impl Width {
    /// The width for a log on stdout. A `COLUMNS` that is not a whole number of columns is reported on stderr and
    /// ignored.
    pub fn for_stdout() -> Width {
        let stdout = std::io::stdout();
        let columns = std::env::var("COLUMNS").ok();
        match Width::from_settings(columns.as_deref(), stdout.is_terminal().then(stdout_columns)) {
            Ok(width) => width,
            Err(ignored) => {
                crate::notice!(
                    "frametap: warning: COLUMNS={ignored:?} is not a number of columns, so the log ignores it; \
                     set a whole number (COLUMNS=120) or unset it"
                );
                Width::from_settings(None, stdout.is_terminal().then(stdout_columns)).unwrap_or(Width::Unlimited)
            }
        }
    }

    /// The width `COLUMNS` (unset or empty: none) and the terminal (`None`: not a terminal; `Some(None)`: a
    /// terminal that does not say its size) give, or the `COLUMNS` value that is no width.
    pub fn from_settings(columns: Option<&str>, terminal: Option<Option<usize>>) -> Result<Width, String> {
        let fallback = match terminal {
            Some(Some(width)) => Width::Terminal(width.min(MAX_COLUMNS)),
            _ => Width::Unlimited,
        };
        match columns.map(str::trim) {
            None | Some("") => Ok(fallback),
            Some(value) => match value.parse::<usize>() {
                Ok(width) if width > 0 => Ok(Width::Fixed(width.min(MAX_COLUMNS))),
                _ => Err(value.to_owned()),
            },
        }
    }

    /// How many columns a line may take, if there is a limit.
    pub fn columns(self) -> Option<usize> {
        match self {
            Width::Unlimited => None,
            Width::Fixed(width) | Width::Terminal(width) => Some(width),
        }
    }

    /// Reads the terminal's width again (a no-op for the other sources). A terminal that stops answering keeps
    /// the last width it gave.
    pub fn refresh(&mut self) {
        if let Width::Terminal(width) = self {
            if let Some(now) = stdout_columns() {
                *width = now.min(MAX_COLUMNS);
            }
        }
    }
}

/// The width of the terminal stdout is, when it is one and says so.
fn stdout_columns() -> Option<usize> {
    columns_of(terminal_size::terminal_size_of(std::io::stdout()))
}

/// The width of the terminal stderr is, when it is one and says so (where notices go: notice.rs).
pub(super) fn stderr_columns() -> Option<usize> {
    columns_of(terminal_size::terminal_size_of(std::io::stderr()))
}

fn columns_of(size: Option<(terminal_size::Width, terminal_size::Height)>) -> Option<usize> {
    size.map(|(terminal_size::Width(columns), _)| usize::from(columns))
}

/// How many columns `c` takes on a terminal: 2 for wide characters (CJK, most emoji), 0 for combining marks and
/// control characters, else 1.
pub fn char_columns(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// How many columns `text` takes on a terminal; ANSI colour sequences (`ESC [ … m`) take none.
pub fn columns(text: &str) -> usize {
    visible_chars(text).map(char_columns).sum()
}

/// The characters of `text` a terminal shows: without its ANSI colour sequences.
pub fn visible_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    let mut in_escape = false;
    text.chars().filter(move |&c| {
        if in_escape {
            in_escape = !c.is_ascii_alphabetic();
            return false;
        }
        in_escape = c == '\x1b';
        !in_escape
    })
}

/// `text` (no colour sequences) cut to fit `max` columns, `…` included, with `…` where it was cut.
pub fn cut_to_columns(text: &str, max: usize) -> String {
    let chars = text.char_indices().map(|(at, c)| &text[at..at + c.len_utf8()]);
    fit_pieces(text, chars, max)
}

/// `text` escaped as `{:?}` escapes a string (a control character as `\n` or `\u{1b}`, `"` as `\"`), without the
/// quotes, and cut to fit `max` columns as [`cut_to_columns`] cuts: escaped first, so what is shown is what fits,
/// and never cut inside an escape.
pub fn escape_to_columns(text: &str, max: usize) -> String {
    let quoted = format!("{text:?}");
    let escaped = &quoted[1..quoted.len() - 1];
    let mut rest = escaped;
    // One piece shown: a character, or a whole escape (`\n`, `\u{1b}`).
    let pieces = std::iter::from_fn(|| {
        let c = rest.chars().next()?;
        let len = match c {
            '\\' => match rest[1..].chars().next() {
                Some('u') => rest.find('}').map_or(rest.len(), |end| end + 1),
                next => 1 + next.map_or(0, char::len_utf8),
            },
            _ => c.len_utf8(),
        };
        let (piece, after) = rest.split_at(len);
        rest = after;
        Some(piece)
    });
    fit_pieces(escaped, pieces, max)
}

/// `whole` when it fits `max` columns; else as many of its `pieces` (in order, never split) as fit with a `…` after.
fn fit_pieces<'a>(whole: &str, pieces: impl Iterator<Item = &'a str>, max: usize) -> String {
    if columns(whole) <= max {
        return whole.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for piece in pieces {
        let width = columns(piece);
        if used + width + 1 > max {
            break;
        }
        used += width;
        out.push_str(piece);
    }
    out + "…"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_wins_then_the_terminal_then_no_limit() {
        assert_eq!(Width::from_settings(None, None), Ok(Width::Unlimited), "a pipe keeps whole lines");
        assert_eq!(Width::from_settings(None, Some(None)), Ok(Width::Unlimited), "a terminal of unknown size");
        assert_eq!(Width::from_settings(None, Some(Some(90))), Ok(Width::Terminal(90)));
        assert_eq!(Width::from_settings(Some(""), Some(Some(90))), Ok(Width::Terminal(90)), "empty is unset");
        assert_eq!(Width::from_settings(Some("120"), Some(Some(90))), Ok(Width::Fixed(120)));
        assert_eq!(Width::from_settings(Some(" 70 "), None), Ok(Width::Fixed(70)), "a pipe fits to COLUMNS too");
        assert_eq!(Width::from_settings(Some("99999"), None), Ok(Width::Fixed(MAX_COLUMNS)));
        assert_eq!(Width::from_settings(None, Some(Some(5000))), Ok(Width::Terminal(MAX_COLUMNS)));
        for bad in ["0", "-3", "wide", "80x24"] {
            assert_eq!(Width::from_settings(Some(bad), None), Err(bad.to_owned()));
        }
        assert_eq!(Width::Fixed(70).columns(), Some(70));
        assert_eq!(Width::Unlimited.columns(), None);
    }

    #[test]
    fn columns_count_what_a_terminal_shows() {
        assert_eq!(columns("abc"), 3);
        assert_eq!(columns("\x1b[1mCLOSED\x1b[0m C→S"), 10, "colour sequences take no room");
        assert_eq!(columns("日本"), 4, "wide characters take two columns");
        assert_eq!(columns("😀"), 2);
        assert_eq!(columns("e\u{301}"), 1, "a combining accent takes none");
    }

    #[test]
    fn text_is_cut_to_fit_its_columns_mark_included() {
        assert_eq!(cut_to_columns("abcdef", 6), "abcdef");
        assert_eq!(cut_to_columns("abcdefg", 6), "abcde…");
        assert_eq!(cut_to_columns("日本語テキスト", 6), "日本…", "a wide character never straddles the edge");
        assert_eq!(columns(&cut_to_columns("日本語テキスト", 7)), 7);
    }

    #[test]
    fn text_is_escaped_then_cut_between_whole_escapes() {
        assert_eq!(escape_to_columns("a\tb\"c", 8), "a\\tb\\\"c", "fits once escaped");
        assert_eq!(escape_to_columns("a\tb\"c", 6), "a\\tb…");
        assert_eq!(escape_to_columns("\u{1b}[31mred", 7), "\\u{1b}…", "an escape is never cut");
        assert_eq!(escape_to_columns("\u{1b}[31mred", 6), "…", "nor shown in part");
        assert_eq!(escape_to_columns("日本語", 5), "日本…");
        for max in 1..30 {
            assert!(columns(&escape_to_columns("tab\there\u{7}\nand \"more\"", max)) <= max, "{max}");
        }
    }
}
