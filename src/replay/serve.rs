//! `replay serve`: a fake upstream. Every WebSocket client it accepts gets the recorded handshake answer, then
//! the recorded server side of one connection, played against the client's frames by [`super::player`].

use super::player::{play, PlayOptions, PlayReport};
use super::script::Script;
use crate::event::{Headers, HttpRequest, HttpResponse, Note, Open, Peer, Record, Ts};
use crate::pipeline::EventSink;
use crate::proxy::headers::client_response_headers;
use crate::proxy::server::header_pairs;
use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// How `replay serve` treats each client.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub play: PlayOptions,
    /// How long a client may take to send its upgrade request.
    pub handshake_timeout: Duration,
}

struct ServeContext {
    script: Script,
    options: ServeOptions,
    sink: EventSink,
    shutdown: watch::Receiver<bool>,
    reports: Option<mpsc::UnboundedSender<PlayReport>>,
    active: watch::Sender<usize>,
}

/// Serves `script` to every client on `listener` until `shutdown` resolves, then closes open connections with
/// 1001 and waits (up to the close timeout) for them. Each finished connection's report goes to `reports`.
pub async fn serve(
    listener: TcpListener,
    script: Script,
    options: ServeOptions,
    sink: EventSink,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reports: Option<mpsc::UnboundedSender<PlayReport>>,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let close_timeout = options.play.close_timeout;
    let ctx =
        Arc::new(ServeContext { script, options, sink, shutdown: stop_rx, reports, active: watch::Sender::new(0) });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_client(stream, addr, ctx.clone()));
                }
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    stop_tx.send_replace(true);
    let mut active = ctx.active.subscribe();
    let limit = close_timeout + crate::proxy::SHUTDOWN_GRACE;
    let _ = tokio::time::timeout(limit, active.wait_for(|n| *n == 0)).await;
    Ok(())
}

async fn serve_client(stream: TcpStream, client_addr: SocketAddr, ctx: Arc<ServeContext>) {
    let service_ctx = ctx.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let ctx = service_ctx.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(req, client_addr, ctx).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(ctx.options.handshake_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(e) = connection.await {
        tracing::debug!(%client_addr, "client HTTP connection ended: {e}");
    }
}

fn response(status: u16, headers: &Headers, body: Bytes) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(body)).unwrap_or_else(|e| {
        let mut fallback = Response::new(Full::new(Bytes::from(format!("the recorded answer cannot be sent: {e}\n"))));
        *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let headers = vec![("content-type".to_owned(), "text/plain; charset=utf-8".to_owned())];
    response(status.as_u16(), &headers, Bytes::from(body))
}

/// The recorded answer to the upgrade: status, end-to-end headers, body (a 502 naming the error when the
/// recorded upstream could not be reached).
fn recorded_answer(script: &Script) -> (u16, Headers, Bytes) {
    match &script.open.response {
        Some(recorded) => {
            let body = match (&recorded.body, &recorded.body_base64) {
                (Some(text), _) => Bytes::from(text.clone()),
                (None, Some(b64)) => base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default().into(),
                (None, None) => Bytes::new(),
            };
            (recorded.status, client_response_headers(&recorded.headers), body)
        }
        None => {
            let error = script.open.error.as_deref().unwrap_or("the capture records no answer");
            let upstream = script.open.upstream.as_deref().unwrap_or("the upstream");
            let headers = vec![("content-type".to_owned(), "text/plain; charset=utf-8".to_owned())];
            (502, headers, Bytes::from(format!("frametap could not open {upstream}: {error}\n")))
        }
    }
}

/// Takes the recorded subprotocol out of a 101 when this client did not offer it (a client fails a handshake
/// that names a subprotocol it did not ask for); says so.
fn unoffered_subprotocol(headers: &mut Headers, request: &Headers) -> Option<String> {
    let recorded = crate::event::header(headers, "sec-websocket-protocol")?.trim().to_owned();
    let offered = crate::inspect::handshake::values(request, "sec-websocket-protocol");
    if offered.contains(&recorded) {
        return None;
    }
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("sec-websocket-protocol"));
    let offered = if offered.is_empty() { "none".to_owned() } else { offered.join(", ") };
    Some(format!(
        "the recorded upstream chose the subprotocol {recorded:?}, which this client did not offer (it offered {offered}): the replay answers without one"
    ))
}

async fn handle(mut req: Request<Incoming>, client_addr: SocketAddr, ctx: Arc<ServeContext>) -> Response<Full<Bytes>> {
    if !crate::proxy::server::is_websocket_upgrade(&req) {
        return text(
            StatusCode::UPGRADE_REQUIRED,
            format!(
                "frametap replay serve: this address replays {} to WebSocket clients; connect with one.\n",
                ctx.script.label()
            ),
        );
    }
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return text(StatusCode::BAD_REQUEST, "frametap: the upgrade request has no Sec-WebSocket-Key header\n".into());
    };
    let conn = ctx.sink.next_conn_id();
    let path = req.uri().path_and_query().map_or("/".to_owned(), |pq| pq.as_str().to_owned());
    let request_headers = header_pairs(req.headers());
    let (status, mut headers, body) = recorded_answer(&ctx.script);
    let subprotocol_note = (status == 101).then(|| unoffered_subprotocol(&mut headers, &request_headers)).flatten();
    if status == 101 {
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let mut upgrade = vec![
            ("upgrade".to_owned(), "websocket".to_owned()),
            ("connection".to_owned(), "Upgrade".to_owned()),
            ("sec-websocket-accept".to_owned(), accept),
        ];
        upgrade.append(&mut headers);
        headers = upgrade;
    }
    let open = Open {
        conn,
        ts: Ts::now(),
        client_addr: Some(client_addr.to_string()),
        request: HttpRequest { method: req.method().to_string(), path: path.clone(), headers: request_headers },
        upstream: Some(format!("replay:{}", ctx.script.label())),
        upstream_request: None,
        response: Some(HttpResponse {
            status,
            headers: headers.clone(),
            body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
            body_base64: None,
        }),
        error: None,
        handshake_ms: None,
        failed_ms: None,
    };
    ctx.sink.emit(Record::from(open)).await;
    let path_note = (path != ctx.script.open.request.path)
        .then(|| format!("the client asked for {path}; the recording was of {}", ctx.script.open.request.path));
    for (code, message) in [("replay-path", path_note), ("replay-subprotocol", subprotocol_note)] {
        if let Some(message) = message {
            let note = Note { conn: Some(conn), ts: Ts::now(), level: "info".into(), code: code.into(), message };
            ctx.sink.emit(Record::Note(note)).await;
        }
    }
    if status != 101 {
        return response(status, &headers, body);
    }
    ctx.active.send_modify(|n| *n += 1);
    let task_ctx = ctx.clone();
    tokio::spawn(async move {
        let ctx = task_ctx;
        let upgraded = match hyper::upgrade::on(&mut req).await {
            Ok(upgraded) => Some(upgraded),
            Err(e) => {
                tracing::warn!(conn, "the client's upgrade did not complete: {e}");
                None
            }
        };
        if let Some(parts) = upgraded.and_then(|u| u.downcast::<TokioIo<TcpStream>>().ok()) {
            let report = play(
                parts.io.into_inner(),
                parts.read_buf,
                ctx.script.steps(Peer::Server),
                ctx.script.end(),
                Peer::Server,
                conn,
                ctx.sink.clone(),
                ctx.options.play.clone(),
                ctx.shutdown.clone(),
            )
            .await;
            if let Some(reports) = &ctx.reports {
                let _ = reports.send(report);
            }
        }
        ctx.active.send_modify(|n| *n -= 1);
    });
    response(101, &headers, Bytes::new())
}
