//! A relayed connection's handle on the pipeline: its records are analysed where they are emitted (on the
//! relay's thread, while each frame is still in that core's cache), so the sink thread only writes them;
//! and when nothing reads frame records, only what the analysis derives is handed over.

use super::order::DerivedOrder;
use super::queue::{record_cost, EventSink, Message};
use super::{Analysis, LagPolicy};
use crate::event::{ConnId, Frame, Record};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

/// Emits the records of one connection, analysing them first. Made by [`EventSink::connection`]; every
/// record of the connection must go through it, in order (the analysis keeps the connection's history).
///
/// It numbers the connection's frames: each frame handed to it gets the next `seq`, under the same lock that hands
/// it on. Records reach the analysis and the sink thread in the order the calls to [`Self::emit_all`],
/// [`Self::emit`] and [`Self::emit_frame`] took that lock, also when a call waits for room: a later call queues its
/// records behind those still waiting. So a connection's frames are captured in `seq` order, also when several
/// tasks emit them (a replay's reader and player) or when one direction waits for room while the other goes on.
pub struct ConnSink {
    conn: ConnId,
    sink: EventSink,
    /// Locked only while records are numbered, analysed and queued, never across an await (both directions of a
    /// relayed connection run in one task; a replay's reader and player in two, so they rarely contend).
    state: Mutex<ConnState>,
}

struct ConnState {
    /// The `seq` of the connection's last frame so far (frames are numbered from 1).
    seq: u64,
    /// This connection's analysis: `None` when the session has none, or after it failed.
    analysis: Option<Box<dyn Analysis>>,
    /// Analysed records that found no room in the queue yet, oldest first: none goes to the queue before them.
    waiting: VecDeque<Record>,
}

impl ConnSink {
    pub(super) fn new(conn: ConnId, sink: EventSink, analysis: Option<Box<dyn Analysis>>) -> Self {
        ConnSink { conn, sink, state: Mutex::new(ConnState { seq: 0, analysis, waiting: VecDeque::new() }) }
    }

    /// The connection's id.
    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// Numbers the frames among `records` (each gets the connection's next `seq`; the one it had is ignored),
    /// analyses the records and hands them, each followed by what it derives, to the pipeline, with one lock when
    /// the queue has room; empties `records`. Waits while the pipeline is full (`block`), or counts what finds no
    /// room as dropped (`drop`); records are analysed even when they are then dropped, so the diagnosis stays right.
    /// An upgrade that failed is emitted as one batch, its `open` and the notes about its handshake, so its
    /// diagnosis follows them ([`DerivedOrder`]).
    pub async fn emit_all(&self, records: &mut Vec<Record>) {
        self.hand_over(records).await;
    }

    /// [`Self::emit_all`] for one record.
    pub async fn emit(&self, record: Record) {
        self.hand_over(&mut vec![record]).await;
    }

    /// [`Self::emit`] for a frame; returns the `seq` it was given.
    pub async fn emit_frame(&self, frame: Frame) -> u64 {
        self.hand_over(&mut vec![Record::Frame(frame)]).await
    }

    /// [`Self::emit_all`]; returns the `seq` of the last frame numbered (that of the frame before, when there is
    /// none among `records`).
    async fn hand_over(&self, records: &mut Vec<Record>) -> u64 {
        let (count, cost) = records
            .iter()
            .filter(|record| self.is_sent(record))
            .fold((0, 0), |(count, cost), record| (count + 1, cost + record_cost(record)));
        let seq = {
            let mut state = self.lock();
            for record in records.iter_mut() {
                if let Record::Frame(frame) = record {
                    state.seq += 1;
                    frame.seq = state.seq;
                }
            }
            let seq = state.seq;
            if state.waiting.is_empty() && self.sink.queue.reserve(count, cost) {
                self.analyse(&mut state.analysis, records);
                self.push_reserved(records, count, cost);
                return seq;
            }
            // No room for the batch at once, or records before it still wait: its records go behind them.
            self.analyse(&mut state.analysis, records);
            state.waiting.extend(records.drain(..));
            seq
        };
        // Returns once nothing waits; a call cancelled here leaves its records to the next one (or to `Drop`).
        self.sink.until_room(|| self.push_waiting()).await;
        seq
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues the waiting records, oldest first, while there is room for them; with `drop`, counts those there is
    /// no room for as dropped. Returns whether none waits any more.
    fn push_waiting(&self) -> bool {
        let mut state = self.lock();
        while let Some(record) = state.waiting.front() {
            if self.sink.queue.reserve(1, record_cost(record)) {
                let record = state.waiting.pop_front().expect("the front record");
                self.sink.queue.push(Message::Analysed(record));
            } else if self.sink.policy == LagPolicy::Drop {
                state.waiting.pop_front();
                self.sink.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                return false;
            }
        }
        true
    }

    /// Whether a record goes to the sink thread: everything but frames nobody reads.
    fn is_sent(&self, record: &Record) -> bool {
        self.sink.frames_wanted || !matches!(record, Record::Frame(_))
    }

    /// Runs the analysis over `records` and leaves in it what goes to the sink thread: each sent record followed
    /// by the records it derived, placed by [`DerivedOrder`]. A bug in the analysis switches it off for this
    /// connection (reported once); every record is still sent. When every record is sent (something reads frames),
    /// they are analysed where they lie and the batch is rebuilt only when something was derived: a frame is moved
    /// once fewer on its way to the queue.
    fn analyse(&self, analysis: &mut Option<Box<dyn Analysis>>, records: &mut Vec<Record>) {
        let mut derived_at: Vec<(usize, Vec<Record>)> = Vec::new();
        if self.sink.frames_wanted {
            for (index, record) in records.iter().enumerate() {
                let derived = super::observe_guarded(analysis, record, Some(self.conn));
                if !derived.is_empty() {
                    derived_at.push((index, derived));
                }
            }
            if derived_at.is_empty() {
                return;
            }
        }
        // Frames nobody reads are not sent: then only derived records (rare) go out, and no room is made for more.
        let mut out = Vec::with_capacity(if self.sink.frames_wanted { records.len() } else { 0 });
        let mut order = DerivedOrder::default();
        let mut unsent = 0;
        let mut derived_at = derived_at.into_iter().peekable();
        for (index, record) in records.drain(..).enumerate() {
            let derived = if self.sink.frames_wanted {
                derived_at.next_if(|(at, _)| *at == index).map(|(_, derived)| derived).unwrap_or_default()
            } else {
                super::observe_guarded(analysis, &record, Some(self.conn))
            };
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
        records.append(&mut out);
    }

    /// Pushes (and empties) analysed records, of which `count` records of `cost` bytes have room reserved (the sent
    /// ones); the derived records they brought along, if any, are counted on top.
    fn push_reserved(&self, analysed: &mut Vec<Record>, count: usize, cost: usize) {
        if analysed.is_empty() {
            return;
        }
        if analysed.len() > count {
            let derived_cost = analysed.iter().map(record_cost).sum::<usize>().saturating_sub(cost);
            self.sink.queue.add(analysed.len() - count, derived_cost);
        }
        self.sink.queue.push_all(analysed.drain(..).map(Message::Analysed));
    }
}

impl Drop for ConnSink {
    /// Records still waiting when the call that was handing them over was cancelled (the relay ended while the
    /// pipeline was full) and no later call came: handed over past the queue's limits rather than lost.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if state.waiting.is_empty() {
            return;
        }
        let cost = state.waiting.iter().map(record_cost).sum();
        self.sink.queue.add(state.waiting.len(), cost);
        self.sink.queue.push_all(state.waiting.drain(..).map(Message::Analysed));
    }
}
