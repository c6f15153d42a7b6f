//! A real frametap proxy feeding a UI hub, in front of a tiny Guest-API-like upstream, for end-to-end tests.
//!
//! The proxy starts from the shared `common::test_config` and adds the hub as a pipeline publisher
//! (`common::start_proxy` has no publishers). Until main has the built-in simulator, the upstream here
//! answers `configureSession`, `echo` and `onMessage` like the Guest API does, and closes with 1000
//! and no reason when a frame has no `action` (what the story behind frametap saw).

use std::net::SocketAddr;
use std::sync::Arc;

use frametap::event::{Meta, Ts, FORMAT_NAME, FORMAT_VERSION};
use frametap::pipeline::{self, LagPolicy, Pipeline, PipelineOptions, Publisher};
use frametap::ui::Hub;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// Starts the Guest-API-like upstream; returns its address.
pub async fn start_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
                while let Some(Ok(message)) = ws.next().await {
                    let Message::Text(text) = message else { continue };
                    let request: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let tracing_id = request.get("tracingId").cloned().unwrap_or(Value::Null);
                    let reply = match request.get("action").and_then(Value::as_str) {
                        Some("configureSession") => json!({"type": "response", "class": "SessionResponse", "code": 200,
                            "body": {"connected": true, "newSession": true}, "tracingId": tracing_id}),
                        Some("echo") => json!({"type": "response", "class": "StructuredMessage", "code": 200,
                            "body": {"type": "Text", "text": "ping"}, "tracingId": tracing_id}),
                        Some("onMessage") => json!({"type": "message", "class": "StructuredMessage", "code": 200,
                            "body": {"type": "Text", "text": request["message"]["text"], "direction": "Inbound"}}),
                        Some(_) => {
                            json!({"type": "response", "class": "string", "code": 400, "body": "unknown action"})
                        }
                        None => {
                            let close = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                            let _ = ws.send(Message::Close(Some(close))).await;
                            continue; // read on until the client answers the close
                        }
                    };
                    if ws.send(Message::Text(reply.to_string().into())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A running proxy whose pipeline publishes into a hub.
pub struct ProxyServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pipeline: Pipeline,
}

pub async fn start_proxy(upstream: SocketAddr, hub: Arc<Hub>, ui_url: Option<String>) -> ProxyServer {
    let meta = Meta {
        ts: Ts::now(),
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        frametap: env!("CARGO_PKG_VERSION").into(),
        command: vec!["frametap".into(), "proxy".into()],
        mode: "proxy".into(),
        upstream: Some(format!("ws://{upstream}")),
        redacted: false,
        insecure_upstream: false,
    };
    let publishers: Vec<Arc<dyn Publisher>> = vec![hub];
    let (sink, pipeline) = pipeline::start(PipelineOptions {
        meta,
        capture: None,
        log: None,
        analysis: None,
        redaction: None,
        publishers,
        on_lag: LagPolicy::Block,
        buffer: pipeline::DEFAULT_BUFFER,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = crate::common::test_config(&format!("ws://{upstream}"));
    config.public_url = format!("ws://{addr}");
    config.ui_url = ui_url;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(frametap::proxy::serve(listener, config, sink, async {
        let _ = stopped.await;
    }));
    ProxyServer { addr, stop: Some(stop), task, pipeline }
}

impl ProxyServer {
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(std::time::Duration::from_secs(10), &mut self.task).await???;
        self.pipeline.finish().await;
        Ok(())
    }
}
