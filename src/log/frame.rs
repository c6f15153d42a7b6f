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
mod tests {
    use super::super::{ConnColumn, Paint};
    use super::*;
    use crate::event::Ts;
    use bytes::Bytes;

    /// The narrowest width at which a whole frame of a common opcode, without flags, keeps one line.
    const FLOOR_COLUMNS: usize = 40;

    fn frame(opcode: Opcode, fin: bool, payload: &[u8]) -> Frame {
        let mut frame = Frame::whole(3, Ts::now(), 1, Peer::Server, opcode, Bytes::copy_from_slice(payload));
        frame.fin = fin;
        frame
    }

    fn layout(width: Option<usize>) -> Layout {
        Layout { paint: Paint(false), conn: ConnColumn::default(), width }
    }

    fn line(f: &Frame) -> String {
        frame_line(f, layout(None))
    }

    #[test]
    fn frame_lines_show_direction_opcode_size_and_preview() {
        let text = line(&frame(Opcode::Text, true, br#"{ "type": "response",  "code": 200 }"#));
        assert!(text.contains("#3 S→C text") && text.contains(r#"{ "type": "response",  "code": 200 }"#), "{text}");
        // As sent, never re-serialised (a re-serialised number, duplicate key or escape would read differently);
        // line breaks and their indentation fold to one space.
        let exact = line(&frame(
            Opcode::Text,
            true,
            br#"{"n": 12345678901234567890123, "x": 1.10, "a": 1, "a": 2, "u": "\u00e9"}"#,
        ));
        assert!(
            exact.contains(r#"{"n": 12345678901234567890123, "x": 1.10, "a": 1, "a": 2, "u": "\u00e9"}"#),
            "{exact}"
        );
        let pretty = line(&frame(Opcode::Text, true, b"{\n  \"a\": 1,\n\t\"b\": 2\n}"));
        assert!(pretty.contains(r#"{ "a": 1, "b": 2 }"#), "{pretty}");
        let long = "x".repeat(100_000);
        assert!(
            line(&frame(Opcode::Text, true, long.as_bytes())).ends_with(&format!("{}…", "x".repeat(PREVIEW_CHARS - 1)))
        );
        let binary = line(&frame(Opcode::Binary, true, &[1, 2, 255]));
        assert!(binary.contains("hex 01 02 ff"), "{binary}");
        let first = line(&frame(Opcode::Text, false, b"par"));
        assert!(first.contains(" text ") && first.contains(" 3 B  (first fragment) par"), "{first}");
        let bad = line(&frame(Opcode::Text, true, &[0xff]));
        assert!(bad.contains("invalid UTF-8"), "{bad}");
    }

    /// Every frame line starts its size at the same column, whatever the opcode and its place in a fragmented
    /// message (`continuation (more follow)` used to overflow the opcode column and push its row right).
    #[test]
    fn frame_lines_keep_their_columns_for_every_opcode_and_fragment() {
        let opcodes = [
            Opcode::Continuation,
            Opcode::Text,
            Opcode::Binary,
            Opcode::Close,
            Opcode::Ping,
            Opcode::Pong,
            Opcode::Reserved(3),
            Opcode::Reserved(15),
        ];
        let mut seen = Vec::new();
        for opcode in opcodes {
            for fin in [true, false] {
                let text = line(&frame(opcode, fin, b"abc"));
                let size_at = text.find("  3 B  ").map(|at| text[..at].chars().count());
                seen.push((size_at, text));
            }
        }
        let first = seen[0].0;
        assert!(first.is_some(), "{}", seen[0].1);
        for (size_at, text) in &seen {
            assert_eq!(*size_at, first, "{text}");
        }
        let words = |opcode, fin| line(&frame(opcode, fin, b"abc"));
        assert!(words(Opcode::Continuation, false).contains("(more follow)"));
        assert!(words(Opcode::Continuation, true).contains("(last)"));
        assert!(words(Opcode::Binary, false).contains("(first fragment)"));
    }

    /// Connections #1 to #150, frames of 3 B to 16 EiB: the direction, the opcode, the size's end and the preview
    /// each start at one column (`#10` used to push its row right by one, and a 10 MB size overflowed its column).
    #[test]
    fn frame_lines_keep_their_columns_across_connections_and_sizes() {
        let mut columns_at = std::collections::BTreeSet::new();
        for conn in 1..=150 {
            for len in [3, 10_239, 12 << 20, u64::MAX] {
                let mut f = frame(Opcode::Binary, true, b"abc");
                (f.conn, f.len) = (conn, len);
                let text = line(&f);
                let at = |needle: &str| text[..text.find(needle).unwrap()].chars().count();
                columns_at.insert((at("→"), at(" binary"), at("B  hex"), at("hex 61")));
            }
        }
        assert_eq!(columns_at.len(), 1, "{columns_at:?}");
        let mut big = frame(Opcode::Binary, true, b"abc");
        big.len = 12 << 20;
        assert!(line(&big).contains(" binary        12.0 MiB  hex 61 62 63"), "{}", line(&big));
    }

    /// With a width, a frame's line fits it: the preview gives way, the flags stay, the mark says it was cut.
    #[test]
    fn frame_lines_fit_the_width_they_are_given() {
        let long = "word ".repeat(100);
        let emoji = "😀".repeat(100);
        let invalid = [b"\xff".repeat(300), vec![0x80; 300]].concat();
        let cases = [(Opcode::Text, long.as_bytes()), (Opcode::Text, emoji.as_bytes()), (Opcode::Binary, &[7; 300])];
        // An invalid text's flag takes 36 columns: it gets the wider widths.
        let flagged = [80, 110, 200].map(|width| (width, Opcode::Text, invalid.as_slice()));
        let widths = [70, 80, 100, 200].into_iter().flat_map(|width| cases.map(|(op, payload)| (width, op, payload)));
        for (width, opcode, payload) in widths.chain(flagged) {
            let text = frame_line(&frame(opcode, true, payload), layout(Some(width)));
            assert_eq!(columns(&text), columns(&text).min(width), "{width}: {text}");
            assert!(columns(&text) + 2 >= width, "uses the room it has ({width}): {text}");
            assert!(text.contains('…'), "{text}");
        }
        let flagged = frame_line(&frame(Opcode::Text, true, &invalid), layout(Some(110)));
        assert!(flagged.ends_with("[invalid UTF-8: passed on as sent]"), "{flagged}");
        // Narrower, the flag says it in short rather than squeeze the preview under its least room.
        let flagged = frame_line(&frame(Opcode::Text, true, &invalid), layout(Some(80)));
        assert!(flagged.ends_with(" …  [invalid UTF-8]") && columns(&flagged) == 80, "{flagged}");
        // Short enough: as it is.
        let short = frame_line(&frame(Opcode::Text, true, b"hi"), layout(Some(80)));
        assert!(short.ends_with("  2 B  hi"), "{short}");
        let reason = [&[0x0f, 0xa1][..], "r".repeat(120).as_bytes()].concat();
        let close = frame_line(&frame(Opcode::Close, true, &reason), layout(Some(120)));
        assert!(columns(&close) == 120 && close.contains("4001 Private") && close.ends_with("r…\""), "{close}");
        // Narrower, the reason gives way, then the code's name (the reason is what only this endpoint says).
        let close = frame_line(&frame(Opcode::Close, true, &reason), layout(Some(100)));
        assert!(columns(&close) == 100 && close.contains("4001 Private (application-defined) reason \"rr"), "{close}");
        let close = frame_line(&frame(Opcode::Close, true, &reason), layout(Some(80)));
        assert!(columns(&close) == 80 && close.contains("  4001 reason \"rrr") && close.ends_with("r…\""), "{close}");
    }

    /// Narrower than a line with every column, the preview gives way first (to 10 columns), then the size column,
    /// then the opcode's padding; the time, the connection, the direction, the opcode, the fragment's place and the
    /// flags stay. Down to 40 columns a whole frame of a common opcode keeps one line; narrower, or with more
    /// marks than fit, its payload goes on under its text. No line ever runs past the edge (it used to below 66).
    #[test]
    fn frame_lines_give_way_in_order_and_never_run_past_the_edge() {
        let long = "word ".repeat(100);
        let text = |width| frame_line(&frame(Opcode::Text, true, long.as_bytes()), layout(Some(width)));
        let full = text(66);
        assert!(full.contains(" 500 B  word word") && columns(&full) == 66, "{full}");
        let shorter = text(57);
        assert!(shorter.ends_with(" 500 B  word word …") && columns(&shorter) == 57, "{shorter}");
        let no_size = text(50);
        assert!(no_size.contains(&format!("S→C {:<OPCODE_COLUMN$} word word", "text")) && columns(&no_size) == 50);
        let unpadded = text(40);
        assert_eq!(unpadded.split_once(' ').unwrap().1, "  #3 S→C text word word wo…", "{unpadded}");
        for (opcode, payload) in
            [(Opcode::Binary, &[7u8; 300][..]), (Opcode::Close, b"\x03\xe8the user left"), (Opcode::Ping, b"")]
        {
            let line = frame_line(&frame(opcode, true, payload), layout(Some(40)));
            assert!(!line.contains('\n') && columns(&line) <= 40, "one line at 40: {line}");
        }
        let close = frame_line(&frame(Opcode::Close, true, b"\x03\xe8the user left"), layout(Some(40)));
        assert!(close.contains("S→C close 1000 \"the") && close.ends_with("…\""), "the word `reason` goes: {close}");

        let mut invalid = frame(Opcode::Text, true, b"not \xff UTF-8 and long enough to be cut");
        (invalid.rsv, invalid.relayed) = (0b100, false);
        let frames = [
            frame(Opcode::Text, true, long.as_bytes()),
            frame(Opcode::Text, false, long.as_bytes()),
            frame(Opcode::Continuation, false, long.as_bytes()),
            frame(Opcode::Continuation, true, b"ok"),
            frame(Opcode::Continuation, true, b""),
            frame(Opcode::Binary, true, &[7; 300]),
            frame(Opcode::Close, true, b"\x0f\xa1kicked for idling too long"),
            frame(Opcode::Close, true, b"\x03\xe8"),
            frame(Opcode::Close, true, b""),
            frame(Opcode::Reserved(15), true, b"abc"),
            invalid,
        ];
        for width in 20..=120 {
            for f in &frames {
                let shown = frame_line(f, layout(Some(width)));
                for line in shown.split('\n') {
                    assert!(columns(line) <= width, "{width}: {line:?} of\n{shown}");
                }
                let words: Vec<&str> = shown.split_whitespace().collect();
                let (name, short) = (f.opcode.name(), short_name(f.opcode));
                assert!(
                    words[1..3] == ["#3", "S→C"] && [&name, &short].contains(&&words[3].into()),
                    "{width}: {shown}"
                );
                // The direction and the opcode share a line; the whole name goes only where it does not fit.
                let direction_line = shown.lines().find(|line| line.contains("S→C")).unwrap();
                assert!(
                    direction_line.trim_end().ends_with(&format!("S→C {}", words[3]))
                        || direction_line.contains(&format!("S→C {} ", words[3])),
                    "{width}: {shown}"
                );
                assert!(words[3] == name || width < 40, "{width}: a short name at {width} columns: {shown}");
                let (said, wide) = (words.join(" "), frame_line(f, layout(None)));
                for mark in ["(first", "(more", "(last", "[invalid UTF-8", "[RSV", "[not relayed]"] {
                    assert_eq!(said.contains(mark), wide.contains(mark), "{width}: {mark} in {shown}");
                }
                let marked = wide.contains('[') || wide.contains('(');
                let one_line = width >= FLOOR_COLUMNS && f.opcode != Opcode::Reserved(15) && !marked;
                assert!(!one_line || !shown.contains('\n'), "one line from {FLOOR_COLUMNS} columns: {shown}");
            }
        }
    }

    /// A close frame's line fits every width a text frame's line fits: its reason used to keep a preview's least
    /// room after the code and its name, so a close with a reason ran past an 80-column terminal.
    #[test]
    fn close_lines_fit_every_width_a_text_line_fits() {
        let long = "word ".repeat(100);
        let reason = [&[0x03, 0xe8][..], "the user left the chat window".as_bytes()].concat();
        let closes: [&[u8]; 6] = [&reason, b"\x0f\xa1kicked", b"\x03\xe8", b"", b"\x03", &[0x03, 0xe8, 0xff, 0xfe]];
        let mut checked = 0;
        for width in 40..=200 {
            let text = frame_line(&frame(Opcode::Text, true, long.as_bytes()), layout(Some(width)));
            if columns(&text) > width {
                continue;
            }
            for payload in closes {
                let close = frame_line(&frame(Opcode::Close, true, payload), layout(Some(width)));
                assert!(columns(&close) <= width, "{width}: {close}");
                checked += 1;
            }
        }
        assert!(checked > 100);
        let fitted = frame_line(&frame(Opcode::Close, true, &reason), layout(Some(90)));
        assert!(columns(&fitted) == 90 && fitted.contains("1000 Normal Closure reason \"the user"), "{fitted}");
    }

    #[test]
    fn close_lines_name_the_code() {
        let close = line(&frame(Opcode::Close, true, b"\x03\xe8"));
        assert!(close.contains("1000 Normal Closure (no reason)"), "{close}");
        let private = line(&frame(Opcode::Close, true, b"\x0f\xa1kicked"));
        assert!(private.contains("4001 Private") && private.contains("reason \"kicked\""), "{private}");
        let empty = line(&frame(Opcode::Close, true, b""));
        assert!(empty.contains("1005 No Status Received"), "{empty}");
    }
}
