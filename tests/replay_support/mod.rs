//! Helpers shared by the replay tests: a raw client, sessions writing to a temp capture, hand-made captures,
//! and a `replay serve` started on 127.0.0.1:0.
#![allow(dead_code)]

use crate::common::raw::{self, RawWs, Received};
use frametap::capture::CaptureWriter;
use frametap::cli::{CaptureArgs, LogArgs};
use frametap::event::{Opcode, Peer};
use frametap::pipeline::LagPolicy;
use frametap::proxy::upstream::UpstreamBase;
use frametap::proxy::DEFAULT_MAX_MESSAGE;
use frametap::replay::send::SendOptions;
use frametap::replay::serve::{serve, Front, ServeOptions, Served};
use frametap::replay::{Pace, PlayOptions, PlayReport, Script};
use frametap::session::{self, Session, SessionSetup};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

pub const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJndWVzdCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
/// Short real timeouts for socket tests.
pub const SHORT: Duration = Duration::from_secs(2);

/// (opcode, fin, payload) of a frame as a peer saw it.
pub type Seen = (Opcode, bool, Vec<u8>);

/// Reads the next frame as (opcode, fin, payload), or `None` when the peer ended TCP.
pub async fn read(ws: &mut RawWs) -> Option<Seen> {
    match tokio::time::timeout(Duration::from_secs(5), ws.recv()).await.expect("no frame within 5 s") {
        Received::Frame(f) => Some((f.header.opcode, f.header.fin, f.payload.to_vec())),
        Received::Eof | Received::Reset => None,
    }
}

/// The client's handshake, as a browser would send it (with a bearer token, to test redaction).
pub async fn connect(addr: SocketAddr, path: &str) -> RawWs {
    let auth = format!("Bearer {JWT}");
    let headers = [("Origin", "https://shop.example.com"), ("Authorization", auth.as_str())];
    let (head, ws, _) = raw::connect(addr, path, &headers).await;
    ws.unwrap_or_else(|| panic!("no upgrade: {head}"))
}

pub async fn session_to(capture: &Path, mode: &'static str) -> Session {
    session_with(capture, mode, false).await
}

/// [`session_to`], with `--redact` when `redact`.
pub async fn session_with(capture: &Path, mode: &'static str, redact: bool) -> Session {
    let capture = CaptureArgs {
        capture: Some(capture.to_owned()),
        no_capture: false,
        redact,
        on_capture_lag: LagPolicy::Block,
        ..Default::default()
    };
    let log = LogArgs { quiet: true, ..Default::default() };
    session::start(SessionSetup {
        mode,
        upstream: None,
        capture: &capture,
        log: &log,
        insecure_upstream: false,
        publishers: Vec::new(),
        ui: None,
        try_target: None,
        analysis: Some(frametap::inspect::AnalysisArgs::default().options()),
    })
    .await
    .unwrap()
}

pub fn play_options(pace: Pace) -> PlayOptions {
    PlayOptions {
        pace,
        wait_timeout: Some(SHORT),
        close_timeout: SHORT,
        ignore: Vec::new(),
        sets: Vec::new(),
        max_message: DEFAULT_MAX_MESSAGE,
        redactor: None,
    }
}

/// What `replay send` needs to reach `addr` directly.
pub fn send_options(addr: SocketAddr, play: PlayOptions) -> SendOptions {
    SendOptions {
        upstream: UpstreamBase::parse(&format!("ws://{addr}")).unwrap(),
        tls: frametap::tls::upstream::client_config(None, false).unwrap(),
        proxies: frametap::forward::UpstreamProxies::direct(),
        headers: Vec::new(),
        play,
        handshake_timeout: SHORT,
    }
}

/// A capture written by hand: one connection whose client says "hi" and server answers "hello", then `end`.
pub fn handmade_capture(dir: &Path, name: &str, status: u16, close: Option<frametap::event::Close>) -> PathBuf {
    let messages: &[(Peer, &str)] = if status == 101 { &[(Peer::Client, "hi"), (Peer::Server, "hello")] } else { &[] };
    conversation_capture(dir, name, "ws://example.com/chat", status, messages, close)
}

/// A capture written by hand: one connection to `upstream` (its path is the recorded request's) answered with
/// `status` (101: with the subprotocol "chat.v2"; else with a body), these text messages in order, then `close`
/// and `end`.
pub fn conversation_capture(
    dir: &Path,
    name: &str,
    upstream: &str,
    status: u16,
    messages: &[(Peer, &str)],
    close: Option<frametap::event::Close>,
) -> PathBuf {
    use frametap::event::*;
    let ts = |ms: i64| Ts(chrono::DateTime::from_timestamp_millis(1_795_000_000_000 + ms).unwrap());
    let frame = |seq: u64, from: Peer, text: &str| {
        Record::Frame(Frame {
            conn: 1,
            ts: ts(seq as i64),
            seq,
            from,
            to: from.other(),
            opcode: Opcode::Text,
            fin: true,
            rsv: 0,
            len: text.len() as u64,
            payload: bytes::Bytes::copy_from_slice(text.as_bytes()),
            text_message: true,
            relayed: true,
        })
    };
    let uri: http::Uri = upstream.parse().unwrap();
    let path = uri.path_and_query().unwrap().as_str().to_owned();
    let mut records = vec![
        Record::from(crate::common::test_meta()),
        Record::from(Open {
            conn: 1,
            ts: ts(0),
            client_addr: None,
            request: HttpRequest { method: "GET".into(), path, headers: Vec::new() },
            upstream: Some(upstream.into()),
            upstream_request: None,
            response: Some(HttpResponse {
                status,
                headers: vec![
                    ("sec-websocket-protocol".into(), "chat.v2".into()),
                    ("content-type".into(), "text/plain".into()),
                ],
                body: (status != 101).then(|| "deployment not allowed".into()),
                body_base64: None,
            }),
            error: None,
            handshake_ms: Some(12.5),
            upstream_tcp_rtt_ms: None,
            failed_ms: None,
            upgraded_ms: None,
        }),
    ];
    records.extend(messages.iter().zip(1..).map(|((from, text), seq)| frame(seq, *from, text)));
    records.extend(close.map(Record::Close));
    let path = dir.join(name);
    let mut writer = CaptureWriter::create(&path).unwrap();
    for record in &records {
        writer.write(record);
    }
    writer.finish(0, Vec::new());
    path
}

pub fn server_close(clean: bool, code: Option<u16>, detail: Option<&str>) -> frametap::event::Close {
    frametap::event::Close {
        conn: 1,
        ts: frametap::event::Ts::now(),
        initiator: Peer::Server,
        initiator_unknown: false,
        code,
        reason: code.map(|_| "going away".into()),
        clean,
        dropped_by: (!clean).then_some(Peer::Server),
        duration_ms: 3.0,
        detail: detail.map(str::to_owned),
    }
}

/// Serves `capture` to ws:// clients until the returned sender fires; reports go to the receiver.
pub async fn start_serving(
    capture: &Path,
    out: &Path,
) -> (SocketAddr, oneshot::Sender<()>, mpsc::UnboundedReceiver<PlayReport>) {
    start_serving_as(capture, out, Front::Plain).await
}

/// [`start_serving`] with clients reaching the replay through `front` (wss://, forward mode).
pub async fn start_serving_as(
    capture: &Path,
    out: &Path,
    front: Front,
) -> (SocketAddr, oneshot::Sender<()>, mpsc::UnboundedReceiver<PlayReport>) {
    start_serving_paced(capture, out, front, Pace::Fast).await
}

/// [`start_serving_as`] at `pace`.
pub async fn start_serving_paced(
    capture: &Path,
    out: &Path,
    front: Front,
    pace: Pace,
) -> (SocketAddr, oneshot::Sender<()>, mpsc::UnboundedReceiver<PlayReport>) {
    let script = Script::load(capture, None, false).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (served_tx, mut served) = mpsc::unbounded_channel();
    let (report_tx, reports) = mpsc::unbounded_channel();
    // The tests here look at played connections only.
    tokio::spawn(async move {
        while let Some(one) = served.recv().await {
            if let Some(report) = Served::played(one) {
                let _ = report_tx.send(report);
            }
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let session = session_to(out, "replay-serve").await;
    let options = ServeOptions { play: play_options(pace), handshake_timeout: SHORT };
    tokio::spawn(async move {
        let stopped = async {
            let _ = stopped.await;
        };
        serve(listener, front, script, options, session.sink.clone(), stopped, Some(served_tx)).await.unwrap();
        session.finish().await;
    });
    (addr, stop, reports)
}
