//! The live stream to the browser: history first, then every new record, over a WebSocket.
//! (`POST /api/stream` answers whether the page may open it: see [`check`].)
//!
//! Messages (JSON text):
//! - `{"t":"hello","reason":"start","run":R,"missed":0,"forgotten":N,"redacted":bool,"source":"live"|"file"}`
//!   starts a sync: the page forgets what it had, and the history follows. `forgotten` records were trimmed
//!   from history before it. `run` names this run of the hub (record indices count within it). `source: "file"`
//!   means the history is a saved file (`frametap ui FILE`): nothing live follows it.
//! - `{"t":"hello","reason":"lag"|"resume","missed":N,"after":I,"lost":L,"history_frames":H,…}`: the page is caught
//!   up from history: it keeps what it has (every record up to index `after`), and what follows is the history after
//!   `after`. `lag`: the browser fell more than the live buffer behind (`missed` records dropped from its live feed),
//!   `after` is the last record sent to it. `resume`: the page reconnected with `/api/stream?run=R&after=I` (the last
//!   record it has); a page of another run (or with an index this run never published) gets a `start` instead.
//!   `lost` of the records after `after` had already been trimmed from history (0: nothing is missing), which keeps
//!   `history_frames` frame records. `trimmed` lists `[conn, seq]`: each connection with a frame trimmed after
//!   `after`, and the seq of its newest one trimmed, so the page can name a connection none of whose frames is left.
//! - `{"t":"batch","recs":[{"i":index,"k":kind,"r":record}, …]}` carries records in publication
//!   order; `k` is the record's kind as the hub knows it, given apart so the page never depends on a
//!   record's own fields (a token's kind is `token_kind`; captures written before that used `kind`).
//! - `{"t":"live"}` follows the history: from here on, batches are live.
//!
//! A slow browser never slows the pipeline: the hub's broadcast drops what this subscriber missed,
//! and this task catches it up from history.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::hub::{Entry, Hub};
use super::routes::AppState;
use super::UiOptions;

/// A batch grows up to about this many bytes of records before it is sent.
const BATCH_BYTES: usize = 256 * 1024;

/// `?run=R&after=I`: a page that reconnects resumes after the last record it has, if it is of this run.
#[derive(Deserialize)]
pub struct Resume {
    run: Option<String>,
    after: Option<u64>,
}

/// `POST /api/stream`: 204 when the page may open the stream. A page whose stream failed to open asks this, since a
/// browser never tells a page why: a POST carries the page's `Origin` as the WebSocket's request does (a GET from the
/// page's own origin carries none, so `/api/info` answers 200 to a page whose stream is refused for its origin), and
/// the guard in front answers it as it answered the stream (security.rs).
pub async fn check() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    Query(resume): Query<Resume>,
    ws: WebSocketUpgrade,
) -> Response {
    let hub = state.hub.clone();
    let shutdown = state.shutdown.subscribe();
    let source = source(&state.options);
    let catch_up = match resume {
        Resume { run: Some(run), after: Some(after) } if run == hub.run() && after > 0 => {
            Some(CatchUp { reason: "resume", missed: 0, after })
        }
        _ => None,
    };
    ws.on_upgrade(move |socket| async move {
        match run(socket, hub, source, catch_up, shutdown).await {
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

fn hello(run: &str, forgotten: u64, redacted: bool, source: &str) -> serde_json::Value {
    serde_json::json!({"t": "hello", "reason": "start", "run": run, "missed": 0, "forgotten": forgotten, "redacted": redacted, "source": source})
}

/// Where a page is caught up from: after the last record it has (`lag`: it fell behind; `resume`: it reconnected).
struct CatchUp {
    reason: &'static str,
    missed: u64,
    after: u64,
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

/// Sends the history (after `catch_up.after`, for a page that resumes), then forwards live records until the
/// browser leaves or the UI shuts down; a browser that lags is caught up from history, after the last record it was
/// sent.
async fn run(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    source: &'static str,
    mut catch_up: Option<CatchUp>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let redacted = hub.options().redacted;
    // The publication index of the last record this browser has.
    let mut last_sent: u64;
    loop {
        let mut subscription = hub.subscribe();
        // A page cannot have a record this run has not published yet: it starts over.
        catch_up = catch_up.filter(|c| c.after <= subscription.published);
        let after = catch_up.as_ref().map_or(0, |c| c.after);
        last_sent = after;
        let history: Vec<&Entry> = subscription.history.iter().filter(|e| e.index > after).collect();
        let mut hello = hello(hub.run(), subscription.forgotten, redacted, source);
        if let Some(c) = &catch_up {
            // Every record after `after` up to the snapshot is in history, unless it was trimmed.
            let lost = subscription.published.saturating_sub(after).saturating_sub(history.len() as u64);
            hello["reason"] = c.reason.into();
            hello["missed"] = c.missed.into();
            hello["after"] = after.into();
            hello["lost"] = lost.into();
            hello["history_frames"] = hub.options().history_limit.into();
            hello["trimmed"] = subscription
                .trimmed_frames
                .iter()
                .filter(|t| t.index > after)
                .map(|t| serde_json::json!([t.conn, t.seq]))
                .collect();
        }
        send_text(&mut socket, hello.to_string()).await?;
        let mut batch = String::new();
        for entry in history {
            last_sent = entry.index;
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
                    last_sent = entry.index;
                    push_item(&mut batch, &entry);
                    // Gather whatever else is already waiting into the same message.
                    let mut lagged = None;
                    while batch.len() < BATCH_BYTES {
                        match subscription.live.try_recv() {
                            Ok(entry) => {
                                last_sent = entry.index;
                                push_item(&mut batch, &entry);
                            }
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
            if let Some(missed) = lagged {
                tracing::debug!(missed, after = last_sent, "ui: a browser fell behind; catching it up from history");
                catch_up = Some(CatchUp { reason: "lag", missed, after: last_sent });
                break;
            }
        }
    }
}
