//! frametap's own work per frame at its source, without sockets: the analysis and the hand-over to the pipeline that
//! every relayed frame goes through (capture off, as in the bench's "capture off" rows). Loopback on a VM
//! varies from run to run far more than this does, so a change to the per-frame path shows here first; and the
//! bench's load is binary, which the profile and the token search skip, so a Guest API conversation is timed too.

use crate::measure::median;
use bytes::Bytes;
use frametap::event::{Frame, Meta, Opcode, Peer, Record, Ts, FORMAT_NAME, FORMAT_VERSION};
use frametap::inspect::{analyzer::Analyzer, AnalysisOptions};
use frametap::pipeline::{self, PipelineOptions};
use frametap::profile::ProfileChoice;

/// Frames handed over per call, as a relay's read of several frames hands them over (the 20-connection scenario's
/// reads carry a few each).
const BATCH: usize = 4;
const FRAMES_PER_RUN: usize = 400_000;

/// A Guest API conversation: it opens with a session (not timed), then the client's messages and the server's echo
/// of each alternate.
const GENESYS_OPENING: [(Peer, &str); 2] = [
    (
        Peer::Client,
        r#"{"action":"configureSession","deploymentId":"00000000-0000-4000-8000-0000000000d1","token":"00000000-0000-4000-8000-000000000001"}"#,
    ),
    (
        Peer::Server,
        r#"{"type":"response","class":"SessionResponse","code":200,"body":{"connected":true,"newSession":true,"readOnly":false}}"#,
    ),
];
const GENESYS_CLIENT: &str = r#"{"action":"onMessage","token":"00000000-0000-4000-8000-000000000001","message":{"type":"Text","text":"hello, is anyone there?"}}"#;
const GENESYS_SERVER: &str = r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"text":"hello, is anyone there?","direction":"Inbound","id":"5e1e5b4c-6a2e-4a6f-9d1a-0c9a3e1b7f11","channel":{"time":"2026-11-27T12:00:00.000Z","messageId":"5e1e5b4c-6a2e-4a6f-9d1a-0c9a3e1b7f11"},"type":"Text","originatingEntity":"Human"}}"#;

/// One kind of traffic: its name in the report, the frames that open a connection (not timed), and the frame
/// each side then sends.
struct Traffic {
    name: &'static str,
    opening: &'static [(Peer, &'static str)],
    opcode: Opcode,
    client: Bytes,
    server: Bytes,
}

/// Nanoseconds per frame, as the median of `runs` runs with min and max, for the bench's own load (128 B binary
/// frames) and for a Guest API conversation (JSON text frames the profile and the token search read). A line of
/// the report per traffic.
pub(crate) async fn per_frame_cost(runs: usize) -> String {
    let binary = vec![7u8; 128];
    let traffics = [
        Traffic {
            name: "128 B binary frames (the bench's load)",
            opening: &[],
            opcode: Opcode::Binary,
            client: Bytes::from(binary.clone()),
            server: Bytes::from(binary),
        },
        Traffic {
            name: "Guest API onMessage and StructuredMessage text frames",
            opening: &GENESYS_OPENING,
            opcode: Opcode::Text,
            client: Bytes::from_static(GENESYS_CLIENT.as_bytes()),
            server: Bytes::from_static(GENESYS_SERVER.as_bytes()),
        },
    ];
    let mut lines = String::new();
    for traffic in &traffics {
        let mut samples = Vec::new();
        for _ in 0..runs.max(1) {
            samples.push(one_run(traffic).await);
        }
        let (median, min, max) = median(samples);
        lines.push_str(&format!("| {} | {median:.0} [{min:.0}–{max:.0}] |\n", traffic.name));
    }
    format!(
        "frametap's own work per frame at its source (analysis and hand-over to the pipeline, capture off; in the bench's \
         process, so with glibc's allocator where frametap's binary has jemalloc; no sockets; {BATCH} frames per \
         hand-over, {FRAMES_PER_RUN} frames per run):\n\n| traffic | ns per frame (median [min–max]) |\n|---|---|\n{lines}"
    )
}

/// Hands a fresh connection's frames, alternately from the client and the server, to a pipeline with analysis on
/// and nothing that reads frames; returns nanoseconds per frame.
async fn one_run(traffic: &Traffic) -> f64 {
    let analysis = AnalysisOptions { profile: ProfileChoice::Auto, require_scopes: Vec::new() };
    let meta = Meta {
        ts: Ts::now(),
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        frametap: "bench".into(),
        command: Vec::new(),
        mode: "proxy".into(),
        upstream: None,
        redacted: false,
        insecure_upstream: false,
    };
    let (sink, pipeline) = pipeline::start(PipelineOptions {
        meta,
        capture: None,
        log: None,
        analysis: Some(Analyzer::factory(analysis)),
        redaction: None,
        publishers: Vec::new(),
        on_lag: Default::default(),
        buffer: pipeline::DEFAULT_BUFFER,
    });
    let connection = sink.connection();
    let mut batch = Vec::with_capacity(BATCH);
    for (from, text) in traffic.opening {
        let payload = Bytes::from_static(text.as_bytes());
        batch.push(Record::Frame(Frame::whole(connection.conn(), Ts::now(), 0, *from, Opcode::Text, payload)));
    }
    connection.emit_all(&mut batch).await;
    let started = std::time::Instant::now();
    for n in 0..FRAMES_PER_RUN {
        let (from, payload) =
            if n % 2 == 0 { (Peer::Client, &traffic.client) } else { (Peer::Server, &traffic.server) };
        // Stamped as the relay stamps a read's frames: one clock read per read.
        let ts = if n % BATCH == 0 { Ts::now() } else { batch.last().map_or_else(Ts::now, Record::ts) };
        batch.push(Record::Frame(Frame::whole(connection.conn(), ts, 0, from, traffic.opcode, payload.clone())));
        if batch.len() == BATCH {
            connection.emit_all(&mut batch).await;
        }
    }
    connection.emit_all(&mut batch).await;
    let nanos = started.elapsed().as_nanos() as f64 / FRAMES_PER_RUN as f64;
    drop(connection);
    drop(sink);
    pipeline.finish().await;
    nanos
}
