//! The queue between sources and the sink thread: bounded in records and payload bytes, and cheap per
//! record — a push under an uncontended lock, no wake-up per record. The sink thread polls while records
//! flow and sleeps when idle; a source wakes it only when it has gone to sleep.

use super::LagPolicy;
use crate::event::{ConnId, Record};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::Duration;
use tokio::sync::Notify;

/// How often the sink thread looks for records while they flow: the live log's worst added delay.
pub const POLL_INTERVAL: Duration = Duration::from_millis(1);
/// Empty polls in a row after which the sink thread sleeps until a source wakes it.
pub const IDLE_POLLS_BEFORE_SLEEP: u32 = 50;
/// Payload bytes the queue may hold at once: bounds memory when frames are large.
pub const BYTE_BUDGET: usize = 32 * 1024 * 1024;
/// What a record costs beyond its payload (the record itself), so the record count is bounded too.
const RECORD_OVERHEAD: usize = 512;

// Records move through the queue once; boxing them would cost an allocation per frame.
#[allow(clippy::large_enum_variant)]
pub(super) enum Message {
    /// A record for the sink's analysis, then the sinks.
    Record(Record),
    /// A record already analysed at its source (a relayed connection), followed by what that derived.
    Analysed(Record),
    Finish,
}

fn cost(message: &Message) -> usize {
    match message {
        Message::Record(record) | Message::Analysed(record) => record_cost(record),
        Message::Finish => RECORD_OVERHEAD,
    }
}

pub(super) fn record_cost(record: &Record) -> usize {
    match record {
        Record::Frame(frame) => frame.payload.len() + RECORD_OVERHEAD,
        _ => RECORD_OVERHEAD,
    }
}

pub(super) struct Queue {
    items: Mutex<Vec<Message>>,
    records: AtomicUsize,
    bytes: AtomicUsize,
    max_records: usize,
    /// Signalled when the sink has made room.
    room: Notify,
    sleeping: AtomicBool,
    sink_thread: std::sync::OnceLock<Thread>,
}

impl Queue {
    pub(super) fn new(max_records: usize) -> Self {
        Queue {
            items: Mutex::new(Vec::with_capacity(1024)),
            records: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            max_records: max_records.max(1),
            room: Notify::new(),
            sleeping: AtomicBool::new(false),
            sink_thread: std::sync::OnceLock::new(),
        }
    }

    pub(super) fn set_sink_thread(&self, thread: Thread) {
        let _ = self.sink_thread.set(thread);
    }

    /// Reserves room for `count` records of `cost` bytes in all; false when full.
    /// A lone record larger than the budget still fits in an empty queue.
    pub(super) fn reserve(&self, count: usize, cost: usize) -> bool {
        if count == 0 && cost == 0 {
            // Nothing to hold (a batch of frames nobody reads): no need to touch the counters every source shares.
            return true;
        }
        let records = self.records.fetch_add(count, Ordering::AcqRel);
        let bytes = self.bytes.fetch_add(cost, Ordering::AcqRel);
        if records + count <= self.max_records && (bytes + cost <= BYTE_BUDGET || bytes == 0) {
            return true;
        }
        self.records.fetch_sub(count, Ordering::AcqRel);
        self.bytes.fetch_sub(cost, Ordering::AcqRel);
        false
    }

    /// Counts `count` records of `cost` bytes in all as held, whatever the limits (records derived from
    /// records that were let in: a few small ones).
    pub(super) fn add(&self, count: usize, cost: usize) {
        self.records.fetch_add(count, Ordering::AcqRel);
        self.bytes.fetch_add(cost, Ordering::AcqRel);
    }

    pub(super) fn push(&self, message: Message) {
        self.items.lock().unwrap().push(message);
        self.after_push();
    }

    pub(super) fn push_all(&self, messages: impl Iterator<Item = Message>) {
        self.items.lock().unwrap().extend(messages);
        self.after_push();
    }

    fn after_push(&self) {
        if self.sleeping.load(Ordering::Acquire) && self.sleeping.swap(false, Ordering::AcqRel) {
            self.wake_sink();
        }
    }

    pub(super) fn wake_sink(&self) {
        if let Some(thread) = self.sink_thread.get() {
            thread.unpark();
        }
    }

    /// Pushes a message whatever the limits (the finish marker).
    pub(super) fn push_unbounded(&self, message: Message) {
        self.items.lock().unwrap().push(message);
        self.sleeping.store(false, Ordering::Release);
        self.wake_sink();
    }

    /// Takes everything queued, swapping in `spare` (so vectors are reused, not reallocated).
    pub(super) fn take(&self, spare: &mut Vec<Message>) {
        std::mem::swap(&mut *self.items.lock().unwrap(), spare);
    }

    /// The room (records, bytes) some messages hold.
    pub(super) fn held(messages: &[Message]) -> (usize, usize) {
        messages.iter().filter(|m| !matches!(m, Message::Finish)).fold((0, 0), |(n, bytes), m| (n + 1, bytes + cost(m)))
    }

    /// Returns room once the sink has written what held it, and wakes sources waiting for it.
    pub(super) fn release(&self, (records, bytes): (usize, usize)) {
        self.records.fetch_sub(records, Ordering::AcqRel);
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.room.notify_waiters();
    }

    /// Announces the sink is about to sleep; returns false if records arrived meanwhile (then it must not).
    pub(super) fn prepare_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        if self.items.lock().unwrap().is_empty() {
            true
        } else {
            self.sleeping.store(false, Ordering::SeqCst);
            false
        }
    }
}

/// A cheap, cloneable handle through which sources emit records.
#[derive(Clone)]
pub struct EventSink {
    pub(super) queue: Arc<Queue>,
    pub(super) policy: LagPolicy,
    pub(super) dropped: Arc<AtomicU64>,
    pub(super) conn_ids: Arc<AtomicU64>,
    /// Makes the analysis of each connection that is analysed at its source ([`EventSink::connection`]).
    pub(super) analysis: Option<Arc<SourceAnalysis>>,
    /// False when no sink reads frame records (no capture, no UI, no terminal log): then connections analysed
    /// at their source hand the pipeline only what the analysis derives, and count their frames in `unsent`.
    pub(super) frames_wanted: bool,
    /// Frame records analysed at their source and not handed over because nothing reads them.
    pub(super) unsent: Arc<AtomicU64>,
}

/// What a connection analysed at its source needs: a fresh analysis, told about the session first.
pub(super) struct SourceAnalysis {
    pub(super) factory: super::AnalysisFactory,
    /// The session's `meta` record, which every new analysis observes first (it names the upstream).
    pub(super) meta: Record,
}

impl EventSink {
    /// Hands a record to the pipeline: waits while it is full (`block`), or counts a drop (`drop`).
    pub async fn emit(&self, record: Record) {
        let message = Message::Record(record);
        if self.room_for(1, cost(&message)).await {
            self.queue.push(message);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reserves room for `count` records of `cost` bytes: waits until there is some (`block`), or returns
    /// false at once when there is none (`drop`).
    pub(super) async fn room_for(&self, count: usize, cost: usize) -> bool {
        if self.policy == LagPolicy::Drop {
            return self.queue.reserve(count, cost);
        }
        self.until_room(|| self.queue.reserve(count, cost)).await;
        true
    }

    /// Waits until `attempt` (which reserves room, and returns whether it found enough) succeeds, trying it again
    /// each time the sink thread makes room.
    pub(super) async fn until_room(&self, mut attempt: impl FnMut() -> bool) {
        loop {
            if attempt() {
                return;
            }
            let room = self.queue.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if attempt() {
                return;
            }
            // The sink may be asleep with a full queue only if it is finishing; make sure it is awake.
            self.queue.wake_sink();
            room.await;
        }
    }

    /// Hands over several records at once (one lock instead of one per record), in order; empties `records`.
    pub async fn emit_all(&self, records: &mut Vec<Record>) {
        let cost: usize = records.iter().map(record_cost).sum();
        if self.queue.reserve(records.len(), cost) {
            self.queue.push_all(records.drain(..).map(Message::Record));
            return;
        }
        for record in records.drain(..) {
            self.emit(record).await;
        }
    }

    /// A new connection id, unique within this pipeline (1, 2, …).
    pub fn next_conn_id(&self) -> ConnId {
        self.conn_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A new connection whose records are analysed where they are emitted ([`super::ConnSink`]).
    pub fn connection(&self) -> super::ConnSink {
        let analysis = self.analysis.as_ref().map(|source| {
            let mut analysis = (source.factory)();
            // The meta record derives nothing; it tells the analysis the session's upstream.
            analysis.observe(&source.meta);
            analysis
        });
        super::ConnSink::new(self.next_conn_id(), self.clone(), analysis)
    }
}
