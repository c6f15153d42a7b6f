//! WebSocket pieces for TLS/forward tests: an echo server (ws or wss), a recording session, a client over
//! any stream.
#![allow(dead_code)] // shared by several test binaries, each of which uses only part of it

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use frametap::cli::{CaptureArgs, LogArgs};
use frametap::event::Record;
use frametap::forward::UpstreamProxies;
use frametap::pipeline::Publisher;
use frametap::proxy::relay::RelayOptions;
use frametap::proxy::upstream::UpstreamBase;
use frametap::proxy::ProxyConfig;
use frametap::session::{self, Session, SessionSetup};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub const STEP: Duration = Duration::from_secs(5);

/// A WebSocket echo server on 127.0.0.1:0 (wss when `tls` is given); it echoes text and binary
/// messages and answers a close.
pub async fn start_ws_echo(tls: Option<Arc<rustls::ServerConfig>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(config) => {
                        if let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await {
                            echo(stream).await;
                        }
                    }
                    None => echo(tcp).await,
                }
            });
        }
    });
    addr
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
    // A well-behaved server ends TLS with close_notify, then closes TCP.
    let _ = ws.get_mut().shutdown().await;
}

/// Sends `text`, expects it back, closes normally, waits for the server's close, then drops the
/// connection (as browsers do once the close handshake is over).
pub async fn echo_round_trip<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
    let reply = tokio::time::timeout(STEP, ws.next()).await.expect("echo timed out").unwrap().unwrap();
    assert_eq!(reply, Message::text(text));
    ws.close(None).await.unwrap();
    while let Ok(Some(Ok(_))) = tokio::time::timeout(STEP, ws.next()).await {}
    let _ = ws.get_mut().shutdown().await;
}

/// Forwards every record to a channel, so tests wait on real records.
pub struct Recorder(pub mpsc::UnboundedSender<Record>);

impl Publisher for Recorder {
    fn publish(&self, record: &Record, _json: &str) {
        let _ = self.0.send(record.clone());
    }
}

/// A recording session capturing to a file in `dir`, publishing every record to the returned channel.
pub async fn recording_session(dir: &Path, mode: &str) -> (Session, PathBuf, mpsc::UnboundedReceiver<Record>) {
    let path = dir.join("capture.jsonl");
    let capture = CaptureArgs { capture: Some(path.clone()), ..CaptureArgs::default() };
    let log = LogArgs { quiet: true, ..LogArgs::default() };
    let (tx, rx) = mpsc::unbounded_channel();
    let session = session::start(SessionSetup {
        mode,
        upstream: None,
        capture: &capture,
        log: &log,
        insecure_upstream: false,
        publishers: vec![Arc::new(Recorder(tx))],
        ui: None,
        try_target: None,
        analysis: None,
    })
    .await
    .unwrap();
    (session, path, rx)
}

/// Waits for the first record matching `pick`.
pub async fn wait_for<T>(rx: &mut mpsc::UnboundedReceiver<Record>, mut pick: impl FnMut(&Record) -> Option<T>) -> T {
    tokio::time::timeout(STEP, async {
        loop {
            let record = rx.recv().await.expect("the pipeline ended");
            if let Some(found) = pick(&record) {
                return found;
            }
        }
    })
    .await
    .expect("timed out waiting for a record")
}

/// A proxy config with short timeouts, upstream TLS trusting the PEM file `upstream_ca` (as
/// `--upstream-ca` does), and the given upstream proxies.
pub fn proxy_config(upstream: UpstreamBase, upstream_ca: Option<&Path>, proxies: UpstreamProxies) -> ProxyConfig {
    ProxyConfig {
        upstream,
        tls: frametap::tls::upstream::client_config(upstream_ca, false).unwrap(),
        upstream_proxies: proxies,
        set_headers: Vec::new(),
        forward_cookies: true,
        relay: RelayOptions { max_message: 1 << 20, close_timeout: STEP },
        handshake_timeout: STEP,
        public_url: "ws://test".into(),
        ui_address: None,
    }
}
