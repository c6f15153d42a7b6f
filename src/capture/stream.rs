//! Reads a capture record by record (JSON Lines, and version 2's compact frame records) from a window holding
//! about one record, so that no command holds a whole file: a cut-off last record is tolerated, corrupt ones are
//! reported and skipped, and each record goes through the consistency checks ([`super::consistency`]).

use super::compact::{self, DecodeError};
use super::consistency::Consistency;
use super::reader::{CaptureFile, Place, ProblemKind, ReadProblem};
use super::NEWEST_VERSION;
use crate::event::{Record, FORMAT_NAME};
use anyhow::{bail, Result};

/// How much more of the input a [`CaptureStream`] reads when the record it is at runs past what it holds.
pub(super) const READ_STEP: usize = 64 * 1024;

/// How much of the input's start is looked at to tell a HAR given a capture's name.
const HAR_SNIFF: usize = 4096;

/// How far past a damaged record the reader looks for the end of a compact frame that may start the next record:
/// the largest message frametap relays by default (`--max-message`), and its header.
const RESYNC_LOOKAHEAD: usize = crate::proxy::DEFAULT_MAX_MESSAGE as usize + 32;

/// Reads a capture record by record: JSON lines, and after a version 2 `meta` record also compact frame records.
/// It holds the record being read and no more; each record goes through the consistency checks as it is read,
/// and what could not be read, or was left out, is reported by [`CaptureStream::finish`].
pub struct CaptureStream<R> {
    input: R,
    /// Bytes read and not yet parsed start at `window[pos]`; `window[0]` is at byte `offset` of the input.
    window: Vec<u8>,
    /// What each read of the input goes into before joining the window; made at the first read.
    scratch: Option<Box<[u8]>>,
    pos: usize,
    offset: usize,
    at_eof: bool,
    line: usize,
    compact_allowed: bool,
    consistency: Consistency,
    problems: Vec<ReadProblem>,
    has_end: bool,
    admitted: u64,
    /// The input's first read looked like a HAR (a JSON object with a `log` near its start), for the error when no
    /// record is found.
    looks_like_har: bool,
}

/// What a whole read of a capture found besides its records: see [`CaptureFile`]'s fields of the same names.
pub struct ReadEnd {
    pub problems: Vec<ReadProblem>,
    pub has_end: bool,
}

impl<R: std::io::Read> CaptureStream<R> {
    pub fn new(input: R) -> Self {
        CaptureStream {
            input,
            window: Vec::new(),
            scratch: None,
            pos: 0,
            offset: 0,
            at_eof: false,
            line: 0,
            compact_allowed: false,
            consistency: Consistency::default(),
            problems: Vec::new(),
            has_end: false,
            admitted: 0,
            looks_like_har: false,
        }
    }

    /// The next record kept, or `None` at the end of the input. Fails when the input cannot be read, or its
    /// `meta` record names another format or a newer version.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            let Some((record, place)) = self.next_parsed()? else { return Ok(None) };
            if self.consistency.admit(&record, place, &mut self.problems) {
                self.has_end = matches!(record, Record::End(_));
                self.admitted += 1;
                return Ok(Some(record));
            }
        }
    }

    /// Ends the read: what could not be read, was left out or was kept with a warning, in file order, and whether
    /// the capture ended with its `end` record. Fails when nothing in it was a frametap record.
    pub fn finish(self) -> Result<ReadEnd> {
        let mut problems = self.problems;
        self.consistency.finish(&mut problems);
        // The checks' summaries name the first record they are about: in file order with the rest.
        problems.sort_by_key(|problem| problem.place.line);
        if self.admitted == 0 {
            if self.looks_like_har {
                bail!("this looks like a HAR (a JSON document with a `log`), not a capture: name it .har and frametap reads it as one");
            }
            match problems.first() {
                Some(problem) => bail!("no line is a frametap record ({problem})"),
                None => bail!("the file is empty"),
            }
        }
        Ok(ReadEnd { problems, has_end: self.has_end })
    }

    /// Reads every record into a [`CaptureFile`].
    pub fn collect(mut self) -> Result<CaptureFile> {
        let mut records = Vec::new();
        while let Some(record) = self.next_record()? {
            records.push(record);
        }
        let ReadEnd { problems, has_end } = self.finish()?;
        Ok(CaptureFile { records, problems, has_end })
    }

    /// The next record that parses, before the consistency checks; records that do not parse become problems.
    fn next_parsed(&mut self) -> Result<Option<(Record, Place)>> {
        loop {
            // Between records, what was parsed is let go of: the window holds about one record.
            if self.pos > READ_STEP {
                self.window.drain(..self.pos);
                self.offset += self.pos;
                self.pos = 0;
            }
            if self.pos == self.window.len() && !self.read_more()? {
                return Ok(None);
            }
            self.line += 1;
            let start = self.offset + self.pos;
            if self.compact_allowed && self.window[self.pos] == compact::TAG {
                if let Some(frame) = self.compact_frame(start)? {
                    return Ok(Some((Record::Frame(frame), Place::compact_frame(self.line, start))));
                }
                continue;
            }
            let (end, cut_off) = self.line_end()?;
            let text = String::from_utf8_lossy(&self.window[self.pos..end]).into_owned();
            self.pos = (end + 1).min(self.window.len());
            if text.trim().is_empty() {
                continue;
            }
            let place = Place::json(self.line, self.compact_allowed.then_some(start));
            match serde_json::from_str::<Record>(&text) {
                Ok(record) => {
                    if let Record::Meta(meta) = &record {
                        if meta.format != FORMAT_NAME {
                            bail!("line {}: format is {:?}, expected {FORMAT_NAME:?}", self.line, meta.format);
                        }
                        if meta.version > NEWEST_VERSION {
                            bail!(
                                "capture format version {} is newer than this frametap reads ({NEWEST_VERSION}): upgrade frametap",
                                meta.version
                            );
                        }
                        self.compact_allowed = meta.version >= super::COMPACT_VERSION;
                    }
                    return Ok(Some((record, place)));
                }
                Err(e) => {
                    let kind = if cut_off { ProblemKind::CutOff } else { ProblemKind::Corrupt };
                    self.problems.push(ReadProblem::new(place, kind, e.to_string()))
                }
            }
        }
    }

    /// The compact frame record at `pos` (which starts at byte `start` of the input); `None` when it is damaged, after
    /// reporting it and moving on to the next record that reads whole.
    fn compact_frame(&mut self, start: usize) -> Result<Option<crate::event::Frame>> {
        let error = loop {
            match compact::decode(&self.window[self.pos..]) {
                Ok((frame, used)) => {
                    self.pos += used;
                    return Ok(Some(frame));
                }
                Err(DecodeError::Truncated) if !self.at_eof => {
                    self.read_more()?;
                }
                Err(error) => break error,
            }
        };
        let truncated = error == DecodeError::Truncated;
        // Nothing marks where a damaged binary record ends: go on at the next record that reads whole.
        let at_end = !self.skip_to_next_record()?;
        let message = match error {
            DecodeError::Truncated if at_end => "the file ends inside it".to_owned(),
            DecodeError::Truncated => "it is cut short".to_owned(),
            DecodeError::Corrupt(why) => why,
        };
        let skipped = self.offset + self.pos - start;
        let kind = if truncated && at_end { ProblemKind::CutOff } else { ProblemKind::Corrupt };
        let message = match at_end {
            true => format!("{message} ({skipped} bytes skipped to the end of the file)"),
            false => format!("{message} ({skipped} bytes skipped to the next record that reads whole)"),
        };
        self.problems.push(ReadProblem::new(Place::compact_frame(self.line, start), kind, message));
        Ok(None)
    }

    /// Where the line at `pos` ends (its newline, or the end of the input), reading on as far as needed, and whether
    /// the input ends inside it (no newline).
    fn line_end(&mut self) -> Result<(usize, bool)> {
        let mut searched = self.pos;
        loop {
            if let Some(n) = self.window[searched..].iter().position(|&b| b == b'\n') {
                return Ok((searched + n, false));
            }
            searched = self.window.len();
            if !self.read_more()? {
                return Ok((self.window.len(), true));
            }
        }
    }

    /// Moves `pos` past the damaged record at it, to the next place where a record reads whole (see
    /// [`Self::reads_whole_at`]); false when there is none. The damaged record's length is unknown, and the frames
    /// after it are intact: the next good one is usually right where the damaged one ends, and reading goes on there.
    fn skip_to_next_record(&mut self) -> Result<bool> {
        let mut at = self.pos + 1;
        loop {
            match self.window[at..].iter().position(|&b| b == compact::TAG || b == b'{') {
                Some(n) if self.reads_whole_at(at + n)? => {
                    self.pos = at + n;
                    return Ok(true);
                }
                Some(n) => at += n + 1,
                None => {
                    at = self.window.len();
                    if !self.read_more()? {
                        self.pos = at;
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// True when a record starts at `at`: a compact frame that decodes and is followed by the end of the file or
    /// by what starts a record, or a JSON line that starts `{"kind":` (as every record is written) and parses as
    /// one (or that the file cuts off: the reader reports it). A payload that holds such bytes can still pass
    /// for a record; docs/capture-format.md says so.
    fn reads_whole_at(&mut self, at: usize) -> Result<bool> {
        const START: &[u8] = b"{\"kind\":";
        if self.window[at] == compact::TAG {
            let end = loop {
                match compact::decode(&self.window[at..]) {
                    Ok((_, used)) => break at + used,
                    // A candidate longer than any frame frametap relays by default is not read to its end: a false
                    // one could claim the rest of the file.
                    Err(DecodeError::Truncated) if self.window.len() - at > RESYNC_LOOKAHEAD => return Ok(false),
                    Err(DecodeError::Truncated) if self.read_more()? => {}
                    Err(_) => return Ok(false),
                }
            };
            while self.window.len() < end + START.len() && self.read_more()? {}
            let next = &self.window[end..];
            return Ok(next.is_empty()
                || next[0] == compact::TAG
                || START.starts_with(next)
                || next.starts_with(START));
        }
        while self.window.len() < at + START.len() && self.read_more()? {}
        if !self.window[at..].starts_with(START) {
            return Ok(false);
        }
        let mut searched = at;
        loop {
            if let Some(n) = self.window[searched..].iter().position(|&b| b == b'\n') {
                let line = &self.window[at..searched + n];
                return Ok(serde_json::from_slice::<Record>(line).is_ok());
            }
            searched = self.window.len();
            if !self.read_more()? {
                return Ok(true);
            }
        }
    }

    /// Reads more of the input onto the end of the window (indices into it stay valid); false at the end of the input.
    fn read_more(&mut self) -> Result<bool> {
        if self.at_eof {
            return Ok(false);
        }
        // One read call, whatever it gives (a pipe's writer may still be writing), through a buffer kept across
        // reads: growing the window by a zeroed step per call cost a step's memset for each short read.
        let scratch = self.scratch.get_or_insert_with(|| vec![0; READ_STEP].into_boxed_slice());
        let read = loop {
            match self.input.read(scratch) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => bail!("could not read it past byte {}: {e}", self.offset + self.window.len()),
            }
        };
        let was = self.window.len();
        self.window.extend_from_slice(&scratch[..read]);
        if self.offset == 0 && was < HAR_SNIFF {
            let start = &self.window[..self.window.len().min(HAR_SNIFF)];
            self.looks_like_har = start.trim_ascii_start().starts_with(b"{")
                && start.windows(b"\"log\"".len()).any(|window| window == b"\"log\"");
        }
        self.at_eof = read == 0;
        Ok(read > 0)
    }
}
