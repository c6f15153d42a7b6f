//! The live stream to the browser: history first, then every new record, over a WebSocket.
//!
//! Messages (JSON text):
//! - `{"t":"hello","reason":"start"|"lag","missed":N,"forgotten":N,"redacted":bool,"source":"live"|"file"}`
//!   starts a (re)sync: the page forgets what it had. `reason: "lag"` means the browser fell `missed`
//!   records behind the live buffer and is being resynced from history. `source: "file"` means the
//!   history is a saved file (`frametap ui FILE`): nothing live follows it.
//! - `{"t":"batch","recs":[{"i":index,"k":kind,"r":record}, …]}` carries records in publication
//!   order; `k` is the record's kind as the hub knows it, given apart so the page never depends on a
//!   record's own fields (a token's kind is `token_kind`; captures written before that used `kind`).
//! - `{"t":"live"}` follows the history: from here on, batches are live.
//!
//! A slow browser never slows the pipeline: the hub's broadcast drops what this subscriber missed,
//! and this task answers with a resync.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use super::hub::{Entry, Hub};
use super::routes::AppState;
use super::UiOptions;

/// A batch grows up to about this many bytes of records before it is sent.
const BATCH_BYTES: usize = 256 * 1024;

pub async fn upgrade(State(state): State<Arc<AppState>>, ws: WebSocketUpgrade) -> Response {
    let hub = state.hub.clone();
    let shutdown = state.shutdown.subscribe();
    let source = source(&state.options);
    ws.on_upgrade(move |socket| async move {
        match run(socket, hub, source, shutdown).await {
            Ok(()) => tracing::debug!("ui: a live stream ended"),
            Err(e) => tracing::debug!("ui: a live stream ended: {e:#}"),
        }
    })
}

/// What the page shows: `"live"` (a recording session) or `"file"` (`frametap ui FILE`).
pub fn source(options: &UiOptions) -> &'static str {
    if options.file {
        "file"
    } else {
        "live"
    }
}

fn hello(reason: &str, missed: u64, forgotten: u64, redacted: bool, source: &str) -> String {
    serde_json::json!({"t": "hello", "reason": reason, "missed": missed, "forgotten": forgotten, "redacted": redacted, "source": source})
        .to_string()
}

/// Appends `{"i":…,"r":…}` for an entry; the record's JSON is copied in as it is, never re-parsed.
fn push_item(batch: &mut String, entry: &Entry) {
    batch.push_str(if batch.is_empty() { "{\"t\":\"batch\",\"recs\":[" } else { "," });
    batch.push_str("{\"i\":");
    batch.push_str(&entry.index.to_string());
    // The record's kind, given apart from the record's own fields.
    batch.push_str(",\"k\":");
    batch.push_str(&serde_json::Value::from(&*entry.kind).to_string());
    batch.push_str(",\"r\":");
    batch.push_str(&entry.json);
    batch.push('}');
}

async fn send_text(socket: &mut WebSocket, text: String) -> anyhow::Result<()> {
    socket.send(Message::Text(text.into())).await.map_err(|e| anyhow::anyhow!("sending to the browser: {e}"))
}

async fn flush(socket: &mut WebSocket, batch: &mut String) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    batch.push_str("]}");
    send_text(socket, std::mem::take(batch)).await
}

/// Resolves once the UI is shutting down (or can no longer be told to).
async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
}

/// Sends the history, then forwards live records until the browser leaves, lags (then resyncs) or
/// the UI shuts down.
async fn run(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    source: &'static str,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let redacted = hub.options().redacted;
    let (mut reason, mut missed) = ("start", 0u64);
    loop {
        let mut subscription = hub.subscribe();
        send_text(&mut socket, hello(reason, missed, subscription.forgotten, redacted, source)).await?;
        let mut batch = String::new();
        for entry in &subscription.history {
            push_item(&mut batch, entry);
            if batch.len() >= BATCH_BYTES {
                flush(&mut socket, &mut batch).await?;
            }
        }
        flush(&mut socket, &mut batch).await?;
        send_text(&mut socket, r#"{"t":"live"}"#.into()).await?;
        drop(subscription.history);
        loop {
            let first = tokio::select! {
                received = subscription.live.recv() => received,
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                    Some(Ok(_)) => continue,
                },
                _ = stopped(&mut shutdown) => {
                    let close = CloseFrame { code: 1001, reason: "frametap is shutting down".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return Ok(());
                }
            };
            let lagged = match first {
                Ok(entry) => {
                    push_item(&mut batch, &entry);
                    // Gather whatever else is already waiting into the same message.
                    let mut lagged = None;
                    while batch.len() < BATCH_BYTES {
                        match subscription.live.try_recv() {
                            Ok(entry) => push_item(&mut batch, &entry),
                            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                                lagged = Some(n);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    flush(&mut socket, &mut batch).await?;
                    lagged
                }
                Err(RecvError::Lagged(n)) => Some(n),
                Err(RecvError::Closed) => return Ok(()),
            };
            if let Some(n) = lagged {
                tracing::debug!(missed = n, "ui: a browser fell behind; resyncing it from history");
                (reason, missed) = ("lag", n);
                break;
            }
        }
    }
}
