//! A relayed connection's handle on the pipeline: its records are analysed where they are emitted (on the
//! relay's thread, while each frame is still in that core's cache), so the sink thread only writes them;
//! and when nothing reads frame records, only what the analysis derives is handed over.

use super::order::DerivedOrder;
use super::queue::{record_cost, EventSink, Message};
use super::Analysis;
use crate::event::{ConnId, Record};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// Emits the records of one connection, analysing them first. Made by [`EventSink::connection`]; every
/// record of the connection must go through it, in order (the analysis keeps the connection's history).
pub struct ConnSink {
    conn: ConnId,
    sink: EventSink,
    /// This connection's analysis: `None` when the session has none, or after it failed.
    /// Locked only while records are analysed, never across an await; both directions of a relayed
    /// connection run in one task, so it is never contended.
    analysis: Mutex<Option<Box<dyn Analysis>>>,
}

impl ConnSink {
    pub(super) fn new(conn: ConnId, sink: EventSink, analysis: Option<Box<dyn Analysis>>) -> Self {
        ConnSink { conn, sink, analysis: Mutex::new(analysis) }
    }

    /// The connection's id.
    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// [`Self::emit`] for several records in order, with one lock when the queue has room; empties `records`.
    /// An upgrade that failed is emitted as one batch, its `open` and the notes about its handshake, so its
    /// diagnosis follows them ([`DerivedOrder`]).
    pub async fn emit_all(&self, records: &mut Vec<Record>) {
        let (count, cost) = records
            .iter()
            .filter(|record| self.is_sent(record))
            .fold((0, 0), |(count, cost), record| (count + 1, cost + record_cost(record)));
        if self.sink.queue.reserve(count, cost) {
            let analysed = self.analyse(records.drain(..));
            self.push_reserved(analysed, count, cost);
            return;
        }
        // No room for the batch at once: its records one by one, in the order the analysis put them.
        for record in self.analyse(records.drain(..)) {
            if self.sink.room_for(1, record_cost(&record)).await {
                self.sink.queue.push(Message::Analysed(record));
            } else {
                self.sink.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Analyses a record and hands it, and what it derives, to the pipeline: waits while the pipeline is full
    /// (`block`), or counts them as dropped (`drop`).
    pub async fn emit(&self, record: Record) {
        let (count, cost) = if self.is_sent(&record) { (1, record_cost(&record)) } else { (0, 0) };
        // Analysed only once there is room, so the analysis sees this connection's records in the order
        // the sinks do; analysed even when the record is then dropped, so the diagnosis stays right.
        let room = count == 0 || self.sink.room_for(count, cost).await;
        let analysed = self.analyse(std::iter::once(record));
        if room {
            self.push_reserved(analysed, count, cost);
        } else {
            self.sink.dropped.fetch_add(analysed.len() as u64, Ordering::Relaxed);
        }
    }

    /// Whether a record goes to the sink thread: everything but frames nobody reads.
    fn is_sent(&self, record: &Record) -> bool {
        self.sink.frames_wanted || !matches!(record, Record::Frame(_))
    }

    /// Runs the analysis over `records`; returns what goes to the sink thread: each sent record followed by
    /// the records it derived, placed by [`DerivedOrder`]. A bug in the analysis switches it off for this
    /// connection (reported once); every record is still sent.
    fn analyse(&self, records: impl Iterator<Item = Record>) -> Vec<Record> {
        let mut analysis = self.analysis.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = Vec::with_capacity(records.size_hint().0);
        let mut order = DerivedOrder::default();
        let mut unsent = 0;
        for record in records {
            let derived = super::observe_guarded(&mut analysis, &record, Some(self.conn));
            if self.is_sent(&record) {
                order.place(record, derived, &mut out);
            } else {
                unsent += 1;
                out.extend(derived);
            }
        }
        order.flush(&mut out);
        if unsent > 0 {
            self.sink.unsent.fetch_add(unsent, Ordering::Relaxed);
        }
        out
    }

    /// Pushes analysed records, of which `count` records of `cost` bytes have room reserved (the sent ones);
    /// the derived records they brought along, if any, are counted on top.
    fn push_reserved(&self, analysed: Vec<Record>, count: usize, cost: usize) {
        if analysed.is_empty() {
            return;
        }
        if analysed.len() > count {
            let derived_cost = analysed.iter().map(record_cost).sum::<usize>().saturating_sub(cost);
            self.sink.queue.add(analysed.len() - count, derived_cost);
        }
        self.sink.queue.push_all(analysed.into_iter().map(Message::Analysed));
    }
}
