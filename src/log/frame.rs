//! A frame's line in the terminal log: time, connection, direction, opcode, size, then its preview, fitted to the
//! log's width when it has one (tcpdump-style: one frame, one line, down to 40 columns; narrower, or with a fragment
//! mark or flags that leave its preview too little room, it goes on under itself rather than past the edge).

use super::size::{human_size, SIZE_COLUMN};
use super::width::{columns, cut_to_columns, escape_to_columns};
use super::wrap::{hanging_indent, wrap};
use super::{truncate, Layout};
use crate::event::{Frame, Opcode, Peer};
use crate::inspect::close_code_name;

/// Longest payload preview, in characters, when the log has no width (a file, a pipe).
const PREVIEW_CHARS: usize = 160;

/// The least room a preview gets while every column keeps its full width: enough to recognise a message by its
/// start. With less, the line gives way as [`FITS`] says.
const MIN_PREVIEW_COLUMNS: usize = 20;

/// The least room a preview gets once the line gives way: `{"type":"…`, `hex 07 …`, `1000 "the…"`.
const MIN_NARROW_PREVIEW_COLUMNS: usize = 10;

/// Bytes a binary frame's hex preview shows when the log has no width.
const HEX_BYTES: usize = 32;

/// The opcode column's width: the longest opcode name (`continuation`; `reserved-15` is shorter).
const OPCODE_COLUMN: usize = "continuation".len();

/// How much of a frame's line gives way to fit a narrower width.
#[derive(Clone, Copy)]
struct Fit {
    /// The least room the preview keeps in this layout.
    min_preview: usize,
    /// Fragment marks and flags in their short words (`(first)`, `[invalid UTF-8]`).
    short_marks: bool,
    /// The size column shows.
    size: bool,
    /// The opcode is padded to its column, so the sizes and previews line up.
    padded: bool,
}

/// The layouts a frame's line tries, in order, until its preview keeps its least room: the preview gives way first
/// (and the marks' words shorten), then the size column, then the opcode's padding. The time, the connection, the
/// direction, the opcode, a fragment's place and the flags always show.
const FITS: [Fit; 4] = [
    Fit { min_preview: MIN_PREVIEW_COLUMNS, short_marks: false, size: true, padded: true },
    Fit { min_preview: MIN_NARROW_PREVIEW_COLUMNS, short_marks: true, size: true, padded: true },
    Fit { min_preview: MIN_NARROW_PREVIEW_COLUMNS, short_marks: true, size: false, padded: true },
    Fit { min_preview: MIN_NARROW_PREVIEW_COLUMNS, short_marks: true, size: false, padded: false },
];

fn arrow(from: Peer, to: Peer) -> String {
    let letter = |p: Peer| match p {
        Peer::Client => 'C',
        Peer::Server => 'S',
        Peer::Proxy => 'P',
    };
    format!("{}→{}", letter(from), letter(to))
}

/// A frame's line: whole (a 160-character preview) without a width; else in the first of [`FITS`] that leaves its
/// preview its least room, the preview fitted to what is left. Narrower than the narrowest, the preview and the
/// flags go on under the line's text (the next line, indented as prose is wrapped), so nothing runs past the edge.
pub(super) fn frame_line(frame: &Frame, layout: Layout) -> String {
    let Some(width) = layout.width else {
        let (head, place, flags) = head_and_flags(frame, layout, FITS[0]);
        return head + place + &payload(frame, layout, None) + &flags;
    };
    for fit in FITS {
        let (head, place, flags) = head_and_flags(frame, layout, fit);
        let fixed = columns(&head) + columns(place) + columns(&flags);
        let room = width.saturating_sub(fixed);
        let shown = payload(frame, layout, Some(room));
        // A payload shown whole needs no more room than it takes (`(more) � ok`), if the rest fits (an empty
        // payload's line used to be kept whole however wide its head: `continuation       0 B  (last)` at 20 columns).
        let whole = fixed <= width && columns(&shown) <= room && shown == payload(frame, layout, None);
        if room >= fit.min_preview || whole {
            return head + place + &shown + &flags;
        }
    }
    let (head, place, flags) = head_and_flags(frame, layout, FITS[FITS.len() - 1]);
    let head = head.trim_end();
    let indent = hanging_indent(head).min(width / 2);
    let head = if columns(head) <= width { head.to_owned() } else { narrow_head(frame, layout, indent, width) };
    let line = width.saturating_sub(indent + columns(place));
    // The flags go on the payload's line when they leave it its least room, else on a line of their own.
    let room = match line.saturating_sub(columns(&flags)) {
        room if room >= MIN_NARROW_PREVIEW_COLUMNS => room,
        _ => line.max(MIN_NARROW_PREVIEW_COLUMNS),
    };
    let rest = format!("{}{place}{}{flags}", " ".repeat(indent), payload(frame, layout, Some(room)));
    wrap(&format!("{head}\n{rest}"), width)
}

/// A frame's head too wide for a line: the time and the connection, then under them, at the indent, the direction
/// and the opcode together, the opcode by its short name (`cont`, `bin`, `rsv15`) when its whole one would run past
/// the edge; so the terminal never folds an opcode's name, nor parts it from its direction (both used to be wrapped
/// as words, `C→S` on one line and `continuation` on the next, and an opcode folded below about 26 columns).
fn narrow_head(frame: &Frame, layout: Layout, indent: usize, width: usize) -> String {
    let direction = direction(frame, layout);
    let whole = format!("{direction} {}", frame.opcode.name());
    let said =
        if indent + columns(&whole) <= width { whole } else { format!("{direction} {}", short_name(frame.opcode)) };
    let indent = indent.min(width.saturating_sub(columns(&said)));
    format!("{}\n{}{said}", stamp(frame, layout), " ".repeat(indent))
}

/// An opcode's name in five columns at most, for a narrow terminal: `continuation` is `cont`, `binary` `bin`,
/// `reserved-N` `rsvN`; the others are short already.
fn short_name(opcode: Opcode) -> std::borrow::Cow<'static, str> {
    match opcode {
        Opcode::Continuation => "cont".into(),
        Opcode::Binary => "bin".into(),
        Opcode::Reserved(n) => format!("rsv{n}").into(),
        other => other.name(),
    }
}

/// A frame line's time and connection.
fn stamp(frame: &Frame, layout: Layout) -> String {
    format!("{} {}", frame.ts.0.format("%H:%M:%S%.3f"), layout.conn.show(frame.conn))
}

/// A frame's direction (`C→S`), painted as its sender's.
fn direction(frame: &Frame, layout: Layout) -> String {
    let (paint, arrow) = (layout.paint, arrow(frame.from, frame.to));
    match frame.from {
        Peer::Client => paint.cyan(&arrow),
        Peer::Server => paint.green(&arrow),
        Peer::Proxy => paint.yellow(&arrow),
    }
}

/// A frame's line up to its payload (time, connection, direction, opcode, size), its fragment place and its flags,
/// laid out as `fit` says.
fn head_and_flags(frame: &Frame, layout: Layout, fit: Fit) -> (String, &'static str, String) {
    let paint = layout.paint;
    let short = fit.short_marks;
    // A fragment's place in its message follows the size, so the columns before it stay aligned.
    let place = match (frame.opcode, frame.fin) {
        (Opcode::Continuation, true) => "(last) ",
        (Opcode::Continuation, false) if short => "(more) ",
        (Opcode::Continuation, false) => "(more follow) ",
        (op, false) if op.is_data() && short => "(first) ",
        (op, false) if op.is_data() => "(first fragment) ",
        _ => "",
    };
    let opcode = frame.opcode.name();
    let opcode = if fit.padded { format!("{opcode:<OPCODE_COLUMN$}") } else { opcode.to_string() };
    let size = if fit.size { format!(" {:>SIZE_COLUMN$} ", human_size(frame.len)) } else { String::new() };
    let head = format!("{} {} {opcode}{size} ", stamp(frame, layout), direction(frame, layout));
    let mut flags = String::new();
    if frame.invalid_utf8() {
        flags += &paint.yellow(if short { "  [invalid UTF-8]" } else { "  [invalid UTF-8: passed on as sent]" });
    }
    if frame.rsv != 0 {
        let rsv = if short { "RSV" } else { "RSV bits" };
        flags += &paint.yellow(&format!("  [{rsv} {:03b}]", frame.rsv));
    }
    if !frame.relayed {
        flags += &paint.yellow("  [not relayed]");
    }
    (head, place, flags)
}

/// What a frame's line says of its payload, in `room` columns when there is a limit.
fn payload(frame: &Frame, layout: Layout, room: Option<usize>) -> String {
    if frame.opcode == Opcode::Close {
        close_words(frame, layout, room)
    } else {
        preview(frame, room)
    }
}

/// The least room a close reason keeps next to its code's name; with less, the code goes without its name, and
/// with less again next to the code alone, the word `reason` goes (its quotes still say it).
const MIN_REASON_COLUMNS: usize = 10;

/// A close frame's code, its name and its reason, in `room` columns when there is a limit: the reason gets what the
/// code and its name leave, or, when that is less than [`MIN_REASON_COLUMNS`], what the code alone leaves (the
/// name is a standard one; the reason is what only this endpoint says). Words that do not fit even so are cut as a
/// preview is.
fn close_words(frame: &Frame, layout: Layout, room: Option<usize>) -> String {
    // What is said in bold (the code, with its name when it has room), the code alone, then the rest.
    let (named, code, rest) = match frame.close_parts() {
        (Some(code), reason) => {
            let named = format!("{code} {}", close_code_name(code));
            let code = code.to_string();
            match reason {
                Some(r) if !r.is_empty() => {
                    // What is left of the room for the reason after `said` and `around` columns around it.
                    let left_after = |said: &str, around: usize| {
                        room.map_or(usize::MAX, |room| room.saturating_sub(columns(said) + around))
                    };
                    // ` reason "…"` around it: 10 columns; ` "…"`: 3.
                    let named = if left_after(&named, 10) >= MIN_REASON_COLUMNS { named } else { code.clone() };
                    let label = if left_after(&named, 10) >= MIN_REASON_COLUMNS { " reason " } else { " " };
                    // Escaped before it is cut, so the escapes (`\n`, `\u{1b}`) count against the room.
                    let reason = escape_to_columns(&r, left_after(&named, label.len() + 2).max(1));
                    (named, code, format!("{label}\"{reason}\""))
                }
                Some(_) => (named, code, " (no reason)".to_owned()),
                None => (named, code, " reason is not valid UTF-8".to_owned()),
            }
        }
        (None, _) if frame.payload.is_empty() => {
            (String::new(), String::new(), "(no code: 1005 No Status Received)".to_owned())
        }
        (None, _) => {
            const SAID: &str = "malformed close payload ";
            let hex = hex_preview(&frame.payload, room.map(|room| room.saturating_sub(SAID.len())));
            (String::new(), String::new(), format!("{SAID}{hex}"))
        }
    };
    let bold = |said: &str| if said.is_empty() { String::new() } else { layout.paint.bold(said) };
    match room {
        // The name gives way before the words are cut.
        Some(room) if columns(&named) + columns(&rest) > room => match columns(&code) + columns(&rest) <= room {
            true => bold(&code) + &rest,
            false => cut_to_columns(&(code + &rest), room),
        },
        _ => bold(&named) + &rest,
    }
}

/// A one-line preview of a frame's payload: the text as sent (line breaks folded, never re-serialised; a character
/// split across fragments shown as U+FFFD at that edge), or hex;
/// [`PREVIEW_CHARS`] characters without a limit, else fitted to `room` columns. Under `--redact` the payload is
/// already masked when the log sees it, so no cut, at any width, can show a piece of a secret.
fn preview(frame: &Frame, room: Option<usize>) -> String {
    match frame.preview_text() {
        Some(text) => {
            let text = &*text;
            // Only the start is folded: a 64 MiB frame costs no more to preview than a short one.
            let head = text.char_indices().nth(room.unwrap_or(PREVIEW_CHARS) * 8).map_or(text, |(cut, _)| &text[..cut]);
            let cut_short = head.len() < text.len();
            let folded = crate::inspect::one_line(head);
            match room {
                None => {
                    let shown = truncate(&folded, PREVIEW_CHARS);
                    if cut_short && !shown.ends_with('…') {
                        shown + "…"
                    } else {
                        shown
                    }
                }
                // A text that goes on past its folded start ends with the mark even when that start fits.
                Some(room) => cut_to_columns(&if cut_short { folded + "…" } else { folded }, room),
            }
        }
        None => hex_preview(&frame.payload, room),
    }
}

/// `hex 01 02 ff …`: [`HEX_BYTES`] bytes at most without a limit, else as many as `room` columns hold (one at
/// least).
fn hex_preview(bytes: &[u8], room: Option<usize>) -> String {
    // `hex ` + 3 columns a byte, less the last space, + ` …`.
    let fit = room.map_or(HEX_BYTES, |room| (room.saturating_sub(5) / 3).max(1));
    let shown: Vec<String> = bytes.iter().take(fit).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > shown.len() { " …" } else { "" };
    format!("hex {}{more}", shown.join(" "))
}

#[cfg(test)]
mod tests;
