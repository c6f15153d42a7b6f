//! The live terminal log: one line per frame (time, connection, direction, opcode, size, preview),
//! close lines with the code's name, and the blocks the analysis adds. The one place that prints frames.
//! Columns stay put across connections and sizes; on a terminal (or with `COLUMNS`) every line fits the width, down
//! to 40 columns and below: a frame's line gives way (preview, size, padding) and prose wraps under its connection.

mod frame;
#[doc(hidden)]
pub mod notice;
mod size;
mod width;
mod wrap;

use crate::event::{ConnId, Open, Record};
use crate::inspect::close_code_name;
use std::io::{BufWriter, IsTerminal, Stdout, Write};
pub(crate) use width::Width;
pub(crate) use wrap::wrap;

/// How the terminal log prints records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per record, coloured on a terminal.
    #[default]
    Text,
    /// One JSON record per line: exactly the capture format.
    Json,
}

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
    /// How wide lines may be: `COLUMNS`, the terminal's width, or no limit.
    width: Width,
    /// False after a flush: the terminal's width is read again before the next batch's first line.
    width_read: bool,
    conn: ConnColumn,
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
        let width = if format == LogFormat::Text { Width::for_stdout() } else { Width::Unlimited };
        TerminalLog {
            out: BufWriter::new(std::io::stdout()),
            format,
            color,
            blocks: None,
            frames: true,
            width,
            width_read: true,
            conn: ConnColumn::default(),
        }
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
            LogFormat::Text => {
                if !self.width_read {
                    self.width.refresh();
                    self.width_read = true;
                }
                if let Some(conn) = record.conn() {
                    self.conn.see(conn);
                }
                let text = self.render(record);
                // A frame's line was fitted (and, narrower than it fits, went on under itself); prose is wrapped.
                match (record, self.width.columns()) {
                    (Record::Frame(_), _) | (_, None) => text,
                    (_, Some(width)) => text.map(|text| wrap::wrap(&text, width)),
                }
            }
        };
        if let Some(text) = text {
            // A closed stdout (a pipe to `head`) must not stop the relay.
            let _ = writeln!(self.out, "{text}");
        }
    }

    /// Writes out what was printed: after each batch of records. The next batch starts by reading the
    /// terminal's width again (once a batch: a resized window is followed without a system call per line).
    pub fn flush(&mut self) {
        let _ = self.out.flush();
        self.width_read = false;
    }

    fn layout(&self) -> Layout {
        Layout { paint: Paint(self.color), conn: self.conn, width: self.width.columns() }
    }

    fn render(&self, record: &Record) -> Option<String> {
        let layout = self.layout();
        let paint = layout.paint;
        let conn = |id: ConnId| self.conn.show(id);
        match record {
            Record::Frame(frame) => Some(frame::frame_line(frame, layout)),
            Record::Open(open) => Some(open_lines(open, layout)),
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
                    "{} {} {} first by {}: {code}{reason}, {how}, after {}{detail}",
                    time(record),
                    conn(close.conn),
                    paint.bold("CLOSED"),
                    close.closer_phrase(),
                    crate::inspect::close::human_ms(close.duration_ms)
                ))
            }
            Record::Note(note) => {
                let conn = note.conn.map_or(String::new(), |c| format!(" {}", conn(c)));
                let level = if note.level.is_warning() {
                    paint.yellow(&note.level.as_str().to_uppercase())
                } else {
                    note.level.to_string()
                };
                Some(format!("{}{conn} {level}: {}", time(record), note.message))
            }
            // The arrow stands where a frame's opcode does, under the frame it annotates.
            Record::Annotation(a) => Some(paint.dim(&format!("{} {}     ↳ {}", time(record), conn(a.conn), a.text))),
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

/// What a `--quiet` log prints: how connections ended and why, warnings and errors, the end of the capture. A
/// replay's divergences are warnings, but one per frame: its summary counts them instead.
fn is_about_an_end(record: &Record) -> bool {
    match record {
        Record::Close(_) | Record::Diagnosis(_) | Record::End(_) => true,
        Record::Note(note) => note.level.is_warning() && note.code != crate::replay::player::DIVERGENCE_NOTE,
        _ => false,
    }
}

fn time(record: &Record) -> String {
    record.ts().0.format("%H:%M:%S%.3f").to_string()
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
fn open_lines(open: &Open, layout: Layout) -> String {
    let (paint, conn) = (layout.paint, layout.conn.show(open.conn));
    let time = open.ts.0.format("%H:%M:%S%.3f");
    let upstream = open.upstream.as_deref().unwrap_or("?");
    let head = format!("{time} {conn} {} {} → {upstream}", open.request.method, open.request.path);
    // Stamped when frametap knew; a record written before frametap recorded that has only the request's time.
    let (failed_at, after) = match (open.failed_at(), open.failed_ms) {
        (Some(at), Some(ms)) => (
            format!("{} {conn}", at.0.format("%H:%M:%S%.3f")),
            format!(" ({} after the request)", crate::inspect::close::human_ms(ms)),
        ),
        _ => (format!("{time} {conn}"), String::new()),
    };
    if let Some(failed) = crate::inspect::refused::failed_after_101(open) {
        return format!("{head}\n{failed_at} {}{after}: {failed}", paint.red("UPGRADE FAILED"));
    }
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
    // An empty body (or only whitespace) says nothing: no `body:` line with nothing after it.
    if let Some(body) = response.readable_body().filter(|body| !body.trim().is_empty()) {
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

/// The smallest connection column: `#999`, so the columns after it stay put from #1 to #999.
const MIN_CONN_DIGITS: usize = 3;

/// The connection column: `#N` right-aligned, as wide as the widest number the log has printed (3 digits at
/// least). Past #999 it widens by one, once, and stays so: the columns move at #1000 and never back.
#[derive(Clone, Copy)]
struct ConnColumn {
    digits: usize,
}

impl Default for ConnColumn {
    fn default() -> Self {
        ConnColumn { digits: MIN_CONN_DIGITS }
    }
}

impl ConnColumn {
    fn see(&mut self, conn: ConnId) {
        self.digits = self.digits.max(conn.checked_ilog10().map_or(1, |log| log as usize + 1));
    }

    fn show(self, conn: ConnId) -> String {
        format!("{:>width$}", format!("#{conn}"), width = self.digits + 1)
    }
}

/// How a record's lines are laid out.
#[derive(Clone, Copy)]
struct Layout {
    paint: Paint,
    conn: ConnColumn,
    /// The columns a frame's line fits, if there is a limit.
    width: Option<usize>,
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
    use crate::event::{Frame, Opcode, Peer, Ts};
    use bytes::Bytes;

    fn plain() -> Layout {
        Layout { paint: Paint(false), conn: ConnColumn::default(), width: None }
    }

    #[test]
    fn the_connection_column_holds_three_digits_then_widens_once() {
        let mut column = ConnColumn::default();
        assert_eq!([column.show(1), column.show(42), column.show(150)], ["  #1", " #42", "#150"]);
        column.see(999);
        assert_eq!(column.show(1), "  #1");
        column.see(1000);
        column.see(7);
        assert_eq!([column.show(1), column.show(1000)], ["   #1", "#1000"], "wider from #1000 on, for good");
    }

    #[test]
    fn no_color_turns_colours_off_only_when_it_is_not_empty() {
        assert!(!no_color(None));
        assert!(!no_color(Some(std::ffi::OsStr::new(""))), "an empty NO_COLOR keeps colours (no-color.org)");
        assert!(no_color(Some(std::ffi::OsStr::new("1"))));
        assert!(!colours_for(false), "never colours outside a terminal");
    }

    /// A failed upgrade prints its request stamped when it arrived and its failure stamped when it was known.
    #[test]
    fn a_failed_upgrade_is_stamped_when_it_failed() {
        let arrived = Ts::from_micros(1_764_000_000_000_000).unwrap();
        let mut open = Open {
            upstream: Some("ws://127.0.0.1:9/chat".into()),
            error: Some("timed out after 10.0 s while waiting for the upstream's handshake response".into()),
            failed_ms: Some(10_002.5),
            ..Open::new(
                2,
                arrived,
                crate::event::HttpRequest { method: "GET".into(), path: "/chat".into(), headers: vec![] },
            )
        };
        let lines = open_lines(&open, plain());
        assert_eq!(
            lines,
            "16:00:00.000   #2 GET /chat → ws://127.0.0.1:9/chat\n16:00:10.002   #2 UPSTREAM FAILED (10.0 s after the request): timed out after 10.0 s while waiting for the upstream's handshake response"
        );
        open.error = None;
        open.response = Some(crate::event::HttpResponse {
            status: 403,
            headers: vec![],
            body: Some("origin not allowed\n".into()),
            body_base64: None,
        });
        open.failed_ms = Some(2_000.0);
        let lines = open_lines(&open, plain());
        assert!(
            lines.ends_with(
                "\n16:00:02.000   #2 UPGRADE REFUSED with 403 (2.0 s after the request)\n      body: origin not allowed"
            ),
            "{lines}"
        );
        // A body that is not UTF-8 (here Latin-1) is shown all the same, not left out.
        open.response = Some(crate::event::HttpResponse {
            status: 403,
            headers: vec![],
            body: None,
            body_base64: Some("Zvxy".into()), // f\xfcr
        });
        assert!(open_lines(&open, plain()).ends_with("\n      body: f\u{fffd}r"), "{}", open_lines(&open, plain()));
        // A record written before `failed_ms` existed has only the request's time.
        open.failed_ms = None;
        assert!(open_lines(&open, plain()).contains("\n16:00:00.000   #2 UPGRADE REFUSED with 403\n"));
        // An empty body gets no `body:` line.
        open.response = Some(crate::event::HttpResponse {
            status: 403,
            headers: vec![],
            body: Some("\r\n".into()),
            body_base64: None,
        });
        assert!(open_lines(&open, plain()).ends_with("UPGRADE REFUSED with 403"), "{}", open_lines(&open, plain()));
    }

    /// `--quiet --log-format json` prints closes, not frames, so only the former are serialised for it.
    #[test]
    fn a_quiet_json_log_wants_the_json_of_closes_only() {
        let frame = Record::Frame(Frame::whole(3, Ts::now(), 1, Peer::Server, Opcode::Text, Bytes::from_static(b"hi")));
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
