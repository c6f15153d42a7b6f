//! The client leg: hyper serves the upgrade request, frametap dials the upstream, answers the client with
//! the upstream's answer, then hands both upgraded streams to the relay.

use super::backend::Backend;
use super::headers::{client_response_headers, upstream_request_headers, RequestChanges};
use super::relay::{relay, Ends};
use super::stream::RelayStream;
use super::upstream::{self, UpstreamAnswer, UpstreamBase};
use super::ProxyContext;
use crate::event::{millis, Headers, HttpRequest, HttpResponse, Note, NoteLevel, Open, Record, Ts};
use crate::pipeline::ConnSink;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Header pairs in the order hyper kept them (names lowercase; repeats kept).
pub fn header_pairs(map: &HeaderMap) -> Headers {
    map.iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

/// A client's upgrade request headers as recorded and relayed: [`header_pairs`] without frametap's own UI cookie
/// ([`super::headers::without_ui_cookie`]).
pub fn client_headers(map: &HeaderMap) -> Headers {
    super::headers::without_ui_cookie(header_pairs(map))
}

/// True for a GET with `Upgrade: websocket` and `Connection: upgrade`.
pub fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    let has = |name: &str, token: &str| {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    req.method() == http::Method::GET && has("upgrade", "websocket") && has("connection", "upgrade")
}

/// The headers of a `101 Switching Protocols` answer to an upgrade request with this `Sec-WebSocket-Key`.
pub fn switching_protocols_headers(client_key: &[u8]) -> Vec<(String, String)> {
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(client_key);
    vec![
        ("upgrade".to_owned(), "websocket".to_owned()),
        ("connection".to_owned(), "Upgrade".to_owned()),
        ("sec-websocket-accept".to_owned(), accept),
    ]
}

/// The client's stream once hyper has sent the 101 on it, with the bytes it read past the request; `None`
/// (logged for connection `conn`) when the upgrade did not complete. The request is taken by value and dropped
/// here: kept for the relay's lifetime, it kept the HTTP/1 connection's state that served it (hyper's buffers and
/// task, about 9 KB) allocated too (tests/idle_memory.rs).
pub async fn upgraded_client<IO: RelayStream>(req: Request<Incoming>, conn: u64) -> Option<(IO, Bytes)> {
    let upgraded = match hyper::upgrade::on(req).await {
        Ok(upgraded) => upgraded,
        Err(e) => {
            crate::warning!(
                "connection #{conn}: the client's upgrade did not complete ({e}): nothing was relayed for it"
            );
            return None;
        }
    };
    let Ok(parts) = upgraded.downcast::<TokioIo<IO>>() else {
        tracing::error!(conn, "internal: unexpected client stream type after upgrade");
        return None;
    };
    Some((parts.io.into_inner(), parts.read_buf))
}

fn text_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

fn build_response(status: u16, headers: &Headers, body: Bytes) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(body)).unwrap_or_else(|e| {
        text_response(StatusCode::BAD_GATEWAY, format!("frametap could not relay the upstream's response: {e}\n"))
    })
}

/// Serves one client TCP (or TLS) connection: HTTP/1.1 until it upgrades. WebSocket upgrades go to `backend`;
/// other requests get a `426` with the backend's page.
pub async fn serve_client<IO: RelayStream, B: Backend>(
    io: IO,
    client_addr: SocketAddr,
    ctx: Arc<ProxyContext>,
    backend: Arc<B>,
) {
    let service_ctx = ctx.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (ctx, backend) = (service_ctx.clone(), backend.clone());
        async move { Ok::<_, std::convert::Infallible>(handle::<IO, B>(req, client_addr, ctx, &backend).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .max_headers(super::MAX_HEADERS)
        .max_buf_size(super::refused_head::MAX_HEAD_BYTES)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(ctx.config.handshake_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let mut shutdown = ctx.shutdown.clone();
    let result = tokio::select! {
        result = &mut connection => result,
        () = super::stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    super::refused_head::note_http_end(&ctx.sink, result, client_addr).await;
}

async fn handle<IO: RelayStream, B: Backend>(
    req: Request<Incoming>,
    client_addr: SocketAddr,
    ctx: Arc<ProxyContext>,
    backend: &B,
) -> Response<Full<Bytes>> {
    if !is_websocket_upgrade(&req) {
        return text_response(StatusCode::UPGRADE_REQUIRED, backend.not_an_upgrade(&ctx));
    }
    backend.upgrade::<IO>(req, client_addr, None, ctx).await
}

/// The client's `Sec-WebSocket-Key`, or the answer to an upgrade request no WebSocket server would accept, as RFC
/// 6455 §4.2.2 has a server answer it (400 without a `Sec-WebSocket-Key`; 426 with the version it speaks for a
/// `Sec-WebSocket-Version` other than 13). A refusal is recorded as a session note (`upgrade-malformed`): the request
/// never reaches the upstream, and a client that was refused must not go unseen.
async fn client_key_or_refusal(
    req: &Request<Incoming>,
    client_addr: SocketAddr,
    ctx: &ProxyContext,
) -> Result<http::HeaderValue, Response<Full<Bytes>>> {
    let version =
        req.headers().get("sec-websocket-version").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let key = req.headers().get("sec-websocket-key");
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let placeholder = super::refused_head::encoded_placeholder(target).map(|placeholder| {
        let how = if target.contains(placeholder.as_str()) { "as printed" } else { "percent-encoded" };
        format!(
            "its request target holds `{placeholder}` ({how}), a placeholder copied from the banner: replace it with {}",
            super::refused_head::REAL_TARGET
        )
    });
    let (status, why) = match (key, version.filter(|v| v.trim() != "13")) {
        _ if placeholder.is_some() => (StatusCode::BAD_REQUEST, placeholder.unwrap_or_default()),
        (None, _) => (StatusCode::BAD_REQUEST, "it has no Sec-WebSocket-Key header".to_owned()),
        (Some(_), Some(version)) => (
            StatusCode::UPGRADE_REQUIRED,
            format!("it asks for WebSocket version {version:?}; RFC 6455 (and frametap) speak version 13"),
        ),
        (Some(key), None) => return Ok(key.clone()),
    };
    let message = format!(
        "refused {client_addr}'s upgrade request for {}: {why}; answered {status}, nothing was sent upstream",
        crate::inspect::one_line(target)
    );
    let note = Note::warn("upgrade-malformed", None, Ts::now(), message);
    ctx.sink.emit(Record::Note(note)).await;
    let mut response = text_response(status, format!("frametap: the upgrade request is not one to relay: {why}\n"));
    if status == StatusCode::UPGRADE_REQUIRED {
        response.headers_mut().insert("sec-websocket-version", http::HeaderValue::from_static("13"));
    }
    Err(response)
}

/// Relays one WebSocket upgrade request (served by hyper on an `IO` connection) to `base`: dials it,
/// answers the client with the upstream's answer, and on 101 runs the relay in its own task. The
/// [`Relay`](super::backend::Relay) backend calls this, in forward mode with the upstream taken from each CONNECT.
pub async fn relay_upgrade<IO: RelayStream>(
    req: Request<Incoming>,
    client_addr: SocketAddr,
    base: &UpstreamBase,
    ctx: Arc<ProxyContext>,
) -> Response<Full<Bytes>> {
    let client_key = match client_key_or_refusal(&req, client_addr, &ctx).await {
        Ok(key) => key,
        Err(refused) => return refused,
    };
    let sink = ctx.sink.connection();
    let conn = sink.conn();
    let ts = Ts::now();
    let opened = Instant::now();
    let path = req.uri().path_and_query().map_or("/".to_owned(), |pq| pq.as_str().to_owned());
    let request =
        HttpRequest { method: req.method().to_string(), path: path.clone(), headers: client_headers(req.headers()) };
    let (upstream_headers, changes) =
        upstream_request_headers(&request.headers, ctx.config.forward_cookies, &ctx.config.set_headers);
    let upstream_url = base.url_for(&path);
    let mut open = Open {
        client_addr: Some(client_addr.to_string()),
        upstream: Some(upstream_url.clone()),
        ..Open::new(conn, ts, request)
    };
    // Counted from here, not from the upgrade: shutdown waits for a connection still waiting for its upstream,
    // which then ends with its own `open` record instead of vanishing from the capture.
    let guard = ctx.track_relay();
    let mut shutdown = ctx.shutdown.clone();
    let answer = tokio::select! {
        answer = upstream::open(
            base,
            &path,
            &upstream_headers,
            &ctx.config.tls,
            &ctx.config.upstream_proxies,
            ctx.config.handshake_timeout,
        ) => answer,
        () = super::stopped(&mut shutdown) => Err(upstream::DialError::Stopped),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            let message = e.to_string();
            open.upstream_request = e.sent_headers().map(|headers| HttpRequest {
                method: "GET".into(),
                path: base.target(&path),
                headers: headers.clone(),
            });
            // A 101 that opened no WebSocket is kept as it came, next to the error saying why.
            open.response = e.answer();
            open.error = Some(message.clone());
            open.failed_ms = Some(millis(opened.elapsed()));
            emit_handshake(&sink, open, &changes, Vec::new()).await;
            return text_response(
                StatusCode::BAD_GATEWAY,
                format!("frametap could not open {upstream_url}: {message}\n"),
            );
        }
    };
    open.upstream_request =
        Some(HttpRequest { method: "GET".into(), path: base.target(&path), headers: answer.sent_headers.clone() });
    open.handshake_ms = Some(millis(answer.round_trip));
    open.upstream_tcp_rtt_ms = answer.tcp_rtt_ms;
    let UpstreamAnswer { status, headers, body, upgraded, .. } = answer;
    let Some((server, server_prefix)) = upgraded else {
        let body = body.unwrap_or_default();
        open.response = Some(response_record(status, &headers, &body));
        open.failed_ms = Some(millis(opened.elapsed()));
        emit_handshake(&sink, open, &changes, Vec::new()).await;
        return build_response(status, &client_response_headers(&headers), body);
    };
    open.response = Some(response_record(status, &headers, &[]));
    let mut warnings: Vec<String> = crate::inspect::handshake::problems(&open)
        .into_iter()
        .map(|p| format!("{p}: a browser fails this connection at once (the page sees 1006); frametap relays the answer as it came"))
        .collect();
    if let Some(extensions) = crate::inspect::handshake::unoffered_extensions(&open) {
        warnings.push(format!("{extensions}: frametap removed the client's offer, so it does not pass that header on; a compressed frame (RSV1 set) from the upstream will break the connection"));
    }
    // The 101 goes to the client as this function returns.
    open.upgraded_ms = Some(millis(opened.elapsed()));
    emit_handshake(&sink, open, &changes, warnings).await;

    let mut to_client = switching_protocols_headers(client_key.as_bytes());
    to_client.extend(client_response_headers(&headers));
    let response = build_response(101, &to_client, Bytes::new());

    tokio::spawn(async move {
        let _guard = guard;
        let Some((client, client_prefix)) = upgraded_client::<IO>(req, conn).await else { return };
        let ends = Ends { client, client_prefix, server, server_prefix };
        let close = relay(ends, &sink, ctx.config.relay, ctx.shutdown.clone(), opened).await;
        sink.emit(Record::Close(close)).await;
    });
    response
}

fn response_record(status: u16, headers: &Headers, body: &[u8]) -> HttpResponse {
    let (text, base64) = match (status, std::str::from_utf8(body)) {
        (101, _) => (None, None),
        (_, Ok(text)) => (Some(text.to_owned()), None),
        (_, Err(_)) => (None, Some(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body))),
    };
    HttpResponse { status, headers: headers.clone(), body: text, body_base64: base64 }
}

/// A connection's `open` record and, right after it, the notes about its handshake: what frametap changed in
/// the request, and `handshake_warnings` about the upstream's answer (`handshake-mismatch`). Emitted as one
/// batch, so the diagnosis of an upgrade that failed (derived from its `open`) follows the notes.
async fn emit_handshake(sink: &ConnSink, open: Open, changes: &RequestChanges, handshake_warnings: Vec<String>) {
    // Compression is off "on both legs" only once there are legs; for an upgrade that failed, what the request
    // sent upstream lacked (nothing, when none was sent: the upstream could not be reached).
    let opened = open.error.is_none() && open.response.as_ref().is_some_and(|r| r.status == 101);
    let sent = open.upstream_request.is_some();
    let mut records = vec![Record::from(open)];
    let mut note = |code: &str, level: NoteLevel, message: String| {
        records.push(Record::Note(Note::new(code, level, Some(sink.conn()), Ts::now(), message)));
    };
    match &changes.extensions_dropped {
        Some(offered) if opened => note("compression-off", NoteLevel::Info, format!(
            "the client offered {offered:?}; frametap removed Sec-WebSocket-Extensions so compression is off on both legs and every frame stays readable"
        )),
        Some(offered) if sent => note("compression-off", NoteLevel::Info, format!(
            "the client offered {offered:?}; frametap removed Sec-WebSocket-Extensions from the request it sent upstream, so that every frame would stay readable"
        )),
        _ => {}
    }
    if changes.cookies_dropped > 0 {
        let dropped = match changes.cookies_dropped {
            1 => "the client's Cookie header".to_owned(),
            n => format!("the client's {n} Cookie headers"),
        };
        let message = format!(
            "dropped {dropped}: cookies a browser sends to 127.0.0.1 belong to your other local apps, not the upstream (--forward-cookies sends them)"
        );
        note("cookies-dropped", NoteLevel::Info, message);
    }
    for message in handshake_warnings {
        note("handshake-mismatch", NoteLevel::Warn, message);
    }
    sink.emit_all(&mut records).await;
}
