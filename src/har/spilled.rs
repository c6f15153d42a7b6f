//! A capture's records sorted by connection into a spill (`frametap convert` to a HAR): the records of no connection
//! are held, each connection's are found where they were put, so the HAR's entries can be written one connection at
//! a time ([`super::HarDocument::spilled`]), its frames' payloads read back one message at a time, whatever the
//! capture's size.

use crate::capture::{Spill, SpillReader, SpillSpan};
use crate::event::{ConnId, Frame, Record};
use anyhow::Result;
use std::borrow::Cow;
use std::collections::HashMap;

/// Sorts records, in capture order, by connection: each gets its position in the capture (`at`).
#[derive(Default)]
pub struct ByConnection {
    global: Vec<(usize, Record)>,
    conns: Vec<(ConnId, Vec<(usize, SpillSpan)>)>,
    index_of: HashMap<ConnId, usize>,
    next_at: usize,
    frames: usize,
}

/// A capture's records sorted by connection, each connection's in the spill they were put in.
pub struct SpilledConnections {
    /// The records of no connection (`meta`, `end`, session notes), with their positions.
    pub(super) global: Vec<(usize, Record)>,
    /// Each connection, in the order connections first appear, with its records' positions and where they are in
    /// the spill, in file order.
    pub(super) conns: Vec<(ConnId, Vec<(usize, SpillSpan)>)>,
    pub(super) spill: SpillReader,
}

impl SpilledConnections {
    /// The records of a connection (`places`: their positions and where they are in the spill), its frames without
    /// their payloads, which are read back from the spill as each message is written ([`Payloads`]).
    pub(super) fn read_connection(
        &self,
        places: &[(usize, SpillSpan)],
    ) -> Result<(Vec<(usize, Record)>, Payloads<'_>)> {
        let mut records = Vec::with_capacity(places.len());
        let mut frames = HashMap::new();
        for (at, span) in places {
            let mut record = self.spill.read(*span)?;
            if let Record::Frame(frame) = &mut record {
                frames.insert(*at, (*span, frame.payload.len()));
                frame.payload = bytes::Bytes::new();
            }
            records.push((*at, record));
        }
        Ok((records, Payloads::Spilled { spill: &self.spill, frames }))
    }
}

impl ByConnection {
    /// The next record is one of connection `conn`'s, already in the spill at `span`.
    pub fn place(&mut self, conn: ConnId, span: SpillSpan, is_frame: bool) {
        let index = *self.index_of.entry(conn).or_insert_with(|| {
            self.conns.push((conn, Vec::new()));
            self.conns.len() - 1
        });
        self.conns[index].1.push((self.next_at, span));
        self.next_at += 1;
        self.frames += usize::from(is_frame);
    }

    /// The next record is one of no connection: held.
    pub fn hold(&mut self, record: Record) {
        self.global.push((self.next_at, record));
        self.next_at += 1;
    }

    /// The next record: put in `spill` when it is a connection's, else held.
    pub fn add(&mut self, record: Record, spill: &mut Spill) -> Result<()> {
        match record.conn() {
            Some(conn) => {
                let span = spill.push(&record)?;
                self.place(conn, span, matches!(record, Record::Frame(_)));
            }
            None => self.hold(record),
        }
        Ok(())
    }

    /// The frames among the records.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The sorted records, the connections' read back from `spill` (where they were put).
    pub fn read_from(self, spill: SpillReader) -> SpilledConnections {
        SpilledConnections { global: self.global, conns: self.conns, spill }
    }
}

/// Where the payloads of a connection's frames are: in their records, or (a spilled connection's, whose frames are
/// held without them, so that a connection of any size costs little more than one message) in the spill, read back
/// when a message is written and let go of after it.
pub(super) enum Payloads<'a> {
    InRecords,
    Spilled {
        spill: &'a SpillReader,
        /// Each frame held without its payload, by position: where its record is, and how many payload bytes it has.
        frames: HashMap<usize, (SpillSpan, usize)>,
    },
}

impl Payloads<'_> {
    /// The payload of `frame`, at position `at`.
    pub(super) fn of(&self, at: usize, frame: &Frame) -> anyhow::Result<bytes::Bytes> {
        match self.spilled(at) {
            Some((spill, span)) => match spill.read(span)? {
                Record::Frame(whole) => Ok(whole.payload),
                other => anyhow::bail!("the temporary file does not read back (a {} record for a frame)", other.kind()),
            },
            None => Ok(frame.payload.clone()),
        }
    }

    /// How many payload bytes `frame`, at position `at`, has.
    pub(super) fn kept(&self, at: usize, frame: &Frame) -> usize {
        match self {
            Payloads::Spilled { frames, .. } => frames.get(&at).map_or(frame.payload.len(), |(_, kept)| *kept),
            Payloads::InRecords => frame.payload.len(),
        }
    }

    /// `record`, at position `at`, whole: read back when it is a frame held without its payload.
    pub(super) fn whole<'r>(&self, at: usize, record: &'r Record) -> anyhow::Result<Cow<'r, Record>> {
        match self.spilled(at) {
            Some((spill, span)) => Ok(Cow::Owned(spill.read(span)?)),
            None => Ok(Cow::Borrowed(record)),
        }
    }

    fn spilled(&self, at: usize) -> Option<(&SpillReader, SpillSpan)> {
        match self {
            Payloads::Spilled { spill, frames } => frames.get(&at).map(|(span, _)| (*spill, *span)),
            Payloads::InRecords => None,
        }
    }
}
