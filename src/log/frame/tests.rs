//! Unit tests of the frame line: fitting to widths, previews, close words, flags.

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
    assert!(exact.contains(r#"{"n": 12345678901234567890123, "x": 1.10, "a": 1, "a": 2, "u": "\u00e9"}"#), "{exact}");
    let pretty = line(&frame(Opcode::Text, true, b"{\n  \"a\": 1,\n\t\"b\": 2\n}"));
    assert!(pretty.contains(r#"{ "a": 1, "b": 2 }"#), "{pretty}");
    let long = "x".repeat(100_000);
    assert!(line(&frame(Opcode::Text, true, long.as_bytes())).ends_with(&format!("{}…", "x".repeat(PREVIEW_CHARS - 1))));
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
            assert!(words[1..3] == ["#3", "S→C"] && [&name, &short].contains(&&words[3].into()), "{width}: {shown}");
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
