//! The event pipeline: every source hands records to one sink thread that analyses, redacts, logs,
//! captures and publishes them, in order, without ever slowing the relay for long.
//!
//! Sources call [`EventSink::emit`]; a relayed or replayed connection emits through a [`ConnSink`], which numbers
//! its frames and runs the analysis of its records where they are emitted (src/pipeline/conn.rs). The bounded
//! queue (src/pipeline/queue.rs) gives backpressure by default, or counted drops with
//! `--on-capture-lag drop`. The sink thread takes records in batches, serialises each once into a reused
//! buffer, and flushes the capture and the terminal after each batch.

mod conn;
mod order;
mod queue;
mod sink;

use crate::capture::CaptureWriter;
use crate::event::{ConnId, End, Meta, Record};
use crate::log::TerminalLog;
pub use conn::ConnSink;
pub use order::DerivedOrder;
pub use queue::{EventSink, BYTE_BUDGET};
use queue::{Message, Queue, SourceAnalysis};
use sink::SinkThread;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Derives records from the stream (annotations, tokens, diagnoses): implemented by the analyzer.
pub trait Analysis: Send {
    /// Sees every record in order; returns records to emit right after it.
    fn observe(&mut self, record: &Record) -> Vec<Record>;
}

/// Runs `analysis` (if still on) over `record` and returns what it derives. A bug in the analysis must not stop
/// the capture (and, through backpressure, the relay): a panic is reported once and the analysis is switched
/// off, for connection `conn` or (`None`) for the session; the caller still writes every record.
fn observe_guarded(analysis: &mut Option<Box<dyn Analysis>>, record: &Record, conn: Option<ConnId>) -> Vec<Record> {
    let Some(active) = analysis.as_mut() else { return Vec::new() };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| active.observe(record))) {
        Ok(derived) => derived,
        Err(_) => {
            *analysis = None;
            let scope = conn.map_or("for the rest of the session".to_owned(), |conn| format!("for connection {conn}"));
            tracing::error!(
                "the analysis failed on a {} record (a frametap bug: please report it with the capture); \
                 relaying and capturing go on without analysis {scope}",
                record.kind()
            );
            Vec::new()
        }
    }
}

/// Makes a fresh analysis: one for the sink thread, one for each connection analysed at its source.
pub type AnalysisFactory = Arc<dyn Fn() -> Box<dyn Analysis> + Send + Sync>;

/// Rewrites records before any sink sees them: implemented by the redactor (`--redact`).
pub trait Redaction: Send {
    /// One record, redacted on its own.
    fn redact(&mut self, record: Record) -> Record;
    /// One record of the stream: returns the records ready to be written, in order (a redaction that reads
    /// a fragmented message whole holds records back until it ends).
    fn feed(&mut self, record: Record) -> Vec<Record> {
        vec![self.redact(record)]
    }
    /// The records still held when the stream ends.
    fn finish(&mut self) -> Vec<Record> {
        Vec::new()
    }
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
    pub analysis: Option<AnalysisFactory>,
    pub redaction: Option<Box<dyn Redaction>>,
    pub publishers: Vec<Arc<dyn Publisher>>,
    pub on_lag: LagPolicy,
    /// Records the channel holds before backpressure (or drops) start.
    pub buffer: usize,
}

/// The default queue size in records: enough for bursts.
pub const DEFAULT_BUFFER: usize = 16 * 1024;

/// The running sink thread.
pub struct Pipeline {
    queue: Arc<Queue>,
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
    let queue = Arc::new(Queue::new(options.buffer));
    let dropped = Arc::new(AtomicU64::new(0));
    let unsent = Arc::new(AtomicU64::new(0));
    let sink = EventSink {
        queue: queue.clone(),
        policy: options.on_lag,
        dropped: dropped.clone(),
        conn_ids: Arc::new(AtomicU64::new(0)),
        analysis: options.analysis.as_ref().map(|factory| {
            Arc::new(SourceAnalysis { factory: factory.clone(), meta: Record::from(options.meta.clone()) })
        }),
        frames_wanted: options.capture.is_some()
            || options.log.as_ref().is_some_and(TerminalLog::wants_frames)
            || !options.publishers.is_empty(),
        unsent: unsent.clone(),
    };
    let sink_queue = queue.clone();
    let thread = std::thread::Builder::new()
        .name("frametap-sink".into())
        .spawn(move || SinkThread::new(options, dropped, unsent).run(&sink_queue))
        .expect("spawning the sink thread");
    queue.set_sink_thread(thread.thread().clone());
    (sink, Pipeline { queue, thread })
}

impl Pipeline {
    /// Writes what is queued, then the `end` record, and returns the summary.
    /// Records emitted after this are counted as dropped.
    pub async fn finish(self) -> Summary {
        self.queue.push_unbounded(Message::Finish);
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .expect("joining the sink thread")
            .unwrap_or_else(|_| panic!("the sink thread panicked"))
    }
}

#[cfg(test)]
mod tests;
