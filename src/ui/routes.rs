//! The UI's HTTP routes: embedded pages and assets, the live stream, history and downloads.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde::Deserialize;

use super::downloads;
use super::hub::{self, Hub};
use super::security::{self, HostPolicy};
use super::{stream, UiOptions};
use crate::event::ConnId;

/// What every handler shares.
pub struct AppState {
    pub hub: Arc<Hub>,
    pub options: UiOptions,
    pub hosts: HostPolicy,
    /// Name of the cookie that carries the access token.
    pub cookie: String,
    /// Set to true when the UI shuts down, so live streams end and the server can stop.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

/// A file embedded in the binary.
struct Asset {
    content_type: &'static str,
    body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// Every embedded file, by the path it is served at: the pages, the stylesheet, the page's JavaScript modules
/// (docs/ui.md lists what each is for) and the icon.
const ASSETS: &[(&str, Asset)] = &[
    ("/", Asset { content_type: HTML, body: include_bytes!("assets/index.html") }),
    ("/try", Asset { content_type: HTML, body: include_bytes!("assets/try.html") }),
    ("/assets/app.css", Asset { content_type: "text/css; charset=utf-8", body: include_bytes!("assets/app.css") }),
    ("/assets/app.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/app.js") }),
    ("/assets/views.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/views.js") }),
    ("/assets/table.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/table.js") }),
    ("/assets/connlist.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/connlist.js") }),
    ("/assets/payload.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/payload.js") }),
    ("/assets/closecard.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/closecard.js") }),
    ("/assets/tokens.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/tokens.js") }),
    ("/assets/connpanel.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/connpanel.js") }),
    ("/assets/page.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/page.js") }),
    ("/assets/stream.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/stream.js") }),
    ("/assets/hash.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/hash.js") }),
    ("/assets/filters.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/filters.js") }),
    ("/assets/json.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/json.js") }),
    ("/assets/try.js", Asset { content_type: JAVASCRIPT, body: include_bytes!("assets/try.js") }),
    ("/favicon.ico", Asset { content_type: "image/svg+xml", body: include_bytes!("assets/icon.svg") }),
];

fn asset(asset: &'static Asset) -> Response {
    ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
}

pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for (path, embedded) in ASSETS {
        router = router.route(path, get(move || async move { asset(embedded) }));
    }
    router
        .route("/api/info", get(info))
        .route("/api/stream", get(stream::upgrade).post(stream::check))
        .route("/api/history", get(history))
        .route("/api/conn/{conn}/capture", get(download_capture))
        .route("/api/conn/{conn}/har", get(download_har))
        .fallback(|| async { (StatusCode::NOT_FOUND, "frametap UI: no such page\n") })
        .layer(middleware::from_fn_with_state(state.clone(), security::guard))
        .with_state(state)
}

async fn info(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "frametap": env!("CARGO_PKG_VERSION"),
        "label": state.options.label,
        "source": stream::source(&state.options),
        "redacted": state.hub.options().redacted,
        "proxy_ws_url": state.options.try_target.as_ref().map(|target| &target.proxy_ws_url),
        "deployment_id": state.options.try_target.as_ref().and_then(|target| target.deployment_id.as_ref()),
        "capture": state.options.capture.as_ref().map(|path| path.display().to_string()),
        "downloads": { "capture": true, "redacted_capture": true, "har": true },
    }))
}

/// The whole history as capture JSON Lines (what a page starting afresh reads).
async fn history(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-ndjson")], hub::jsonl(&state.hub.history())).into_response()
}

#[derive(Deserialize)]
struct DownloadQuery {
    #[serde(default)]
    redacted: Option<String>,
}

impl DownloadQuery {
    /// Whether secrets are to be masked. A value that is neither yes nor no is refused (400): a download asked
    /// for redacted must never come back with the secrets in it.
    fn redacted(&self) -> Result<bool, String> {
        match self.redacted.as_deref() {
            None | Some("0" | "false" | "no") => Ok(false),
            Some("1" | "true" | "yes") => Ok(true),
            Some(other) => Err(format!(
                "frametap UI: `redacted` is {other:?}: give redacted=1 to mask secrets, or leave it out for the file as \
                 recorded\n"
            )),
        }
    }

    /// Connection `conn` as a `format` download, or the 400 for a `redacted` value that is neither yes nor no.
    fn download(&self, state: &AppState, conn: ConnId, format: downloads::Format) -> Response {
        match self.redacted() {
            Ok(redacted) => downloads::download(&state.hub, conn, format, redacted),
            Err(refused) => (StatusCode::BAD_REQUEST, refused).into_response(),
        }
    }
}

/// One connection's records (after the capture's meta) as a capture file; `?redacted=1` masks secrets.
async fn download_capture(
    State(state): State<Arc<AppState>>,
    Path(conn): Path<ConnId>,
    Query(query): Query<DownloadQuery>,
) -> Response {
    query.download(&state, conn, downloads::Format::Capture)
}

/// One connection as a HAR 1.2 file (Chrome-style WebSocket entry; imports back losslessly).
async fn download_har(
    State(state): State<Arc<AppState>>,
    Path(conn): Path<ConnId>,
    Query(query): Query<DownloadQuery>,
) -> Response {
    query.download(&state, conn, downloads::Format::Har)
}
