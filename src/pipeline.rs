//! The event pipeline: every source hands records to one sink thread that analyses, redacts, logs,
//! captures and publishes them, in order, without ever slowing the relay for long.
//!
//! Sources (relay, replay) call [`EventSink::emit`]; the bounded channel gives backpressure by default,
//! or counted drops with `--on-capture-lag drop`. The sink thread batches records, serialises each once
//! into a reused buffer, and flushes the capture and the terminal after each batch.

use crate::capture::CaptureWriter;
use crate::event::{ConnId, End, Meta, Record};
use crate::log::TerminalLog;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// Derives records from the stream (annotations, tokens, diagnoses): implemented by the analyzer.
pub trait Analysis: Send {
    /// Sees every record in order; returns records to emit right after it.
    fn observe(&mut self, record: &Record) -> Vec<Record>;
}

/// Rewrites records before any sink sees them: implemented by the redactor (`--redact`).
pub trait Redaction: Send {
    fn redact(&mut self, record: Record) -> Record;
}

/// Receives every record with its JSON serialisation: implemented by the web UI's hub. Must not block.
pub trait Publisher: Send + Sync {
    fn publish(&self, record: &Record, json: &str);
}

/// What a full pipeline does when its sink lags behind the sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LagPolicy {
    /// Slow the sources down (backpressure): nothing is ever lost.
    #[default]
    Block,
    /// Drop records rather than slow the relay; drops are counted and reported in the `end` record.
    Drop,
}

/// Everything the sink thread writes to.
pub struct PipelineOptions {
    pub meta: Meta,
    pub capture: Option<CaptureWriter>,
    pub log: Option<TerminalLog>,
    pub analysis: Option<Box<dyn Analysis>>,
    pub redaction: Option<Box<dyn Redaction>>,
    pub publishers: Vec<Arc<dyn Publisher>>,
    pub on_lag: LagPolicy,
    /// Records the channel holds before backpressure (or drops) start.
    pub buffer: usize,
}

/// The default channel size in records: enough for bursts.
pub const DEFAULT_BUFFER: usize = 16 * 1024;
/// Payload bytes the channel may hold at once: bounds memory when frames are large.
pub const BYTE_BUDGET: usize = 32 * 1024 * 1024;

// Records are moved through the channel once; boxing them would cost an allocation per frame.
#[allow(clippy::large_enum_variant)]
enum Message {
    /// A record, and the share of the byte budget it holds until the sink has written it.
    Record(Record, Option<OwnedSemaphorePermit>),
    Finish,
}

/// What a record costs against the byte budget: its payload, at least a little, at most the whole budget.
fn budget_cost(record: &Record) -> u32 {
    let bytes = match record {
        Record::Frame(frame) => frame.payload.len(),
        _ => 512,
    };
    bytes.clamp(64, BYTE_BUDGET) as u32
}

/// A cheap, cloneable handle through which sources emit records.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Message>,
    budget: Arc<Semaphore>,
    policy: LagPolicy,
    dropped: Arc<AtomicU64>,
    conn_ids: Arc<AtomicU64>,
}

impl EventSink {
    /// Hands a record to the pipeline: waits while it is full (`block`), or counts a drop (`drop`).
    pub async fn emit(&self, record: Record) {
        let cost = budget_cost(&record);
        let sent = match self.policy {
            LagPolicy::Block => match self.budget.clone().acquire_many_owned(cost).await {
                Ok(permit) => self.tx.send(Message::Record(record, Some(permit))).await.is_ok(),
                Err(_) => false,
            },
            LagPolicy::Drop => match self.budget.clone().try_acquire_many_owned(cost) {
                Ok(permit) => self.tx.try_send(Message::Record(record, Some(permit))).is_ok(),
                Err(_) => false,
            },
        };
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A new connection id, unique within this pipeline (1, 2, …).
    pub fn next_conn_id(&self) -> ConnId {
        self.conn_ids.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The running sink thread.
pub struct Pipeline {
    tx: mpsc::Sender<Message>,
    thread: std::thread::JoinHandle<Summary>,
}

/// What the pipeline did, once finished.
#[derive(Debug)]
pub struct Summary {
    /// The `end` record written to the capture (or that would have been, without one).
    pub end: End,
    pub capture_path: Option<std::path::PathBuf>,
}

/// Starts the sink thread; the `meta` record is the first one it writes.
pub fn start(options: PipelineOptions) -> (EventSink, Pipeline) {
    let (tx, rx) = mpsc::channel(options.buffer.max(1));
    let dropped = Arc::new(AtomicU64::new(0));
    let sink = EventSink {
        tx: tx.clone(),
        budget: Arc::new(Semaphore::new(BYTE_BUDGET)),
        policy: options.on_lag,
        dropped: dropped.clone(),
        conn_ids: Arc::new(AtomicU64::new(0)),
    };
    let thread = std::thread::Builder::new()
        .name("frametap-sink".into())
        .spawn(move || SinkThread::new(options, dropped).run(rx))
        .expect("spawning the sink thread");
    (sink, Pipeline { tx, thread })
}

impl Pipeline {
    /// Writes what is queued, then the `end` record, and returns the summary.
    /// Records emitted after this are counted as dropped.
    pub async fn finish(self) -> Summary {
        let _ = self.tx.send(Message::Finish).await;
        drop(self.tx);
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .expect("joining the sink thread")
            .unwrap_or_else(|_| panic!("the sink thread panicked"))
    }
}

struct SinkThread {
    options: PipelineOptions,
    dropped: Arc<AtomicU64>,
    json: Vec<u8>,
    records: u64,
    connections: u64,
    frames: u64,
}

impl SinkThread {
    fn new(options: PipelineOptions, dropped: Arc<AtomicU64>) -> Self {
        SinkThread { options, dropped, json: Vec::with_capacity(4096), records: 0, connections: 0, frames: 0 }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Message>) -> Summary {
        let meta = Record::Meta(self.options.meta.clone());
        self.process(meta);
        let mut batch = Vec::with_capacity(256);
        let mut finishing = false;
        while !finishing && rx.blocking_recv_many(&mut batch, 256) > 0 {
            for message in batch.drain(..) {
                match message {
                    Message::Record(record, _permit) => self.process(record),
                    Message::Finish => finishing = true,
                }
            }
            self.flush();
        }
        rx.close();
        while let Ok(message) = rx.try_recv() {
            if let Message::Record(record, _permit) = message {
                self.process(record);
            }
        }
        self.finish()
    }

    fn process(&mut self, record: Record) {
        let derived = match self.options.analysis.as_mut() {
            Some(analysis) => analysis.observe(&record),
            None => Vec::new(),
        };
        self.write(record);
        for record in derived {
            self.write(record);
        }
    }

    fn write(&mut self, record: Record) {
        let record = match self.options.redaction.as_mut() {
            Some(redaction) => redaction.redact(record),
            None => record,
        };
        match &record {
            Record::Open(_) => self.connections += 1,
            Record::Frame(_) => self.frames += 1,
            _ => {}
        }
        self.records += 1;
        self.json.clear();
        serde_json::to_writer(&mut self.json, &record).expect("records always serialise");
        let json = std::str::from_utf8(&self.json).expect("serde_json writes UTF-8");
        if let Some(capture) = self.options.capture.as_mut() {
            capture.write_json_line(&record, json);
        }
        if let Some(log) = self.options.log.as_mut() {
            log.record(&record, json);
        }
        for publisher in &self.options.publishers {
            publisher.publish(&record, json);
        }
    }

    fn flush(&mut self) {
        if let Some(capture) = self.options.capture.as_mut() {
            capture.flush();
        }
        if let Some(log) = self.options.log.as_mut() {
            log.flush();
        }
    }

    fn finish(mut self) -> Summary {
        let dropped = self.dropped.load(Ordering::Relaxed);
        let mut errors = Vec::new();
        if dropped > 0 {
            errors.push(format!(
                "{dropped} records were dropped because the capture lagged behind (--on-capture-lag drop)"
            ));
        }
        let capture = self.options.capture.take();
        let capture_path = capture.as_ref().map(|c| c.path().to_owned());
        let end = match capture {
            Some(capture) => capture.finish(dropped, errors),
            None => End {
                ts: crate::event::Ts::now(),
                connections: self.connections,
                frames: self.frames,
                records: self.records,
                complete: dropped == 0,
                dropped,
                errors,
            },
        };
        let record = Record::End(end.clone());
        self.json.clear();
        serde_json::to_writer(&mut self.json, &record).expect("records always serialise");
        let json = std::str::from_utf8(&self.json).expect("serde_json writes UTF-8");
        if let Some(log) = self.options.log.as_mut() {
            log.record(&record, json);
            log.flush();
        }
        for publisher in &self.options.publishers {
            publisher.publish(&record, json);
        }
        Summary { end, capture_path }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Note, Ts};
    use std::sync::{Condvar, Mutex};

    fn meta() -> Meta {
        Meta {
            ts: Ts::now(),
            format: crate::event::FORMAT_NAME.into(),
            version: crate::event::FORMAT_VERSION,
            frametap: "test".into(),
            command: vec![],
            mode: "test".into(),
            upstream: None,
            redacted: false,
            insecure_upstream: false,
        }
    }

    fn note(n: u64) -> Record {
        Record::Note(Note {
            conn: Some(n),
            ts: Ts::now(),
            level: "info".into(),
            code: "n".into(),
            message: n.to_string(),
        })
    }

    /// A publisher that holds the sink thread until released, so the channel fills up.
    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        cv: Condvar,
        seen: Mutex<Vec<String>>,
    }

    impl Publisher for Gate {
        fn publish(&self, record: &Record, _json: &str) {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.cv.wait(open).unwrap();
            }
            self.seen.lock().unwrap().push(record.kind().to_owned());
        }
    }

    fn options(policy: LagPolicy, capture: Option<CaptureWriter>, gate: Arc<Gate>) -> PipelineOptions {
        PipelineOptions {
            meta: meta(),
            capture,
            log: None,
            analysis: None,
            redaction: None,
            publishers: vec![gate],
            on_lag: policy,
            buffer: 4,
        }
    }

    #[tokio::test]
    async fn drop_policy_counts_drops_and_marks_the_capture_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        let gate = Arc::new(Gate::default());
        let (sink, pipeline) =
            start(options(LagPolicy::Drop, Some(CaptureWriter::create(&path).unwrap()), gate.clone()));
        for n in 0..100 {
            sink.emit(note(n)).await;
        }
        *gate.open.lock().unwrap() = true;
        gate.cv.notify_all();
        let summary = pipeline.finish().await;
        assert!(summary.end.dropped > 0, "{:?}", summary.end);
        assert!(!summary.end.complete);
        assert!(summary.end.errors[0].contains("--on-capture-lag drop"));
        let capture = crate::capture::read_capture(&path).unwrap();
        let notes = capture.records.iter().filter(|r| r.kind() == "note").count() as u64;
        assert_eq!(notes + summary.end.dropped, 100, "every record is either written or counted as dropped");
    }

    #[tokio::test]
    async fn block_policy_loses_nothing() {
        let gate = Arc::new(Gate::default());
        let (sink, pipeline) = start(options(LagPolicy::Block, None, gate.clone()));
        let producer = tokio::spawn(async move {
            for n in 0..100 {
                sink.emit(note(n)).await;
            }
        });
        *gate.open.lock().unwrap() = true;
        gate.cv.notify_all();
        producer.await.unwrap();
        let summary = pipeline.finish().await;
        assert_eq!(summary.end.dropped, 0);
        assert_eq!(gate.seen.lock().unwrap().iter().filter(|k| *k == "note").count(), 100);
    }

    #[tokio::test]
    async fn a_failing_capture_file_is_reported_and_the_sink_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        // /dev/full accepts the open and fails every write with "No space left on device".
        let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else { return };
        let writer = CaptureWriter::from_file(&path, full);
        let gate = Arc::new(Gate { open: Mutex::new(true), ..Gate::default() });
        let (sink, pipeline) = start(options(LagPolicy::Block, Some(writer), gate.clone()));
        for n in 0..10 {
            sink.emit(note(n)).await;
        }
        let summary = pipeline.finish().await;
        assert!(!summary.end.complete);
        assert!(summary.end.errors.iter().any(|e| e.contains("No space left")), "{:?}", summary.end.errors);
        assert_eq!(
            gate.seen.lock().unwrap().iter().filter(|k| *k == "note").count(),
            10,
            "other sinks still got every record"
        );
    }
}
