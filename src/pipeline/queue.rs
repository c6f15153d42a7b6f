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
    Record(Record),
    Finish,
}

fn cost(message: &Message) -> usize {
    match message {
        Message::Record(record) => record_cost(record),
        Message::Finish => RECORD_OVERHEAD,
    }
}

fn record_cost(record: &Record) -> usize {
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
    fn reserve(&self, count: usize, cost: usize) -> bool {
        let records = self.records.fetch_add(count, Ordering::AcqRel);
        let bytes = self.bytes.fetch_add(cost, Ordering::AcqRel);
        if records + count <= self.max_records && (bytes + cost <= BYTE_BUDGET || bytes == 0) {
            return true;
        }
        self.records.fetch_sub(count, Ordering::AcqRel);
        self.bytes.fetch_sub(cost, Ordering::AcqRel);
        false
    }

    fn push(&self, message: Message) {
        self.items.lock().unwrap().push(message);
        self.after_push();
    }

    fn push_all(&self, messages: impl Iterator<Item = Message>) {
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
        messages
            .iter()
            .filter(|m| matches!(m, Message::Record(_)))
            .fold((0, 0), |(n, bytes), m| (n + 1, bytes + cost(m)))
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
}

impl EventSink {
    /// Hands a record to the pipeline: waits while it is full (`block`), or counts a drop (`drop`).
    pub async fn emit(&self, record: Record) {
        let message = Message::Record(record);
        let cost = cost(&message);
        loop {
            if self.queue.reserve(1, cost) {
                self.queue.push(message);
                return;
            }
            if self.policy == LagPolicy::Drop {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let room = self.queue.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.queue.reserve(1, cost) {
                self.queue.push(message);
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
}
