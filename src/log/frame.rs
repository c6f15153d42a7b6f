//! A frame's line in the terminal log: time, connection, direction, opcode, size, then its preview, fitted to the
//! log's width when it has one (tcpdump-style: one frame, one line).

use super::size::{human_size, SIZE_COLUMN};
use super::width::{columns, cut_to_columns, escape_to_columns};
use super::{truncate, Layout};
use crate::event::{Frame, Opcode, Peer};
use crate::inspect::close_code_name;

/// Longest payload preview, in characters, when the log has no width (a file, a pipe).
const PREVIEW_CHARS: usize = 160;

/// The least room a preview gets on a narrow terminal (the line then runs past the edge): enough to recognise
/// a message by its start.
const MIN_PREVIEW_COLUMNS: usize = 20;

/// Bytes a binary frame's hex preview shows when the log has no width.
const HEX_BYTES: usize = 32;

/// The opcode column's width: the longest opcode name (`continuation`; `reserved-15` is shorter).
const OPCODE_COLUMN: usize = "continuation".len();

fn arrow(from: Peer, to: Peer) -> String {
    let letter = |p: Peer| match p {
        Peer::Client => 'C',
        Peer::Server => 'S',
        Peer::Proxy => 'P',
    };
    format!("{}→{}", letter(from), letter(to))
}

pub(super) fn frame_line(frame: &Frame, layout: Layout) -> String {
    let paint = layout.paint;
    // A fragment's place in its message follows the size, so the columns before it stay aligned.
    let place = match (frame.opcode, frame.fin) {
        (Opcode::Continuation, true) => "(last) ",
        (Opcode::Continuation, false) => "(more follow) ",
        (op, false) if op.is_data() => "(first fragment) ",
        _ => "",
    };
    let head = format!(
        "{} {} {} {:<OPCODE_COLUMN$} {:>SIZE_COLUMN$}  {place}",
        frame.ts.0.format("%H:%M:%S%.3f"),
        layout.conn.show(frame.conn),
        match frame.from {
            Peer::Client => paint.cyan(&arrow(frame.from, frame.to)),
            Peer::Server => paint.green(&arrow(frame.from, frame.to)),
            Peer::Proxy => paint.yellow(&arrow(frame.from, frame.to)),
        },
        frame.opcode.name(),
        human_size(frame.len)
    );
    let mut flags = String::new();
    if frame.invalid_utf8() {
        flags += &paint.yellow("  [invalid UTF-8: passed on as sent]");
    }
    if frame.rsv != 0 {
        flags += &paint.yellow(&format!("  [RSV bits {:03b}]", frame.rsv));
    }
    if !frame.relayed {
        flags += &paint.yellow("  [not relayed]");
    }
    // What is left of the line for the payload: the flags always show.
    let room =
        layout.width.map(|width| width.saturating_sub(columns(&head) + columns(&flags)).max(MIN_PREVIEW_COLUMNS));
    let body = if frame.opcode == Opcode::Close { close_words(frame, layout, room) } else { preview(frame, room) };
    head + &body + &flags
}

/// The least room a close reason keeps next to its code's name; with less, the code goes without its name.
const MIN_REASON_COLUMNS: usize = 10;

/// A close frame's code, its name and its reason, in `room` columns when there is a limit: the reason gets what the
/// code and its name leave, or, when that is less than [`MIN_REASON_COLUMNS`], what the code alone leaves (the
/// name is a standard one; the reason is what only this endpoint says). Words that do not fit even so are cut as a
/// preview is.
fn close_words(frame: &Frame, layout: Layout, room: Option<usize>) -> String {
    // What is said in bold (the code, with its name when it has room), then the rest.
    let (named, rest) = match frame.close_parts() {
        (Some(code), reason) => {
            let named = format!("{code} {}", close_code_name(code));
            match reason {
                Some(r) if !r.is_empty() => {
                    // ` reason "…"` around it: 10 columns.
                    let left_after =
                        |said: &str| room.map_or(usize::MAX, |room| room.saturating_sub(columns(said) + 10));
                    let named = if left_after(&named) >= MIN_REASON_COLUMNS { named } else { code.to_string() };
                    // Escaped before it is cut, so the escapes (`\n`, `\u{1b}`) count against the room.
                    let reason = escape_to_columns(&r, left_after(&named).max(1));
                    (named, format!(" reason \"{reason}\""))
                }
                Some(_) => (named, " (no reason)".to_owned()),
                None => (named, " reason is not valid UTF-8".to_owned()),
            }
        }
        (None, _) if frame.payload.is_empty() => (String::new(), "(no code: 1005 No Status Received)".to_owned()),
        (None, _) => {
            const SAID: &str = "malformed close payload ";
            let hex = hex_preview(&frame.payload, room.map(|room| room.saturating_sub(SAID.len())));
            (String::new(), format!("{SAID}{hex}"))
        }
    };
    match room {
        Some(room) if columns(&named) + columns(&rest) > room => cut_to_columns(&(named + &rest), room),
        _ if named.is_empty() => rest,
        _ => layout.paint.bold(&named) + &rest,
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
        let flagged = [110, 200].map(|width| (width, Opcode::Text, invalid.as_slice()));
        let widths = [70, 80, 100, 200].into_iter().flat_map(|width| cases.map(|(op, payload)| (width, op, payload)));
        for (width, opcode, payload) in widths.chain(flagged) {
            let text = frame_line(&frame(opcode, true, payload), layout(Some(width)));
            assert_eq!(columns(&text), columns(&text).min(width), "{width}: {text}");
            assert!(columns(&text) + 2 >= width, "uses the room it has ({width}): {text}");
            assert!(text.contains('…'), "{text}");
        }
        let flagged = frame_line(&frame(Opcode::Text, true, &invalid), layout(Some(80)));
        assert!(flagged.ends_with("[invalid UTF-8: passed on as sent]"), "{flagged}");
        // Short enough: as it is.
        let short = frame_line(&frame(Opcode::Text, true, b"hi"), layout(Some(80)));
        assert!(short.ends_with("  2 B  hi"), "{short}");
        // Too narrow for the columns: the preview keeps its least room and the terminal folds the line.
        let narrow = frame_line(&frame(Opcode::Text, true, long.as_bytes()), layout(Some(30)));
        assert!(narrow.ends_with(&cut_to_columns(&long, MIN_PREVIEW_COLUMNS)), "{narrow}");
        let reason = [&[0x0f, 0xa1][..], "r".repeat(120).as_bytes()].concat();
        let close = frame_line(&frame(Opcode::Close, true, &reason), layout(Some(120)));
        assert!(columns(&close) == 120 && close.contains("4001 Private") && close.ends_with("r…\""), "{close}");
        // Narrower, the reason gives way, then the code's name (the reason is what only this endpoint says).
        let close = frame_line(&frame(Opcode::Close, true, &reason), layout(Some(100)));
        assert!(columns(&close) == 100 && close.contains("4001 Private (application-defined) reason \"rr"), "{close}");
        let close = frame_line(&frame(Opcode::Close, true, &reason), layout(Some(80)));
        assert!(columns(&close) == 80 && close.contains("  4001 reason \"rrr") && close.ends_with("r…\""), "{close}");
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
