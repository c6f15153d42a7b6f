//! Reads capture files back (JSON Lines, and version 2's compact frame records), tolerating a cut-off last
//! record, reporting (then skipping) corrupt ones, and reporting records that contradict the others
//! ([`super::consistency`]).

use super::stream::CaptureStream;
use crate::event::Record;
use anyhow::{Context, Result};
use std::path::Path;

/// A capture read back from disk.
#[derive(Debug, Default)]
pub struct CaptureFile {
    pub records: Vec<Record>,
    /// Records that could not be read, were left out, or were kept though they contradict the others, in file order.
    pub problems: Vec<ReadProblem>,
    /// True when the file ends with an `end` record (a file without one was cut short).
    pub has_end: bool,
}

/// A record of a capture that could not be read, was left out, or was kept though it contradicts the others.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadProblem {
    /// Where the record starts: `line 3`, or in a compact file `record 26 (a compact frame at byte 7000)`.
    pub place: Place,
    pub kind: ProblemKind,
    /// What is wrong; for [`ProblemKind::Skipped`] and [`ProblemKind::Kept`] also what frametap did about it.
    pub message: String,
}

/// What a [`ReadProblem`] is, and what became of its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Not a record (corrupt JSON, a damaged compact header): skipped.
    Corrupt,
    /// The last record of a file that ends inside it (the writer was cut off mid-record): skipped.
    CutOff,
    /// A record that contradicts the ones before it in a way no reading can reconcile (a second `open` for a
    /// connection): left out, and counted with the records that could not be read.
    Skipped,
    /// A record that contradicts the others (frames of a connection that never opened, time going backwards, a
    /// `len` that is not its payload's): kept as written, with this warning; nothing is missing.
    Kept,
}

/// Where a record starts in a capture file: its line; in a compact file, whose frame records are not lines of text,
/// its number (each record counting as one) and its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1-based line number; in a compact file (format version 2), the record's number, each compact frame record
    /// counting as one.
    pub line: usize,
    /// Where the record starts in the file, in a compact file (whose records are not all lines of text).
    pub offset: Option<usize>,
    /// True for a compact frame record.
    pub compact_frame: bool,
}

impl Place {
    /// A JSON line: `line 3`; in a compact file (`at` its byte offset there), `record 3 (a JSON line at byte 410)`,
    /// since the compact frames before it are no lines of text and an editor's line 3 is another record.
    pub(super) fn json(line: usize, at: Option<usize>) -> Self {
        Place { line, offset: at, compact_frame: false }
    }

    /// A compact frame record, the `line`th record of its file, at byte `offset`.
    pub(super) fn compact_frame(line: usize, offset: usize) -> Self {
        Place { line, offset: Some(offset), compact_frame: true }
    }
}

impl std::fmt::Display for Place {
    /// `line 3`, or in a compact file `record 26 (a compact frame at byte 7000)` or `record 27 (a JSON line at byte
    /// 7143)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.compact_frame { "a compact frame" } else { "a JSON line" };
        match self.offset {
            Some(offset) => write!(f, "record {} ({what} at byte {offset})", self.line),
            None => write!(f, "line {}", self.line),
        }
    }
}

impl ReadProblem {
    /// The code of the session note `ui FILE` shows for it: `capture-unreadable` for a record that could not be read,
    /// `capture-inconsistent` for one that contradicts the others.
    pub fn note_code(&self) -> &'static str {
        match self.kind {
            ProblemKind::Corrupt | ProblemKind::CutOff => "capture-unreadable",
            ProblemKind::Skipped | ProblemKind::Kept => "capture-inconsistent",
        }
    }

    pub(super) fn new(place: Place, kind: ProblemKind, message: String) -> Self {
        ReadProblem { place, kind, message }
    }

    /// True for the last record of a file that ends inside it: the writer was cut off mid-record.
    pub fn truncated(&self) -> bool {
        self.kind == ProblemKind::CutOff
    }

    /// True when the record is not among those read (unreadable, or left out); false when it was kept as written.
    pub fn lost(&self) -> bool {
        self.kind != ProblemKind::Kept
    }
}

impl std::fmt::Display for ReadProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.place;
        match self.kind {
            ProblemKind::CutOff => write!(f, "{at}: cut off mid-record (skipped): {}", self.message),
            ProblemKind::Corrupt => write!(f, "{at}: corrupt record (skipped): {}", self.message),
            ProblemKind::Skipped | ProblemKind::Kept => write!(f, "{at}: {}", self.message),
        }
    }
}

impl CaptureFile {
    /// The connection ids in the capture, in order of their first record.
    pub fn connections(&self) -> Vec<u64> {
        let mut ids = Vec::new();
        for record in &self.records {
            if let Some(id) = record.conn() {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// The records of one connection, in file order.
    pub fn connection(&self, conn: u64) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(move |r| r.conn() == Some(conn))
    }

    /// The problems whose records are not among those read: unreadable, or left out.
    pub fn lost(&self) -> impl Iterator<Item = &ReadProblem> {
        self.problems.iter().filter(|problem| problem.lost())
    }

    /// The problems whose records were kept as written: warnings about records that contradict the others.
    pub fn doubts(&self) -> impl Iterator<Item = &ReadProblem> {
        self.problems.iter().filter(|problem| !problem.lost())
    }

    /// What a copy of this capture must say it lacks, for its own `end` record: the records the writer dropped
    /// and the errors named by the capture's `end`, each record that could not be read or was left out, and a
    /// missing `end`.
    pub fn losses(&self) -> (u64, Vec<String>) {
        let (dropped, mut errors) = crate::event::End::losses_of(&self.records);
        errors.extend(self.lost().map(|problem| format!("input {problem}")));
        if !self.has_end {
            errors.push("the input capture has no end record: it was cut short".to_owned());
        }
        (dropped, errors)
    }

    /// What makes this capture incomplete, in one clause (records unreadable or left out, or no `end` record), or
    /// `None` when it was read in full: `convert` and `replay` refuse such a capture without `--partial`.
    pub fn incomplete(&self) -> Option<String> {
        let lost: Vec<&ReadProblem> = self.lost().collect();
        match lost.first() {
            Some(problem) if lost.len() == 1 => Some(problem.to_string()),
            Some(problem) => Some(format!(
                "{problem}, and {} more",
                crate::words::count_as(
                    lost.len() as u64 - 1,
                    "record unreadable or left out",
                    "records unreadable or left out"
                )
            )),
            None if !self.has_end => {
                Some("it ends without an end record: it was cut short (or is still being written)".into())
            }
            None => None,
        }
    }

    /// What went wrong reading it, one (note code, message) each, in file order: every record unreadable, left out
    /// or kept with a warning, then a missing `end`. `ui FILE` shows these as session notes.
    pub fn read_warnings(&self) -> Vec<(&'static str, String)> {
        let mut warnings: Vec<_> = self.problems.iter().map(|p| (p.note_code(), p.to_string())).collect();
        warnings.extend(self.cut_short().map(|cut| ("capture-cut-short", cut)));
        warnings
    }

    /// What is missing, one message each: every record unreadable or left out, and a missing `end`. Commands that
    /// go on with what could be read (`replay --partial`) say these.
    pub fn skipped(&self) -> Vec<String> {
        self.lost().map(ToString::to_string).chain(self.cut_short()).collect()
    }

    /// A missing `end` record, in words.
    fn cut_short(&self) -> Option<String> {
        (!self.has_end).then(|| "the capture has no end record: it was cut short, or is still being written".to_owned())
    }

    /// The capture's `meta` record, if the first line held one.
    pub fn meta(&self) -> Option<&crate::event::Meta> {
        match self.records.first() {
            Some(Record::Meta(meta)) => Some(meta),
            _ => None,
        }
    }
}

/// Reads and parses a capture file, one record at a time (the file is never held whole in memory).
pub fn read_capture(path: &Path) -> Result<CaptureFile> {
    open_capture(path)?.collect().with_context(|| format!("{} is not a usable frametap capture", path.display()))
}

/// Opens a capture file for reading record by record ([`CaptureStream`]): commands that go through a capture once
/// (`inspect`) hold only what they keep, not the file nor every record.
pub fn open_capture(path: &Path) -> Result<CaptureStream<std::fs::File>> {
    crate::paths::refuse_folder_to_read(path)?;
    let file = std::fs::File::open(path).with_context(|| format!("could not read the capture {}", path.display()))?;
    Ok(CaptureStream::new(file))
}

/// Parses capture text. Fails only when nothing in it is a frametap record, or its version is newer than this build.
pub fn parse_capture(text: &str) -> Result<CaptureFile> {
    parse_capture_bytes(text.as_bytes())
}

/// Parses a capture: JSON lines, and after a version 2 `meta` record also compact frame records. Fails only
/// when nothing in it is a frametap record, or its version is newer than this build.
pub fn parse_capture_bytes(bytes: &[u8]) -> Result<CaptureFile> {
    CaptureStream::new(bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::super::compact;
    use super::super::stream::READ_STEP;
    use super::*;
    use crate::fuzzing::Dribble;

    const META: &str = r#"{"kind":"meta","ts":"2026-01-01T00:00:00.000000Z","format":"frametap-capture","version":1,"frametap":"0.1.0","command":["frametap"],"mode":"proxy","redacted":false}"#;
    const NOTE: &str =
        r#"{"kind":"note","conn":1,"ts":"2026-01-01T00:00:00.000001Z","level":"info","code":"x","message":"m"}"#;
    const OPEN: &str = r#"{"kind":"open","conn":1,"ts":"2026-01-01T00:00:00.000001Z","request":{"method":"GET","path":"/","headers":[]}}"#;

    #[test]
    fn cut_off_last_line_is_tolerated_and_reported() {
        let text = format!("{META}\n{NOTE}\n{{\"kind\":\"fra");
        let capture = parse_capture(&text).unwrap();
        assert_eq!(capture.records.len(), 2);
        assert!(!capture.has_end);
        assert_eq!(capture.problems.len(), 1);
        assert!(capture.problems[0].truncated());
        assert_eq!(capture.problems[0].place.line, 3);
    }

    #[test]
    fn corrupt_line_is_reported_with_its_number_and_skipped() {
        let text = format!("{META}\nnot json\n{NOTE}\n");
        let capture = parse_capture(&text).unwrap();
        assert_eq!(capture.records.len(), 2);
        assert_eq!(capture.problems[0].place.line, 2);
        assert!(!capture.problems[0].truncated());
        assert!(capture.problems[0].to_string().contains("line 2: corrupt"));
    }

    #[test]
    fn nothing_readable_is_an_error() {
        assert!(parse_capture("hello\nworld\n").unwrap_err().to_string().contains("no line"));
        assert!(parse_capture("").unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn newer_versions_are_refused() {
        let text = META.replace(r#""version":1"#, r#""version":99"#);
        assert!(parse_capture(&text).unwrap_err().to_string().contains("upgrade frametap"));
    }

    fn compact_frame(seq: u64) -> Vec<u8> {
        use crate::event::{Frame, Opcode, Peer, Ts};
        let ts = Ts(chrono::DateTime::from_timestamp_micros(1_767_225_600_000_002).unwrap());
        let frame = Frame::whole(1, ts, seq, Peer::Client, Opcode::Text, bytes::Bytes::from("{\"a\":\"b\n\"}"));
        let mut bytes = Vec::new();
        compact::encode(&frame, &mut bytes);
        bytes
    }

    fn version_2() -> String {
        META.replace(r#""version":1"#, r#""version":2"#)
    }

    #[test]
    fn compact_frames_are_read_between_json_lines() {
        let mut bytes = format!("{}\n{OPEN}\n", version_2()).into_bytes();
        bytes.extend(compact_frame(1));
        bytes.extend(compact_frame(2));
        bytes.extend(format!("{NOTE}\n").bytes());
        let capture = parse_capture_bytes(&bytes).unwrap();
        assert!(capture.problems.is_empty(), "{:?}", capture.problems);
        let kinds: Vec<&str> = capture.records.iter().map(Record::kind).collect();
        assert_eq!(kinds, ["meta", "open", "frame", "frame", "note"]);
    }

    #[test]
    fn a_damaged_compact_frame_is_reported_and_reading_goes_on_at_the_next_record_that_reads_whole() {
        let mut bytes = format!("{}\n{OPEN}\n", version_2()).into_bytes();
        let mut damaged = compact_frame(1);
        damaged[2] = 0x03; // peer 3 does not exist
        let at = bytes.len();
        bytes.extend(&damaged);
        bytes.extend(compact_frame(2));
        bytes.extend(format!("{NOTE}\n").bytes());
        bytes.extend(compact_frame(3));
        let capture = parse_capture_bytes(&bytes).unwrap();
        let kinds: Vec<&str> = capture.records.iter().map(Record::kind).collect();
        assert_eq!(kinds, ["meta", "open", "frame", "note", "frame"], "only the damaged frame is lost");
        assert_eq!(capture.problems.len(), 1, "{:?}", capture.problems);
        let problem = &capture.problems[0];
        assert_eq!((problem.place.offset, problem.truncated()), (Some(at), false));
        let text = problem.to_string();
        assert!(
            text.contains(&format!("record 3 (a compact frame at byte {at}): corrupt")) && text.contains("peer 3"),
            "{text}"
        );
        assert!(
            text.contains(&format!("({} bytes skipped to the next record that reads whole)", damaged.len())),
            "{text}"
        );
    }

    #[test]
    fn record_like_bytes_inside_a_damaged_frame_are_not_taken_for_records() {
        use crate::event::{Frame, Opcode, Peer, Ts};
        let ts = Ts(chrono::DateTime::from_timestamp_micros(1_767_225_600_000_002).unwrap());
        // A payload holding the start of a JSON record that does not parse, and a compact header that decodes
        // but is followed by nothing that starts a record.
        let mut payload = br#"x{"kind":"note" broken"#.to_vec();
        compact::encode(
            &Frame::whole(1, ts, 9, Peer::Client, Opcode::Binary, bytes::Bytes::from_static(b"ab")),
            &mut payload,
        );
        payload.extend(b"trailing junk");
        let mut damaged = Vec::new();
        compact::encode(
            &Frame::whole(1, ts, 1, Peer::Client, Opcode::Binary, bytes::Bytes::from(payload)),
            &mut damaged,
        );
        damaged[1] |= 0x80; // a reserved bit
        let mut bytes = format!("{}\n{OPEN}\n", version_2()).into_bytes();
        bytes.extend(&damaged);
        bytes.extend(compact_frame(2));
        let capture = parse_capture_bytes(&bytes).unwrap();
        let seqs: Vec<u64> = capture
            .records
            .iter()
            .filter_map(|record| match record {
                Record::Frame(frame) => Some(frame.seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, [2], "{:?}", capture.problems);
        assert_eq!(capture.problems.len(), 1, "{:?}", capture.problems);
    }

    #[test]
    fn a_damaged_compact_frame_with_nothing_after_it_is_skipped_to_the_end() {
        let mut bytes = format!("{}\n", version_2()).into_bytes();
        let mut damaged = compact_frame(1);
        damaged[1] |= 0x80;
        bytes.extend(&damaged);
        let capture = parse_capture_bytes(&bytes).unwrap();
        let text = capture.problems[0].to_string();
        assert!(text.contains(&format!("({} bytes skipped to the end of the file)", damaged.len())), "{text}");
    }

    #[test]
    fn a_capture_read_in_small_pieces_or_past_many_windows_reads_as_in_one_piece() {
        // JSON lines and compact frames, a damaged compact frame, a corrupt line and a cut-off compact frame last,
        // long enough that the reader lets go of what it parsed many times over.
        let mut bytes = format!("{}\n{OPEN}\n", version_2()).into_bytes();
        for seq in 1..=12000 {
            bytes.extend(compact_frame(seq));
            if seq % 3000 == 0 {
                bytes.extend(format!("{NOTE}\nnot json\n").bytes());
            }
        }
        let mut damaged = compact_frame(12001);
        damaged[2] = 0x03;
        bytes.extend(damaged);
        bytes.extend(format!("{NOTE}\n").bytes());
        let cut = compact_frame(12002);
        bytes.extend(&cut[..cut.len() - 3]);
        assert!(bytes.len() > 3 * READ_STEP, "the test must cross several windows: {} bytes", bytes.len());
        let whole = parse_capture_bytes(&bytes).unwrap();
        assert_eq!(whole.records.iter().filter(|r| matches!(r, Record::Frame(_))).count(), 12000);
        assert_eq!(whole.problems.len(), 6, "{:?}", whole.problems);
        assert!(whole.problems.last().unwrap().truncated());
        for step in [1, 2, 3, 7, 13, 4096, READ_STEP - 1] {
            let dribbled = CaptureStream::new(Dribble { bytes: &bytes, step }).collect().unwrap();
            assert_eq!(dribbled.records, whole.records, "read {step} bytes at a time");
            assert_eq!(dribbled.problems, whole.problems, "read {step} bytes at a time");
            assert_eq!(dribbled.has_end, whole.has_end);
        }
    }

    #[test]
    fn a_version_1_capture_never_holds_compact_frames() {
        let mut bytes = format!("{META}\n").into_bytes();
        bytes.extend(compact_frame(1));
        bytes.extend(format!("\n{NOTE}\n").bytes());
        let capture = parse_capture_bytes(&bytes).unwrap();
        let kinds: Vec<&str> = capture.records.iter().map(Record::kind).collect();
        assert_eq!(kinds, ["meta", "note"]);
        assert!(!capture.problems.is_empty(), "the binary bytes are corrupt lines");
        assert!(capture.problems.iter().all(|p| p.place.offset.is_none()), "{:?}", capture.problems);
    }

    /// serde_json's default float parser can lose a float's last bit; captures need the exact value back, or
    /// a convert or redact round trip changes `duration_ms` (found by a compact → JSON Lines → compact test).
    #[test]
    fn numbers_survive_a_read_and_write_exactly() {
        let close = r#"{"kind":"close","conn":1,"ts":"2026-01-01T00:00:00.000001Z","initiator":"client","code":1000,"clean":true,"duration_ms":2.4975169999999998}"#;
        let capture = parse_capture(&format!("{META}\n{close}\n")).unwrap();
        assert_eq!(serde_json::to_string(&capture.records[1]).unwrap(), close);
    }
}
