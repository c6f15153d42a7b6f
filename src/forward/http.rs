//! HTTP/1.1 inside forward mode: requests from the browser (decrypted, or plain proxy requests) are
//! forwarded unchanged to their upstream; WebSocket upgrades to intercepted hosts go to the relay.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{combinators::BoxBody, BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::{watch, Mutex};

use super::connector::{Target, TlsHandshakeFailed, UpstreamConnector};
use super::io::Io;

/// The body type of every response forward mode sends back.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// A short plain-text response written by frametap itself (errors, refusals).
pub fn text_response(status: StatusCode, text: impl Into<String>) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(text.into() + "\n")).map_err(|never| match never {}).boxed();
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// Where a request goes: its absolute URI's authority if it has one, else the tunnel's target.
pub fn request_target<B>(req: &Request<B>, tunnel: Option<&Target>) -> Option<Target> {
    let uri = req.uri();
    if let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) {
        let tls = matches!(scheme, "https" | "wss");
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        return Some(Target { host, port, tls });
    }
    tunnel.cloned()
}

/// Turns a proxy request into the one the origin server expects: origin-form URI, a `Host` header,
/// and no proxy-only headers.
pub fn to_origin_request<B>(req: &mut Request<B>, target: &Target) {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    *req.uri_mut() = path.parse::<Uri>().unwrap_or_else(|_| Uri::from_static("/"));
    let headers = req.headers_mut();
    headers.remove("proxy-connection");
    headers.remove(header::PROXY_AUTHORIZATION);
    if !headers.contains_key(header::HOST) {
        if let Ok(host) = HeaderValue::from_str(&target.host_header()) {
            headers.insert(header::HOST, host);
        }
    }
}

/// One client connection's upstream HTTP connection, reused while requests go to the same target.
#[derive(Default)]
pub struct UpstreamSlot {
    current: Mutex<Option<(Target, hyper::client::conn::http1::SendRequest<Incoming>)>>,
}

/// Forwards `req` (already in origin form) to `target` and returns the upstream's response; an
/// upgrade (non-intercepted WebSocket) is passed through byte for byte after the 101.
pub async fn forward_request(
    mut req: Request<Incoming>,
    target: &Target,
    connector: &UpstreamConnector,
    slot: &UpstreamSlot,
) -> Response<ProxyBody> {
    let upgrade = is_upgrade(&req).then(|| hyper::upgrade::on(&mut req));
    let mut sender = match take_ready_sender(slot, target).await {
        Some(sender) => sender,
        None => match open_sender(target, connector).await {
            Ok(sender) => sender,
            Err(e) => {
                if e.is::<TlsHandshakeFailed>() {
                    // The host answered: the message says what to do about its TLS, not about reaching it.
                    crate::warning!("forward mode: {e:#}; the client got a 502");
                } else {
                    crate::warning!(
                        "forward mode: could not reach {}: {e:#}; the client got a 502 (check that the host is up \
                         and reachable from this machine, or --upstream-proxy if it is only reachable through one)",
                        target.authority()
                    );
                }
                let text = format!("frametap (forward mode): {e:#}");
                return text_response(StatusCode::BAD_GATEWAY, text);
            }
        },
    };
    let mut resp = match sender.send_request(req).await {
        Ok(resp) => resp,
        Err(e) => {
            let e = crate::proxy::upstream::with_causes(&e);
            crate::warning!(
                "forward mode: {} failed the request: {e}; the client got a 502 (the server closed or reset the \
                 connection before answering: its own logs say why)",
                target.authority()
            );
            let text = format!("frametap: {} failed the request: {e}", target.authority());
            return text_response(StatusCode::BAD_GATEWAY, text);
        }
    };
    match upgrade {
        Some(client_side) if resp.status() == StatusCode::SWITCHING_PROTOCOLS => {
            let server_side = hyper::upgrade::on(&mut resp);
            tokio::spawn(splice_upgrade(client_side, server_side));
        }
        _ => *slot.current.lock().await = Some((target.clone(), sender)),
    }
    resp.map(|body| body.boxed())
}

fn is_upgrade<B>(req: &Request<B>) -> bool {
    req.headers().contains_key(header::UPGRADE)
}

async fn take_ready_sender(
    slot: &UpstreamSlot,
    target: &Target,
) -> Option<hyper::client::conn::http1::SendRequest<Incoming>> {
    let (current_target, mut sender) = slot.current.lock().await.take()?;
    if &current_target != target {
        return None;
    }
    sender.ready().await.ok()?;
    Some(sender)
}

async fn open_sender(
    target: &Target,
    connector: &UpstreamConnector,
) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Incoming>> {
    let io = connector.connect(target).await?;
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_headers(crate::proxy::MAX_HEADERS)
        .handshake(TokioIo::new(io))
        .await?;
    let authority = target.authority();
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(upstream = %authority, "upstream HTTP connection ended: {e}");
        }
    });
    Ok(sender)
}

async fn splice_upgrade(client: hyper::upgrade::OnUpgrade, server: hyper::upgrade::OnUpgrade) {
    let (client, server) = match tokio::try_join!(client, server) {
        Ok(both) => both,
        Err(e) => {
            tracing::debug!("upgrade passthrough did not start: {e}");
            return;
        }
    };
    let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
        tracing::debug!("upgrade passthrough ended: {e}");
    }
}

/// Serves the HTTP/1.1 requests arriving on `io`. `tunnel` is the CONNECT target when `io` is the
/// inside of a tunnel (requests in origin form); `None` for a plain proxy connection (absolute form).
/// A request head must arrive within `header_timeout` (idle keep-alive connections end after it). Returns how
/// hyper's serving ended (a request it refused is an error: see [`crate::proxy::refused_head`]).
pub async fn serve_http<F, Fut>(
    io: impl Io,
    tunnel: Option<Target>,
    header_timeout: std::time::Duration,
    mut shutdown: watch::Receiver<bool>,
    handle: F,
) -> hyper::Result<()>
where
    F: Fn(Request<Incoming>, Target) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let handle = Arc::new(handle);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let handle = handle.clone();
        let target = request_target(&req, tunnel.as_ref());
        async move {
            Ok::<_, std::convert::Infallible>(match target {
                Some(target) => handle(req, target).await,
                None => text_response(
                    StatusCode::BAD_REQUEST,
                    "frametap is running as an HTTP proxy here: send absolute URLs (GET http://host/…) \
                     or CONNECT host:port, or configure it as your browser's proxy",
                ),
            })
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .max_headers(crate::proxy::MAX_HEADERS)
        .max_buf_size(crate::proxy::refused_head::MAX_HEAD_BYTES)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = &mut conn => result,
        () = crate::proxy::stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}
