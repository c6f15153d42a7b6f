//! The pipeline's tests: records through the queue, the sink thread and its writers, analysis at the source,
//! order, backpressure and dropping.

use super::*;
use crate::event::{Note, Ts};
use std::sync::atomic::Ordering;
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
    Record::Note(Note::info("n", Some(n), Ts::now(), n.to_string()))
}

/// A publisher that holds the sink thread until released, so the channel fills up.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
    seen: Mutex<Vec<String>>,
    /// The `seq` of each frame, in the order published.
    seqs: Mutex<Vec<u64>>,
}

impl Gate {
    fn let_through(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl Publisher for Gate {
    fn publish(&self, record: &Record, _json: &str) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
        self.seen.lock().unwrap().push(record.kind().to_owned());
        if let Record::Frame(frame) = record {
            self.seqs.lock().unwrap().push(frame.seq);
        }
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
    let (sink, pipeline) = start(options(LagPolicy::Drop, Some(CaptureWriter::create(&path).unwrap()), gate.clone()));
    for n in 0..100 {
        sink.emit(note(n)).await;
    }
    gate.let_through();
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
    gate.let_through();
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
    // The system's words for ENOSPC (Windows' ERROR_DISK_FULL, where Wine maps /dev/full).
    let disk_full = if cfg!(windows) { "Disk full" } else { "No space left" };
    assert!(summary.end.errors.iter().any(|e| e.contains(disk_full)), "{:?}", summary.end.errors);
    assert_eq!(
        gate.seen.lock().unwrap().iter().filter(|k| *k == "note").count(),
        10,
        "other sinks still got every record"
    );
}

struct Exploding;

impl Analysis for Exploding {
    fn observe(&mut self, record: &Record) -> Vec<Record> {
        if record.kind() == "note" {
            panic!("a bug in the analysis");
        }
        Vec::new()
    }
}

#[tokio::test]
async fn a_panicking_analysis_is_switched_off_and_nothing_is_lost() {
    let gate = Arc::new(Gate { open: Mutex::new(true), ..Gate::default() });
    let mut options = options(LagPolicy::Block, None, gate.clone());
    options.analysis = Some(Arc::new(|| Box::new(Exploding) as Box<dyn Analysis>));
    let (sink, pipeline) = start(options);
    for n in 0..10 {
        sink.emit(note(n)).await;
    }
    let summary = pipeline.finish().await;
    assert_eq!(summary.end.dropped, 0);
    assert_eq!(gate.seen.lock().unwrap().iter().filter(|k| *k == "note").count(), 10);
}

/// Derives a note from every frame and counts, across all its instances, the frames it analysed.
struct NotePerFrame(Arc<AtomicU64>);

impl Analysis for NotePerFrame {
    fn observe(&mut self, record: &Record) -> Vec<Record> {
        let Record::Frame(frame) = record else { return Vec::new() };
        self.0.fetch_add(1, Ordering::Relaxed);
        vec![note(frame.seq)]
    }
}

fn frames(conn: ConnId, count: u64) -> Vec<Record> {
    use crate::event::{Frame, Opcode, Peer};
    (1..=count)
        .map(|seq| {
            let payload = bytes::Bytes::from(format!("frame {seq}"));
            Record::Frame(Frame::whole(conn, Ts::now(), seq, Peer::Client, Opcode::Text, payload))
        })
        .collect()
}

fn counting(options: &mut PipelineOptions) -> Arc<AtomicU64> {
    let analysed = Arc::new(AtomicU64::new(0));
    let counter = analysed.clone();
    options.analysis = Some(Arc::new(move || Box::new(NotePerFrame(counter.clone())) as Box<dyn Analysis>));
    analysed
}

#[tokio::test]
async fn a_connection_is_analysed_once_where_it_is_emitted_and_its_records_stay_in_order() {
    let gate = Arc::new(Gate { open: Mutex::new(true), ..Gate::default() });
    let mut options = options(LagPolicy::Block, None, gate.clone());
    let analysed = counting(&mut options);
    let (sink, pipeline) = start(options);
    let conn = sink.connection();
    conn.emit_all(&mut frames(conn.conn(), 3)).await;
    conn.emit(frames(conn.conn(), 1).remove(0)).await;
    let summary = pipeline.finish().await;
    assert_eq!(analysed.load(Ordering::Relaxed), 4, "analysed at the source, not again on the sink thread");
    let kinds = gate.seen.lock().unwrap().clone();
    let between_meta_and_end = &kinds[1..kinds.len() - 1];
    assert_eq!(between_meta_and_end, ["frame", "note", "frame", "note", "frame", "note", "frame", "note"]);
    assert_eq!((summary.end.frames, summary.end.records), (4, 9));
}

/// Records the `seq` of every frame it analyses.
struct SeqOrder(Arc<Mutex<Vec<u64>>>);

impl Analysis for SeqOrder {
    fn observe(&mut self, record: &Record) -> Vec<Record> {
        if let Record::Frame(frame) = record {
            self.0.lock().unwrap().push(frame.seq);
        }
        Vec::new()
    }
}

fn frame(conn: ConnId, seq: u64, len: usize) -> Record {
    use crate::event::{Frame, Opcode, Peer};
    let payload = bytes::Bytes::from(vec![b'x'; len]);
    Record::Frame(Frame::whole(conn, Ts::now(), seq, Peer::Client, Opcode::Binary, payload))
}

/// Polls `future` once; true when it completed.
async fn poll_once(future: std::pin::Pin<&mut impl std::future::Future<Output = ()>>) -> bool {
    tokio::select! {
        biased;
        () = future => true,
        () = std::future::ready(()) => false,
    }
}

/// The relay's two directions emit through one `ConnSink` in one task: when one waits for room in the queue
/// (here, for a large frame's bytes), the other's later records, which would fit, must not overtake its
/// records, neither in the analysis nor on the sink thread.
#[tokio::test]
async fn records_of_a_connection_stay_in_order_while_an_earlier_emit_waits_for_room() {
    for by_emit_all in [true, false] {
        let gate = Arc::new(Gate::default());
        let mut options = options(LagPolicy::Block, None, gate.clone());
        options.buffer = 64;
        let analysed = Arc::new(Mutex::new(Vec::new()));
        let seen = analysed.clone();
        options.analysis = Some(Arc::new(move || Box::new(SeqOrder(seen.clone())) as Box<dyn Analysis>));
        let (sink, pipeline) = start(options);
        // Another connection's large frame holds more than half the queue's bytes while the sink is held up.
        let other = sink.connection();
        other.emit(frame(other.conn(), 1, BYTE_BUDGET / 2 + 1)).await;
        let conn = sink.connection();
        let large = frame(conn.conn(), if by_emit_all { 2 } else { 1 }, BYTE_BUDGET / 2);
        let mut first = if by_emit_all { vec![frame(conn.conn(), 1, 10), large] } else { vec![large] };
        let last = first.len() as u64 + 1;
        let mut waiting = std::pin::pin!(async {
            if by_emit_all {
                conn.emit_all(&mut first).await;
            } else {
                conn.emit(first.pop().unwrap()).await;
            }
        });
        assert!(!poll_once(waiting.as_mut()).await, "the large frame waits for room");
        let mut later = vec![frame(conn.conn(), last, 10)];
        let mut fitting = std::pin::pin!(conn.emit_all(&mut later));
        let done = poll_once(fitting.as_mut()).await;
        gate.let_through();
        waiting.await;
        if !done {
            fitting.await;
        }
        let summary = pipeline.finish().await;
        assert_eq!(summary.end.dropped, 0);
        let in_order: Vec<u64> = (1..=last).collect();
        assert_eq!(gate.seqs.lock().unwrap()[1..], in_order, "the sink's order (emit_all: {by_emit_all})");
        assert_eq!(analysed.lock().unwrap()[1..], in_order, "the analysis' order (emit_all: {by_emit_all})");
    }
}

/// Diagnoses every `open` at once, as the analyzer does an upgrade that failed.
struct DiagnosingOpens;

impl Analysis for DiagnosingOpens {
    fn observe(&mut self, record: &Record) -> Vec<Record> {
        let Record::Open(open) = record else { return Vec::new() };
        vec![Record::Diagnosis(crate::event::Diagnosis { conn: open.conn, ts: open.ts, details: Default::default() })]
    }
}

/// A failed upgrade is emitted as its `open` and the notes about its handshake, in one batch: its diagnosis
/// (derived from the `open`) follows the notes, whether the queue has room for the batch or not.
#[tokio::test]
async fn a_diagnosis_follows_the_batch_it_was_derived_in() {
    for buffer in [16, 1] {
        let gate = Arc::new(Gate { open: Mutex::new(true), ..Gate::default() });
        let mut options = options(LagPolicy::Block, None, gate.clone());
        options.buffer = buffer;
        options.analysis = Some(Arc::new(|| Box::new(DiagnosingOpens) as Box<dyn Analysis>));
        let (sink, pipeline) = start(options);
        let conn = sink.connection();
        let open = super::order::tests::open(conn.conn());
        conn.emit_all(&mut vec![open, note(conn.conn()), note(conn.conn())]).await;
        let summary = pipeline.finish().await;
        let kinds = gate.seen.lock().unwrap().clone();
        assert_eq!(kinds[1..kinds.len() - 1], ["open", "note", "note", "diagnosis"], "buffer {buffer}");
        assert_eq!(summary.end.dropped, 0);
    }
}

#[tokio::test]
async fn with_nothing_reading_frames_only_what_the_analysis_derives_is_handed_over() {
    let mut options = options(LagPolicy::Block, None, Arc::new(Gate::default()));
    options.publishers.clear();
    let analysed = counting(&mut options);
    let (sink, pipeline) = start(options);
    let conn = sink.connection();
    conn.emit_all(&mut frames(conn.conn(), 5)).await;
    let summary = pipeline.finish().await;
    assert_eq!(analysed.load(Ordering::Relaxed), 5);
    assert_eq!(summary.end.frames, 5, "frames not handed over are still counted");
    assert_eq!(summary.end.records, 1 + 5 + 5, "meta, the frames, the notes derived from them");
    assert!(summary.end.complete);
}

#[tokio::test]
async fn a_panicking_analysis_of_one_connection_loses_no_record() {
    let gate = Arc::new(Gate { open: Mutex::new(true), ..Gate::default() });
    let mut options = options(LagPolicy::Block, None, gate.clone());
    options.analysis = Some(Arc::new(|| Box::new(Exploding) as Box<dyn Analysis>));
    let (sink, pipeline) = start(options);
    let (failing, healthy) = (sink.connection(), sink.connection());
    for n in 0..3 {
        failing.emit(note(n)).await;
        healthy.emit_all(&mut frames(healthy.conn(), 1)).await;
    }
    let summary = pipeline.finish().await;
    assert_eq!(summary.end.dropped, 0);
    let kinds = gate.seen.lock().unwrap().clone();
    assert_eq!(kinds.iter().filter(|k| *k == "note").count(), 3, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "frame").count(), 3, "{kinds:?}");
}

#[tokio::test]
async fn a_lagging_sink_with_the_drop_policy_counts_what_a_connection_could_not_hand_over() {
    let gate = Arc::new(Gate::default());
    let mut options = options(LagPolicy::Drop, None, gate.clone());
    let analysed = counting(&mut options);
    let (sink, pipeline) = start(options);
    let conn = sink.connection();
    for record in frames(conn.conn(), 50) {
        conn.emit(record).await;
    }
    gate.let_through();
    let summary = pipeline.finish().await;
    assert_eq!(analysed.load(Ordering::Relaxed), 50, "every frame is analysed, even one then dropped");
    let seen = gate.seen.lock().unwrap().iter().filter(|k| *k == "frame" || *k == "note").count() as u64;
    assert!(summary.end.dropped > 0, "{:?}", summary.end);
    assert_eq!(seen + summary.end.dropped, 100, "each frame and its note is either handed over or counted");
}
