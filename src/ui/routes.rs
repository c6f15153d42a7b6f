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

const INDEX_HTML: Asset = Asset { content_type: "text/html; charset=utf-8", body: include_bytes!("assets/index.html") };
const TRY_HTML: Asset = Asset { content_type: "text/html; charset=utf-8", body: include_bytes!("assets/try.html") };
const APP_CSS: Asset = Asset { content_type: "text/css; charset=utf-8", body: include_bytes!("assets/app.css") };
const APP_JS: Asset = Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/app.js") };
const VIEWS_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/views.js") };
const TABLE_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/table.js") };
const CONNLIST_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/connlist.js") };
const PAYLOAD_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/payload.js") };
const CLOSECARD_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/closecard.js") };
const TOKENS_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/tokens.js") };
const CONNPANEL_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/connpanel.js") };
const PAGE_JS: Asset = Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/page.js") };
const STREAM_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/stream.js") };
const HASH_JS: Asset = Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/hash.js") };
const FILTERS_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/filters.js") };
const JSON_JS: Asset = Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/json.js") };
const TRY_JS: Asset = Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/try.js") };
const ICON_SVG: Asset = Asset { content_type: "image/svg+xml", body: include_bytes!("assets/icon.svg") };

fn asset(asset: &'static Asset) -> Response {
    ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(|| async { asset(&INDEX_HTML) }))
        .route("/try", get(|| async { asset(&TRY_HTML) }))
        .route("/assets/app.css", get(|| async { asset(&APP_CSS) }))
        .route("/assets/app.js", get(|| async { asset(&APP_JS) }))
        .route("/assets/views.js", get(|| async { asset(&VIEWS_JS) }))
        .route("/assets/table.js", get(|| async { asset(&TABLE_JS) }))
        .route("/assets/connlist.js", get(|| async { asset(&CONNLIST_JS) }))
        .route("/assets/payload.js", get(|| async { asset(&PAYLOAD_JS) }))
        .route("/assets/closecard.js", get(|| async { asset(&CLOSECARD_JS) }))
        .route("/assets/tokens.js", get(|| async { asset(&TOKENS_JS) }))
        .route("/assets/connpanel.js", get(|| async { asset(&CONNPANEL_JS) }))
        .route("/assets/page.js", get(|| async { asset(&PAGE_JS) }))
        .route("/assets/stream.js", get(|| async { asset(&STREAM_JS) }))
        .route("/assets/hash.js", get(|| async { asset(&HASH_JS) }))
        .route("/assets/filters.js", get(|| async { asset(&FILTERS_JS) }))
        .route("/assets/json.js", get(|| async { asset(&JSON_JS) }))
        .route("/assets/try.js", get(|| async { asset(&TRY_JS) }))
        .route("/favicon.ico", get(|| async { asset(&ICON_SVG) }))
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
    fn redacted(&self) -> bool {
        matches!(self.redacted.as_deref(), Some("1" | "true" | "yes"))
    }
}

/// One connection's records (after the capture's meta) as a capture file; `?redacted=1` masks secrets.
async fn download_capture(
    State(state): State<Arc<AppState>>,
    Path(conn): Path<ConnId>,
    Query(query): Query<DownloadQuery>,
) -> Response {
    downloads::download(&state.hub, conn, downloads::Format::Capture, query.redacted())
}

/// One connection as a HAR 1.2 file (Chrome-style WebSocket entry; imports back losslessly).
async fn download_har(
    State(state): State<Arc<AppState>>,
    Path(conn): Path<ConnId>,
    Query(query): Query<DownloadQuery>,
) -> Response {
    downloads::download(&state.hub, conn, downloads::Format::Har, query.redacted())
}
