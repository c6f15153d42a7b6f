//! The UI's live state: a bounded history of serialised records plus a broadcast of new ones.
//!
//! The pipeline calls [`Hub::publish`] for every record; it never blocks. Browsers subscribe with
//! [`Hub::subscribe`], which hands back the history and a receiver in one step, so nothing is missed
//! or seen twice. A subscriber that falls more than the live buffer behind gets `Lagged` from its
//! receiver and is caught up from history, after the last record it was sent (see `stream.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tokio::sync::broadcast;

use crate::event::{ConnId, Record};

/// How many records a subscriber may fall behind before it is caught up from history instead.
pub const DEFAULT_LIVE_BUFFER: usize = 4096;
/// A sensible history size for a live proxy: frames beyond this are forgotten oldest first.
pub const DEFAULT_HISTORY_LIMIT: usize = 20_000;
/// How many connections' newest trimmed frame the hub remembers (the oldest half is forgotten past it).
const TRIMMED_CONNS_KEPT: usize = 4096;

/// How a [`Hub`] behaves.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// How many frame-like records (frames, annotations) the history keeps; connection-level
    /// records (open, close, diagnosis, token, notes) are kept up to the same number separately.
    pub history_limit: usize,
    /// True when the records were redacted before they reached the hub (shown in the UI).
    pub redacted: bool,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions { history_limit: DEFAULT_HISTORY_LIMIT, redacted: false }
    }
}

/// One published record, as the UI needs it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Position in the hub's publication order, from 1.
    pub index: u64,
    pub kind: Arc<str>,
    pub conn: Option<ConnId>,
    /// A frame's sequence number (None for other records).
    pub seq: Option<u64>,
    /// The record's JSON serialisation, one line.
    pub json: Arc<str>,
}

/// A connection's newest frame trimmed from history: a page caught up from after an earlier index is told the
/// connection lost frames, even when none of its frames is left to show where the gap ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrimmedFrame {
    pub conn: ConnId,
    /// Its publication index.
    pub index: u64,
    pub seq: u64,
}

/// Entries as capture JSON Lines: each record's JSON on a line of its own.
pub fn jsonl(entries: &[Entry]) -> String {
    let mut body = String::with_capacity(entries.iter().map(|e| e.json.len() + 1).sum());
    for entry in entries {
        body.push_str(&entry.json);
        body.push('\n');
    }
    body
}

#[derive(Default)]
struct History {
    published: u64,
    /// Frames and annotations: many per connection, trimmed first.
    frames: VecDeque<Entry>,
    /// Everything else: meta, open, close, diagnosis, token, note, end.
    structure: VecDeque<Entry>,
    /// Entries trimmed from history since the hub started.
    forgotten: u64,
    /// The publication index of the newest entry trimmed so far (0: none).
    last_forgotten: u64,
    /// Each connection's newest frame trimmed, for the last [`TRIMMED_CONNS_KEPT`] or so connections that lost one.
    trimmed_frames: HashMap<ConnId, TrimmedFrame>,
}

impl History {
    /// Trims `queue` (frames, or the rest) down to `limit` entries, oldest first, keeping count.
    fn trim(&mut self, frames: bool, limit: usize) {
        let History { frames: frame_queue, structure, forgotten, last_forgotten, trimmed_frames, .. } = self;
        let queue = if frames { frame_queue } else { structure };
        while queue.len() > limit {
            let Some(entry) = queue.pop_front() else { break };
            *forgotten += 1;
            *last_forgotten = (*last_forgotten).max(entry.index);
            if let (Some(conn), Some(seq)) = (entry.conn, entry.seq) {
                trimmed_frames.insert(conn, TrimmedFrame { conn, index: entry.index, seq });
            }
        }
        if trimmed_frames.len() > TRIMMED_CONNS_KEPT {
            // Forget the older half: a page that far behind is told the count lost, without naming those.
            let mut indices: Vec<u64> = trimmed_frames.values().map(|t| t.index).collect();
            let middle = indices.len() / 2;
            let (_, &mut oldest_kept, _) = indices.select_nth_unstable(middle);
            trimmed_frames.retain(|_, t| t.index >= oldest_kept);
        }
    }
}

/// Live state shared by the pipeline and the UI server: bounded history + broadcast of serialised records.
pub struct Hub {
    options: HubOptions,
    /// A random id of this hub's run: publication indices mean something only within it.
    run: String,
    history: Mutex<History>,
    live: broadcast::Sender<Entry>,
}

/// What a new subscriber starts from.
pub struct Subscription {
    /// The history in publication order.
    pub history: Vec<Entry>,
    /// Records trimmed from history before this snapshot.
    pub forgotten: u64,
    /// The publication index of the newest record in the snapshot (0: none yet): every record up to it was either
    /// trimmed or is in `history`.
    pub published: u64,
    /// Every record published after the snapshot.
    pub live: broadcast::Receiver<Entry>,
    /// Connections' newest frames trimmed before the snapshot (as far as the hub remembers), by connection.
    pub trimmed_frames: Vec<TrimmedFrame>,
}

impl Hub {
    pub fn new(options: HubOptions) -> Arc<Hub> {
        Hub::with_live_buffer(options, DEFAULT_LIVE_BUFFER)
    }

    /// Like [`Hub::new`] with a chosen live buffer (records a subscriber may fall behind).
    pub fn with_live_buffer(options: HubOptions, live_buffer: usize) -> Arc<Hub> {
        let (live, _) = broadcast::channel(live_buffer.max(1));
        let run = uuid::Uuid::new_v4().simple().to_string();
        Arc::new(Hub { options, run, history: Mutex::new(History::default()), live })
    }

    pub fn options(&self) -> &HubOptions {
        &self.options
    }

    /// This hub's run id: a page that reconnects names it to resume after the last record it has (`stream.rs`).
    pub fn run(&self) -> &str {
        &self.run
    }

    /// Called by the pipeline for every record, in order, with its JSON serialisation (one line, no
    /// newline). Never blocks on subscribers: a lagging one is caught up from history.
    pub fn publish(&self, record: &Record, json: &str) {
        let seq = match record {
            Record::Frame(frame) => Some(frame.seq),
            _ => None,
        };
        self.publish_entry(record.kind(), record.conn(), seq, json);
    }

    /// Publishes a record given only its kind, connection and JSON, without a parsed [`Record`]
    /// (records of a newer capture version, tests). Downloads count a line that does not read back.
    pub fn publish_raw(&self, kind: &str, conn: Option<ConnId>, json: &str) {
        self.publish_entry(kind, conn, None, json);
    }

    fn publish_entry(&self, kind: &str, conn: Option<ConnId>, seq: Option<u64>, json: &str) {
        let mut history = self.lock();
        history.published += 1;
        let entry = Entry { index: history.published, kind: shared_kind(kind), conn, seq, json: json.into() };
        let frame_like = is_frame_like(kind);
        let queue = if frame_like { &mut history.frames } else { &mut history.structure };
        queue.push_back(entry.clone());
        history.trim(frame_like, self.options.history_limit.max(1));
        // Sending under the lock keeps the broadcast in publication order with the snapshots.
        // An error only means nobody is subscribed.
        let _ = self.live.send(entry);
        tracing::trace!(kind, ?conn, "ui hub: published");
    }

    /// The history and a receiver for everything after it, taken atomically.
    pub fn subscribe(&self) -> Subscription {
        let history = self.lock();
        let live = self.live.subscribe();
        let mut trimmed_frames: Vec<TrimmedFrame> = history.trimmed_frames.values().copied().collect();
        trimmed_frames.sort_unstable_by_key(|t| t.conn);
        Subscription {
            history: merged(&history),
            forgotten: history.forgotten,
            published: history.published,
            live,
            trimmed_frames,
        }
    }

    /// Gives back what the history reserved beyond what it holds (a queue grows by doubling): for a hub that is
    /// done growing, as `ui FILE`'s once the file is read.
    pub fn shrink_to_fit(&self) {
        let mut history = self.lock();
        history.frames.shrink_to_fit();
        history.structure.shrink_to_fit();
    }

    /// The history in publication order.
    pub fn history(&self) -> Vec<Entry> {
        merged(&self.lock())
    }

    /// One connection's records in publication order, preceded by the capture's `meta` record(s).
    pub fn connection(&self, conn: ConnId) -> Vec<Entry> {
        self.history().into_iter().filter(|e| e.conn == Some(conn) || &*e.kind == "meta").collect()
    }

    /// True when a record published at `index` or later has been trimmed from history (history forgets oldest
    /// first, so a connection whose first record is at `index` may then have lost some of its own).
    pub fn forgot_since(&self, index: u64) -> bool {
        self.lock().last_forgotten >= index
    }

    /// Records trimmed from history so far.
    pub fn forgotten(&self) -> u64 {
        self.lock().forgotten
    }

    fn lock(&self) -> MutexGuard<'_, History> {
        // A panic while holding the lock cannot leave History inconsistent in a way that matters here.
        self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The pipeline hands every record to its publishers; the hub is one.
impl crate::pipeline::Publisher for Hub {
    fn publish(&self, record: &Record, json: &str) {
        Hub::publish(self, record, json);
    }
}

/// A record kind as an entry holds it: the known kinds are allocated once and shared by every entry (a file of a
/// million frames would otherwise hold a million copies of "frame"); a kind frametap does not know is copied.
fn shared_kind(kind: &str) -> Arc<str> {
    static KNOWN: OnceLock<Vec<Arc<str>>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| Record::KINDS.iter().map(|&k| Arc::from(k)).collect());
    known.iter().find(|k| &***k == kind).cloned().unwrap_or_else(|| kind.into())
}

fn is_frame_like(kind: &str) -> bool {
    kind == "frame" || kind == "annotation"
}

fn merged(history: &History) -> Vec<Entry> {
    let mut out = Vec::with_capacity(history.frames.len() + history.structure.len());
    let (mut a, mut b) = (history.frames.iter().peekable(), history.structure.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.index < y.index => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        out.extend(next.cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(limit: usize) -> Arc<Hub> {
        Hub::new(HubOptions { history_limit: limit, redacted: false })
    }

    #[test]
    fn history_keeps_order_and_trims_frames_first() {
        let hub = hub(2);
        hub.publish_raw("open", Some(1), r#"{"kind":"open"}"#);
        for n in 0..5 {
            hub.publish_raw("frame", Some(1), &format!(r#"{{"kind":"frame","seq":{n}}}"#));
        }
        hub.publish_raw("close", Some(1), r#"{"kind":"close"}"#);
        let kinds: Vec<_> = hub.history().iter().map(|e| (e.kind.to_string(), e.index)).collect();
        assert_eq!(kinds, vec![("open".into(), 1), ("frame".into(), 5), ("frame".into(), 6), ("close".into(), 7)]);
        assert_eq!(hub.forgotten(), 3);
    }

    #[test]
    fn entries_share_one_copy_of_each_known_kind_and_keep_an_unknown_one_as_given() {
        let hub = hub(10);
        hub.publish_raw("frame", Some(1), "a");
        hub.publish_raw("frame", Some(1), "b");
        hub.publish_raw("from-a-newer-version", None, "c");
        let history = hub.history();
        assert!(Arc::ptr_eq(&history[0].kind, &history[1].kind), "two frames hold one shared kind");
        assert_eq!(&*history[2].kind, "from-a-newer-version");
        hub.shrink_to_fit();
        assert_eq!(hub.history().len(), 3, "shrinking keeps every entry");
    }

    #[test]
    fn each_connections_newest_trimmed_frame_is_remembered_for_the_last_connections() {
        let hub = hub(2);
        hub.publish_raw("frame", Some(7), "x");
        hub.publish_entry("frame", Some(1), Some(1), "f");
        hub.publish_entry("frame", Some(1), Some(2), "f");
        hub.publish_entry("frame", Some(2), Some(1), "f");
        // Connection 7's frame left with no seq (publish_raw): not remembered. Connection 1's #1 left.
        assert_eq!(hub.subscribe().trimmed_frames, vec![TrimmedFrame { conn: 1, index: 2, seq: 1 }]);
        // Past TRIMMED_CONNS_KEPT connections, the older half is forgotten.
        let last = 100 + 2 * TRIMMED_CONNS_KEPT as u64;
        for conn in 100..=last {
            hub.publish_entry("frame", Some(conn), Some(1), "f");
        }
        let trimmed = hub.subscribe().trimmed_frames;
        assert!(trimmed.len() <= TRIMMED_CONNS_KEPT, "{}", trimmed.len());
        assert!(!trimmed.iter().any(|t| t.conn == 1), "the oldest are forgotten");
        assert_eq!(trimmed.last().map(|t| t.conn), Some(last - 2), "the newest are kept");
    }

    #[test]
    fn subscribers_get_history_then_live_without_gaps() {
        let hub = hub(100);
        hub.publish_raw("frame", Some(1), "a");
        let mut sub = hub.subscribe();
        hub.publish_raw("frame", Some(2), "b");
        assert_eq!(sub.history.len(), 1);
        assert_eq!(&*sub.live.try_recv().unwrap().json, "b");
        assert_eq!(hub.connection(2).len(), 1);
    }

    #[test]
    fn a_lagging_subscriber_is_told() {
        let hub = Hub::with_live_buffer(HubOptions::default(), 2);
        let mut sub = hub.subscribe();
        for _ in 0..5 {
            hub.publish_raw("frame", Some(1), "x");
        }
        assert!(matches!(sub.live.try_recv(), Err(broadcast::error::TryRecvError::Lagged(3))));
    }
}
