//! The live terminal log: one line per frame (time, connection, direction, opcode, size, preview),
//! close lines with the code's name, and the blocks the analysis adds. The one place that prints frames.

use crate::event::{Frame, Opcode, Open, Peer, Record};
use crate::inspect::close_code_name;
use std::io::{BufWriter, IsTerminal, Stdout, Write};

/// How the terminal log prints records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per record, coloured on a terminal.
    #[default]
    Text,
    /// One JSON record per line: exactly the capture format.
    Json,
}

/// Longest payload preview, in characters.
const PREVIEW_CHARS: usize = 160;

/// Renders extra blocks (token reports, diagnoses) that the analysis defines.
pub type BlockRenderer = fn(&Record, bool) -> Option<String>;

/// Writes records to stdout.
pub struct TerminalLog {
    out: BufWriter<Stdout>,
    format: LogFormat,
    color: bool,
    blocks: Option<BlockRenderer>,
    /// False for `--quiet`: only closes, their diagnoses, warnings and the end are printed.
    frames: bool,
}

/// Whether output to a stream that `is_terminal` gets colours: only on a terminal, and only when `NO_COLOR` is
/// unset or empty (no-color.org: a non-empty value turns colours off). Never escapes in a file or a pipe.
pub fn colours_for(is_terminal: bool) -> bool {
    is_terminal && !no_color(std::env::var_os("NO_COLOR").as_deref())
}

/// True when the value of `NO_COLOR` asks for no colours: set and not empty.
fn no_color(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

impl TerminalLog {
    /// A log on stdout; colours as [`colours_for`] says.
    pub fn stdout(format: LogFormat) -> Self {
        let color = colours_for(std::io::stdout().is_terminal());
        TerminalLog { out: BufWriter::new(std::io::stdout()), format, color, blocks: None, frames: true }
    }

    /// `--quiet`: no line per frame (nor per open, annotation or token); what is left is how each connection
    /// ended and why (close lines, diagnoses), warnings and errors, and the end of the capture.
    pub fn closes_only(mut self) -> Self {
        self.frames = false;
        self
    }

    /// True when this log prints frames (so the pipeline must hand it every frame record).
    pub fn wants_frames(&self) -> bool {
        self.frames
    }

    /// Adds a renderer for analysis records (tokens, diagnoses).
    pub fn with_blocks(mut self, render: BlockRenderer) -> Self {
        self.blocks = Some(render);
        self
    }

    /// True when this log prints `record` as JSON (so the pipeline must produce it).
    pub fn wants_json_of(&self, record: &Record) -> bool {
        self.format == LogFormat::Json && (self.frames || is_about_an_end(record))
    }

    pub fn record(&mut self, record: &Record, json: &str) {
        if !self.frames && !is_about_an_end(record) {
            return;
        }
        let text = match self.format {
            LogFormat::Json => Some(json.to_owned()),
            LogFormat::Text => self.render(record),
        };
        if let Some(text) = text {
            // A closed stdout (a pipe to `head`) must not stop the relay.
            let _ = writeln!(self.out, "{text}");
        }
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    fn render(&self, record: &Record) -> Option<String> {
        let paint = Paint(self.color);
        match record {
            Record::Frame(frame) => Some(frame_line(frame, paint)),
            Record::Open(open) => Some(open_lines(open, paint)),
            Record::Close(close) => {
                let code = close.code.map_or("no code".to_owned(), |c| format!("{c} {}", close_code_name(c)));
                let reason = close
                    .reason
                    .as_deref()
                    .filter(|r| !r.is_empty())
                    .map_or(String::new(), |r| format!(" reason {r:?}"));
                let how = if close.clean { "clean close".to_owned() } else { format!("NOT clean ({})", close.how()) };
                let detail = close.detail.as_deref().map_or(String::new(), |d| format!(" — {d}"));
                Some(format!(
                    "{} #{} {} first by {}: {code}{reason}, {how}, after {:.3} s{detail}",
                    time(record),
                    close.conn,
                    paint.bold("CLOSED"),
                    close.closer_phrase(),
                    close.duration_ms / 1000.0
                ))
            }
            Record::Note(note) => {
                let conn = note.conn.map_or(String::new(), |c| format!(" #{c}"));
                let level = match note.level.as_str() {
                    "warn" | "error" => paint.yellow(&note.level.to_uppercase()),
                    other => other.to_owned(),
                };
                Some(format!("{}{conn} {level}: {}", time(record), note.message))
            }
            Record::Annotation(a) => Some(paint.dim(&format!("{}      #{} ↳ {}", time(record), a.conn, a.text))),
            Record::Token(_) | Record::Diagnosis(_) => self.blocks.and_then(|render| render(record, self.color)),
            Record::End(end) => Some(format!(
                "{} session ended: {}, {}, {}{}",
                time(record),
                crate::words::count(end.connections, "connection"),
                crate::words::count(end.frames, "frame"),
                crate::words::count(end.records, "record"),
                if end.complete { String::new() } else { format!(", INCOMPLETE: {}", end.errors.join("; ")) }
            )),
            Record::Meta(_) => None,
        }
    }
}

/// What a `--quiet` log prints: how connections ended and why, warnings and errors, the end of the capture.
fn is_about_an_end(record: &Record) -> bool {
    match record {
        Record::Close(_) | Record::Diagnosis(_) | Record::End(_) => true,
        Record::Note(note) => matches!(note.level.as_str(), "warn" | "error"),
        _ => false,
    }
}

fn time(record: &Record) -> String {
    record.ts().0.format("%H:%M:%S%.3f").to_string()
}

fn arrow(from: Peer, to: Peer) -> String {
    let letter = |p: Peer| match p {
        Peer::Client => 'C',
        Peer::Server => 'S',
        Peer::Proxy => 'P',
    };
    format!("{}→{}", letter(from), letter(to))
}

/// The opcode column's width: the longest opcode name (`continuation`; `reserved-15` is shorter).
const OPCODE_COLUMN: usize = "continuation".len();

fn frame_line(frame: &Frame, paint: Paint) -> String {
    // A fragment's place in its message follows the size, so the columns before it stay aligned.
    let place = match (frame.opcode, frame.fin) {
        (Opcode::Continuation, true) => "(last) ",
        (Opcode::Continuation, false) => "(more follow) ",
        (op, false) if op.is_data() => "(first fragment) ",
        _ => "",
    };
    let mut line = format!(
        "{} #{} {} {:<OPCODE_COLUMN$} {:>7} B  {place}",
        frame.ts.0.format("%H:%M:%S%.3f"),
        frame.conn,
        match frame.from {
            Peer::Client => paint.cyan(&arrow(frame.from, frame.to)),
            Peer::Server => paint.green(&arrow(frame.from, frame.to)),
            Peer::Proxy => paint.yellow(&arrow(frame.from, frame.to)),
        },
        frame.opcode.name(),
        frame.len
    );
    if frame.opcode == Opcode::Close {
        match frame.close_parts() {
            (Some(code), reason) => {
                line += &paint.bold(&format!("{code} {}", close_code_name(code)));
                match reason {
                    Some(r) if !r.is_empty() => line += &format!(" reason {r:?}"),
                    Some(_) => line += " (no reason)",
                    None => line += " reason is not valid UTF-8",
                }
            }
            (None, _) if frame.payload.is_empty() => line += "(no code: 1005 No Status Received)",
            (None, _) => line += &format!("malformed close payload {}", hex_preview(&frame.payload)),
        }
    } else {
        line += &preview(frame);
    }
    if frame.invalid_utf8() {
        line += &paint.yellow("  [invalid UTF-8: passed on as sent]");
    }
    if frame.rsv != 0 {
        line += &paint.yellow(&format!("  [RSV bits {:03b}]", frame.rsv));
    }
    if !frame.relayed {
        line += &paint.yellow("  [not relayed]");
    }
    line
}

/// A one-line preview of a frame's payload: the text as sent (line breaks folded, never re-serialised), or hex.
pub fn preview(frame: &Frame) -> String {
    match frame.text() {
        Some(text) => {
            // Only the start is folded: a 64 MiB frame costs no more to preview than a short one.
            let head = text.char_indices().nth(PREVIEW_CHARS * 8).map_or(text, |(cut, _)| &text[..cut]);
            let shown = truncate(&crate::inspect::one_line(head), PREVIEW_CHARS);
            if head.len() < text.len() && !shown.ends_with('…') {
                shown + "…"
            } else {
                shown
            }
        }
        None => hex_preview(&frame.payload),
    }
}

fn hex_preview(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 32 { " …" } else { "" };
    format!("hex {}{more}", shown.join(" "))
}

/// `text` cut after `max` characters, with `…` where it was cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The request's line, stamped when it arrived; for an upgrade that failed, then the failure's line, stamped
/// when frametap knew (both print then, since the `open` record is written once the upstream answered or failed).
fn open_lines(open: &Open, paint: Paint) -> String {
    let time = open.ts.0.format("%H:%M:%S%.3f");
    let upstream = open.upstream.as_deref().unwrap_or("?");
    let head = format!("{time} #{} {} {} → {upstream}", open.conn, open.request.method, open.request.path);
    // Stamped when frametap knew; a record written before frametap recorded that has only the request's time.
    let (failed_at, after) = match (open.failed_at(), open.failed_ms) {
        (Some(at), Some(ms)) => (
            format!("{} #{}", at.0.format("%H:%M:%S%.3f"), open.conn),
            format!(" ({} after the request)", crate::inspect::close::human_ms(ms)),
        ),
        _ => (format!("{time} #{}", open.conn), String::new()),
    };
    if let Some(error) = &open.error {
        return format!("{head}\n{failed_at} {}{after}: {error}", paint.red("UPSTREAM FAILED"));
    }
    let Some(response) = &open.response else { return head };
    if response.status == 101 {
        let protocol = crate::event::header(&response.headers, "sec-websocket-protocol")
            .map_or(String::new(), |p| format!(" (subprotocol {p})"));
        return format!("{head}  {}{protocol}", paint.bold("101 upgraded"));
    }
    let mut text = format!("{head}\n{failed_at} {} with {}{after}", paint.red("UPGRADE REFUSED"), response.status);
    for (name, value) in &response.headers {
        text += &format!("\n      {name}: {value}");
    }
    if let Some(body) = &response.body {
        text += &format!("\n      body: {}", one_line_cut(body.trim()));
    }
    text
}

/// The most of a long text (an upstream's error page, a diagnosis's evidence quoting it) one log line shows.
pub(crate) const LONG_TEXT_CHARS: usize = 400;

/// A text that may hold line breaks (an HTML error page) on one log line, cut at [`LONG_TEXT_CHARS`]: the
/// record keeps it whole.
pub(crate) fn one_line_cut(text: &str) -> String {
    truncate(&crate::inspect::one_line(text), LONG_TEXT_CHARS)
}

#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn bold(self, t: &str) -> String {
        self.wrap("1", t)
    }
    fn dim(self, t: &str) -> String {
        self.wrap("2", t)
    }
    fn red(self, t: &str) -> String {
        self.wrap("31", t)
    }
    fn green(self, t: &str) -> String {
        self.wrap("32", t)
    }
    fn yellow(self, t: &str) -> String {
        self.wrap("33", t)
    }
    fn cyan(self, t: &str) -> String {
        self.wrap("36", t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Ts;
    use bytes::Bytes;

    fn frame(opcode: Opcode, fin: bool, payload: &[u8]) -> Frame {
        let mut frame = Frame::whole(3, Ts::now(), 1, Peer::Server, opcode, Bytes::copy_from_slice(payload));
        frame.fin = fin;
        frame
    }

    fn line(f: &Frame) -> String {
        frame_line(f, Paint(false))
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

    #[test]
    fn no_color_turns_colours_off_only_when_it_is_not_empty() {
        assert!(!no_color(None));
        assert!(!no_color(Some(std::ffi::OsStr::new(""))), "an empty NO_COLOR keeps colours (no-color.org)");
        assert!(no_color(Some(std::ffi::OsStr::new("1"))));
        assert!(!colours_for(false), "never colours outside a terminal");
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

    /// A failed upgrade prints its request stamped when it arrived and its failure stamped when it was known.
    #[test]
    fn a_failed_upgrade_is_stamped_when_it_failed() {
        let arrived = Ts::from_micros(1_764_000_000_000_000).unwrap();
        let mut open = Open {
            conn: 2,
            ts: arrived,
            client_addr: None,
            request: crate::event::HttpRequest { method: "GET".into(), path: "/chat".into(), headers: vec![] },
            upstream: Some("ws://127.0.0.1:9/chat".into()),
            upstream_request: None,
            response: None,
            error: Some("timed out after 10.0 s while waiting for the upstream's handshake response".into()),
            handshake_ms: None,
            failed_ms: Some(10_002.5),
        };
        let lines = open_lines(&open, Paint(false));
        assert_eq!(
            lines,
            "16:00:00.000 #2 GET /chat → ws://127.0.0.1:9/chat\n16:00:10.002 #2 UPSTREAM FAILED (10.0 s after the request): timed out after 10.0 s while waiting for the upstream's handshake response"
        );
        open.error = None;
        open.response = Some(crate::event::HttpResponse {
            status: 403,
            headers: vec![],
            body: Some("origin not allowed\n".into()),
            body_base64: None,
        });
        open.failed_ms = Some(2_000.0);
        let lines = open_lines(&open, Paint(false));
        assert!(
            lines.ends_with(
                "\n16:00:02.000 #2 UPGRADE REFUSED with 403 (2.0 s after the request)\n      body: origin not allowed"
            ),
            "{lines}"
        );
        // A record written before `failed_ms` existed has only the request's time.
        open.failed_ms = None;
        assert!(open_lines(&open, Paint(false)).contains("\n16:00:00.000 #2 UPGRADE REFUSED with 403\n"));
    }

    /// `--quiet --log-format json` prints closes, not frames, so only the former are serialised for it.
    #[test]
    fn a_quiet_json_log_wants_the_json_of_closes_only() {
        let frame = Record::Frame(frame(Opcode::Text, true, b"hi"));
        let close = Record::Close(crate::event::Close {
            conn: 3,
            ts: Ts::now(),
            initiator: Peer::Server,
            initiator_unknown: false,
            code: Some(1000),
            reason: None,
            clean: true,
            dropped_by: None,
            duration_ms: 1.0,
            detail: None,
        });
        let quiet_json = TerminalLog::stdout(LogFormat::Json).closes_only();
        assert!(!quiet_json.wants_json_of(&frame) && quiet_json.wants_json_of(&close));
        let json = TerminalLog::stdout(LogFormat::Json);
        assert!(json.wants_json_of(&frame) && json.wants_json_of(&close));
        let text = TerminalLog::stdout(LogFormat::Text);
        assert!(!text.wants_json_of(&frame) && !text.wants_json_of(&close));
    }
}
