//! Test helpers: real servers on 127.0.0.1:0, a raw WebSocket peer for frame-exact checks, and a proxy
//! started through the same library entry point as `frametap proxy`.
#![allow(dead_code)]

pub mod binary;
pub mod har;
pub mod large;
pub mod ports;
pub mod raw;
pub mod redact;
#[cfg(unix)]
pub mod terminal;
pub mod tls;

use frametap::capture::{read_capture, CaptureFile, CaptureFormat, CaptureWriter};
use frametap::event::{Meta, Record, Ts, FORMAT_NAME, FORMAT_VERSION};
use frametap::pipeline::{self, LagPolicy, PipelineOptions};
use frametap::proxy::relay::RelayOptions;
use frametap::proxy::upstream::UpstreamBase;
use frametap::proxy::ProxyConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Short real timeouts for socket tests.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A running proxy with its capture in a temporary folder.
pub struct Proxy {
    pub addr: SocketAddr,
    pub capture: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<pipeline::Summary>,
    _dir: tempfile::TempDir,
}

/// The proxy configuration the tests start from (plain ws upstream, short timeouts).
pub fn test_config(upstream: &str) -> ProxyConfig {
    ProxyConfig {
        upstream: UpstreamBase::parse(upstream).expect("test upstream URL"),
        tls: frametap::tls::upstream::client_config(None, false).unwrap(),
        upstream_proxies: frametap::forward::UpstreamProxies::direct(),
        set_headers: Vec::new(),
        forward_cookies: false,
        relay: RelayOptions { max_message: 64 << 20, close_timeout: TEST_TIMEOUT },
        handshake_timeout: TEST_TIMEOUT,
        public_url: "ws://127.0.0.1:0".into(),
        ui_address: None,
    }
}

/// The `meta` record of a test session.
pub fn test_meta() -> Meta {
    Meta {
        ts: Ts::now(),
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        frametap: env!("CARGO_PKG_VERSION").into(),
        command: vec!["frametap".into(), "proxy".into()],
        mode: "proxy".into(),
        upstream: None,
        redacted: false,
        insecure_upstream: false,
    }
}

/// Starts a proxy on 127.0.0.1:0 in front of `config.upstream`, capturing to a temp file.
pub async fn start_proxy(config: ProxyConfig) -> Proxy {
    start_proxy_as(config, CaptureFormat::Jsonl).await
}

/// [`start_proxy`] with a capture in `format`.
pub async fn start_proxy_as(config: ProxyConfig, format: CaptureFormat) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join(format!("capture.{}", format.extension()));
    let writer = CaptureWriter::create_as(&capture, format).unwrap();
    let mut options = capture_only(writer);
    options.meta.version = format.version();
    let (addr, stop, task) = serve_in_process(options, config).await;
    Proxy { addr, capture, stop: Some(stop), task, _dir: dir }
}

/// Pipeline options that only capture, to `writer` (no log, no analysis, no UI).
pub fn capture_only(writer: CaptureWriter) -> PipelineOptions {
    PipelineOptions {
        meta: test_meta(),
        capture: Some(writer),
        log: None,
        analysis: None,
        redaction: None,
        publishers: Vec::new(),
        on_lag: LagPolicy::Block,
        buffer: pipeline::DEFAULT_BUFFER,
    }
}

/// The proxy on 127.0.0.1:0, in this process, with its records going through a pipeline with `options`:
/// its address, the sender that stops it (open connections get 1001), and the task that returns the
/// pipeline's summary once it has stopped.
pub async fn serve_in_process(
    options: PipelineOptions,
    config: ProxyConfig,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<pipeline::Summary>) {
    let (sink, pipeline) = pipeline::start(options);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        frametap::proxy::serve(listener, config, sink, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        pipeline.finish().await
    });
    (addr, stop, task)
}

impl Proxy {
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Shuts the proxy down (open connections get 1001), finishes the capture and reads it back.
    pub async fn stop(self) -> CaptureFile {
        self.stop_with_text().await.0
    }

    /// As [`Proxy::stop`], also returning the capture file's text exactly as written.
    pub async fn stop_with_text(self) -> (CaptureFile, String) {
        let (capture, bytes) = self.stop_with_bytes().await;
        (capture, String::from_utf8(bytes).expect("a JSON Lines capture is text"))
    }

    /// As [`Proxy::stop`], also returning the capture file's bytes (the file goes with the proxy).
    pub async fn stop_with_bytes(mut self) -> (CaptureFile, Vec<u8>) {
        self.stop.take().unwrap().send(()).ok();
        let summary = tokio::time::timeout(Duration::from_secs(20), &mut self.task)
            .await
            .expect("the proxy shut down in time")
            .unwrap();
        assert!(summary.end.complete, "capture incomplete: {:?}", summary.end);
        (read_capture(&self.capture).unwrap(), std::fs::read(&self.capture).unwrap())
    }
}

/// All frame records of a capture, in order.
pub fn frames(capture: &CaptureFile) -> Vec<&frametap::event::Frame> {
    capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// The capture's close record for `conn`.
pub fn close_of(capture: &CaptureFile, conn: u64) -> &frametap::event::Close {
    capture
        .records
        .iter()
        .find_map(|r| match r {
            Record::Close(c) if c.conn == conn => Some(c),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no close record for connection {conn}"))
}

/// The capture's open record for `conn`.
pub fn open_of(capture: &CaptureFile, conn: u64) -> &frametap::event::Open {
    capture
        .records
        .iter()
        .find_map(|r| match r {
            Record::Open(o) if o.conn == conn => Some(o),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no open record for connection {conn}"))
}

/// A tokio-tungstenite echo server on 127.0.0.1:0 (echoes text and binary; tungstenite answers pings).
pub async fn start_echo_server() -> SocketAddr {
    use futures_util::{SinkExt, StreamExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                    .max_message_size(Some(64 << 20))
                    .max_frame_size(Some(64 << 20));
                let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// The first diagnosis a fresh analysis derives from `records`, read offline.
pub fn first_diagnosis(records: &[Record]) -> frametap::event::Diagnosis {
    let mut analyzer = frametap::inspect::Analyzer::new(Default::default());
    records
        .iter()
        .flat_map(|r| analyzer.observe(r, r.ts()))
        .find_map(|r| if let Record::Diagnosis(d) = r { Some(d) } else { None })
        .expect("a diagnosis")
}
