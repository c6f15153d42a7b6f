//! The order of a replayed connection's records: `replay serve` and `replay send` read the live peer's frames in one
//! task and send the recorded ones in another, yet their capture has each connection's frames in `seq` order, as a
//! proxy capture does. Real sockets on 127.0.0.1:0, both directions busy at once.

mod common;
#[path = "replay_support/mod.rs"]
mod support;

use common::raw::{self, RawWs, Received};
use frametap::capture::{read_capture, CaptureWriter};
use frametap::event::{Close, Opcode, Peer, Ts};
use frametap::inspect::{AnalysisArgs, Analyzer};
use frametap::pipeline::{self, EventSink, LagPolicy, Pipeline, PipelineOptions};
use frametap::replay::serve::{serve, Front, ServeOptions};
use frametap::replay::{Pace, Script};
use frametap::wire::{close_payload, encode_frame};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

/// Messages of each side: the live peer sends all of its own at once while the replay sends its side, so the
/// replay's reader and player emit at the same time, many times over.
const MESSAGES: usize = 2000;
const WAIT: Duration = Duration::from_secs(30);

fn message(from: Peer, n: usize) -> String {
    format!("{} {n:05} {}", from.as_str(), "x".repeat(200))
}

/// A recording of `MESSAGES` client and server messages in turn, closed by the client.
fn back_and_forth(dir: &Path) -> PathBuf {
    let texts: Vec<(Peer, String)> = (0..MESSAGES)
        .flat_map(|n| [(Peer::Client, message(Peer::Client, n)), (Peer::Server, message(Peer::Server, n))])
        .collect();
    let messages: Vec<(Peer, &str)> = texts.iter().map(|(from, text)| (*from, text.as_str())).collect();
    let close = Close {
        conn: 1,
        ts: Ts::now(),
        initiator: Peer::Client,
        initiator_unknown: false,
        code: Some(1000),
        reason: Some("done".into()),
        clean: true,
        dropped_by: None,
        duration_ms: 3.0,
        detail: None,
    };
    conversation_capture(dir, "recorded.jsonl", "ws://example.com/chat", 101, &messages, Some(close))
}

/// Plays the `from` side of the recording as a live peer on `ws`: writes all its messages at once (from another
/// task) while reading the replay's; then the client starts the close handshake, the server answers it.
async fn live_peer(mut ws: RawWs, from: Peer) {
    let mask = (from == Peer::Client).then_some([1, 2, 3, 4]);
    let bytes: Vec<u8> =
        (0..MESSAGES).flat_map(|n| encode_frame(true, Opcode::Text, message(from, n).as_bytes(), mask)).collect();
    let mut writer = ws.writer();
    let writing = tokio::spawn(async move {
        writer.write_all(&bytes).await.unwrap();
        writer
    });
    for n in 0..MESSAGES {
        let frame = ws.frame().await;
        assert_eq!(&frame.payload[..], message(from.other(), n).as_bytes(), "the replay's message {n}");
    }
    let mut writer = writing.await.unwrap();
    let close = encode_frame(true, Opcode::Close, &close_payload(1000, "done"), mask);
    if from == Peer::Client {
        writer.write_all(&close).await.unwrap();
    }
    assert_eq!(ws.frame().await.header.opcode, Opcode::Close);
    if from == Peer::Server {
        writer.write_all(&close).await.unwrap();
        writer.shutdown().await.unwrap();
    }
    while let Received::Frame(_) = ws.recv().await {}
}

/// A pipeline writing to a capture at `path` through a queue of a few records: the sink always lags, so the
/// replay's reader and player keep waiting for room at the same time, the moment a misordered emit happens.
fn lagging_pipeline(path: &Path, mode: &str) -> (EventSink, Pipeline) {
    let mut meta = common::test_meta();
    meta.mode = mode.into();
    pipeline::start(PipelineOptions {
        meta,
        capture: Some(CaptureWriter::create(path).unwrap()),
        log: None,
        analysis: Some(Analyzer::factory(AnalysisArgs::default().options())),
        redaction: None,
        publishers: Vec::new(),
        on_lag: LagPolicy::Block,
        buffer: 4,
    })
}

/// The capture at `path` holds one connection whose frames are numbered 1, 2, … in file order, and reads back
/// without a warning.
fn assert_in_seq_order(path: &Path, what: &str) {
    let capture = read_capture(path).unwrap();
    assert!(capture.problems.is_empty(), "{what}: the capture reads back with warnings: {:#?}", capture.problems);
    let seqs: Vec<u64> = common::frames(&capture).iter().map(|f| f.seq).collect();
    assert_eq!(seqs.len(), 2 * MESSAGES + 2, "{what}: every message and both closes are captured");
    if let Some(at) = seqs.windows(2).position(|pair| pair[1] <= pair[0]) {
        panic!("{what}: frame #{} is followed by #{} in the capture", seqs[at], seqs[at + 1]);
    }
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "{what}: every frame once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_replay_captures_both_directions_in_seq_order() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script::load(&back_and_forth(dir.path()), None, false).unwrap();
    let out = dir.path().join("served.jsonl");
    let (sink, pipeline) = lagging_pipeline(&out, "replay-serve");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (served_tx, mut served) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = ServeOptions { play: play_options(Pace::Fast), handshake_timeout: SHORT };
    let stopped = async {
        let _ = stopped.await;
    };
    let server = tokio::spawn(serve(listener, Front::Plain, script, options, sink, stopped, Some(served_tx)));
    let client = connect(addr, "/chat").await;
    tokio::time::timeout(WAIT, live_peer(client, Peer::Client)).await.expect("the served replay ends");
    let report = served.recv().await.unwrap().played().expect("a played connection");
    assert!(report.divergences.is_empty(), "{:?}", report.divergences);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    pipeline.finish().await;
    assert_in_seq_order(&out, "replay serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_replay_captures_both_directions_in_seq_order() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = back_and_forth(dir.path());
    let (upstream, _) = raw::start_raw_server(raw::upgrade_all, |ws| live_peer(ws, Peer::Server)).await;
    let script = Script::load(&recorded, None, false).unwrap();
    let out = dir.path().join("sent.jsonl");
    let (sink, pipeline) = lagging_pipeline(&out, "replay-send");
    let options = send_options(upstream, play_options(Pace::Fast));
    let (_stop, stop_rx) = watch::channel(false);
    let sending = frametap::replay::send::send(&script, options, sink, stop_rx);
    let report = tokio::time::timeout(WAIT, sending).await.expect("the sent replay ends").unwrap();
    assert!(report.play.unwrap().divergences.is_empty());
    pipeline.finish().await;
    assert_in_seq_order(&out, "replay send");
}
