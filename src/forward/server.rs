//! The forward-mode listener: the browser's HTTP proxy. CONNECT to an intercepted host is terminated
//! (TLS with a leaf from the local CA, or plaintext — told apart by sniffing), CONNECT to any other host
//! is tunnelled blind, and plain proxy requests (`GET http://…`, `ws://` upgrades) are served directly.
//! WebSocket upgrades to intercepted hosts go to a [`Backend`]: the relay (`proxy --forward`) or a replay
//! (`replay serve --forward`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::LazyConfigAcceptor;
use tracing::Instrument as _;

use super::connector::{Target, UpstreamConnector};
use super::head::{read_request_head, HeadTooLarge, MalformedHead, RequestHead};
use super::http::{forward_request, serve_http, to_origin_request, ProxyBody, UpstreamSlot};
use super::intercept::InterceptRules;
use super::io::{looks_like_tls, PrefixedIo};
use crate::pipeline::EventSink;
use crate::proxy::server::is_websocket_upgrade;
use crate::proxy::stream::RelayStream;
use crate::proxy::upstream::UpstreamBase;
use crate::proxy::{accept_loop, Backend, ProxyConfig, ProxyContext, Relay};
use crate::tls::LeafIssuer;

/// What forward mode adds to a [`ProxyConfig`] (whose `upstream` it ignores: each CONNECT names its own).
pub struct ForwardOptions {
    /// Which CONNECT hosts are terminated and their WebSockets relayed (`--intercept`).
    pub intercept: InterceptRules,
    /// Leaf certificates for the hosts it terminates.
    pub issuer: Arc<LeafIssuer>,
}

/// Shared by all connections of one forward-mode listener.
struct ForwardProxy<B> {
    options: ForwardOptions,
    /// Answers the WebSocket upgrades to intercepted hosts.
    backend: Arc<B>,
    connector: UpstreamConnector,
    ctx: Arc<ProxyContext>,
    /// The hosts whose failed TLS handshake with the client was warned about: a browser that does not trust the
    /// local CA retries, and one warning per host says it.
    untrusted_warned: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Serves forward mode on `listener` until `shutdown` resolves, then closes relayed WebSockets with
/// 1001 and waits for them, like [`crate::proxy::serve`]. `config.upstream` is not used.
pub async fn serve(
    listener: TcpListener,
    options: ForwardOptions,
    config: ProxyConfig,
    sink: EventSink,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_backend(listener, options, Arc::new(Relay), config, sink, shutdown).await
}

/// [`serve`] with the WebSocket upgrades to intercepted hosts, and their other requests, answered by `backend`
/// (`replay serve --forward` passes its replay).
pub async fn serve_backend<B: Backend>(
    listener: TcpListener,
    options: ForwardOptions,
    backend: Arc<B>,
    config: ProxyConfig,
    sink: EventSink,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = ProxyContext::new(config, sink, stop_rx);
    let connector = UpstreamConnector {
        proxies: ctx.config.upstream_proxies.clone(),
        tls: ctx.config.tls.clone(),
        connect_timeout: ctx.config.handshake_timeout,
    };
    let proxy =
        Arc::new(ForwardProxy { options, backend, connector, ctx: ctx.clone(), untrusted_warned: Default::default() });
    accept_loop(&listener, &ctx, shutdown, |tcp, peer, _| {
        let proxy = proxy.clone();
        let task = async move {
            if let Err(e) = handle_client(tcp, peer, proxy).await {
                tracing::info!("forward-mode connection from {peer} ended: {e:#}");
            }
        };
        tokio::spawn(task.instrument(tracing::debug_span!("forward", %peer)));
    })
    .await;
    drop(listener);
    ctx.close_all(stop_tx).await;
    Ok(())
}

/// The `upstream` of a forward-mode [`ProxyConfig`]: a label only (each CONNECT names the real one).
pub fn forward_upstream_label() -> UpstreamBase {
    UpstreamBase::named("forward mode (each CONNECT host)")
}

async fn handle_client<B: Backend>(
    mut tcp: TcpStream,
    peer: SocketAddr,
    proxy: Arc<ForwardProxy<B>>,
) -> anyhow::Result<()> {
    let handshake_timeout = proxy.ctx.config.handshake_timeout;
    let head = match tokio::time::timeout(handshake_timeout, read_request_head(&mut tcp))
        .await
        .context("the client sent no complete request in time")?
    {
        Ok(head) => head,
        Err(e) => {
            // A head that is no HTTP request (`CONNECT a b:443 HTTP/1.1`) or too large is answered, so the client
            // learns why, and noted, as hyper's refusals are (`request-refused`).
            use crate::proxy::refused_head::{note_refused, SMALLER_HEAD};
            let sink = &proxy.ctx.sink;
            if let Some(malformed) = e.downcast_ref::<MalformedHead>() {
                tcp.write_all(refusal(400, "Bad Request", &malformed.to_string()).as_bytes()).await.ok();
                let what = format!("it is not an HTTP/1.1 request ({malformed})");
                note_refused(
                    sink,
                    peer,
                    "frametap answered 400 Bad Request",
                    &what,
                    "Check what the client sends to this proxy.",
                )
                .await;
            } else if let Some(too_large) = e.downcast_ref::<HeadTooLarge>() {
                tcp.write_all(refusal(431, "Request Header Fields Too Large", &too_large.to_string()).as_bytes())
                    .await
                    .ok();
                let answer = "frametap answered 431 Request Header Fields Too Large";
                note_refused(sink, peer, answer, &too_large.to_string(), SMALLER_HEAD).await;
            }
            return Err(e);
        }
    };
    let Some(head) = head else { return Ok(()) };
    if head.method.eq_ignore_ascii_case("CONNECT") {
        return handle_connect(tcp, peer, head, proxy).await;
    }
    let mut replay = head.raw;
    replay.extend_from_slice(&head.leftover);
    serve_client(PrefixedIo::new(replay, tcp), peer, None, proxy).await;
    Ok(())
}

async fn handle_connect<B: Backend>(
    mut tcp: TcpStream,
    peer: SocketAddr,
    head: RequestHead,
    proxy: Arc<ForwardProxy<B>>,
) -> anyhow::Result<()> {
    let handshake_timeout = proxy.ctx.config.handshake_timeout;
    let (host, port) = match parse_connect_target(&head.target) {
        Ok(target) => target,
        Err(reason) => {
            tcp.write_all(refusal(400, "Bad Request", &reason).as_bytes()).await?;
            anyhow::bail!("{reason}");
        }
    };
    if !proxy.options.intercept.matches(&host) {
        if let Some(hint) = proxy.options.intercept.default_host_hint(&host) {
            tracing::info!("{hint}");
        }
        return tunnel_blind(tcp, head.leftover, host, port, &proxy).await;
    }
    tcp.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    let mut first = head.leftover;
    if first.is_empty() {
        let mut buf = vec![0u8; 2048];
        let n = tokio::time::timeout(handshake_timeout, tcp.read(&mut buf))
            .await
            .context("the client sent nothing through the tunnel in time")??;
        if n == 0 {
            return Ok(());
        }
        buf.truncate(n);
        first = buf;
    }
    let is_tls = looks_like_tls(&first);
    let inner = PrefixedIo::new(first, tcp);
    if !is_tls {
        tracing::debug!(%host, port, "plaintext inside CONNECT");
        serve_client(inner, peer, Some(Target { host, port, tls: false }), proxy).await;
        return Ok(());
    }
    let accept = async {
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), inner).await?;
        let sni = start.client_hello().server_name().map(str::to_string);
        let name = sni.as_deref().unwrap_or(&host);
        let config = proxy.options.issuer.server_config_for(name).map_err(std::io::Error::other)?;
        start.into_stream(config).await
    };
    let tls = match tokio::time::timeout(handshake_timeout, accept)
        .await
        .context("TLS handshake with the client timed out")?
    {
        Ok(tls) => tls,
        Err(e) if !first_for(&proxy.untrusted_warned, &host) => {
            tracing::debug!(%peer, %host, "TLS handshake with the client failed again: {e}");
            return Ok(());
        }
        Err(e) => {
            // What a browser that does not trust the local CA does: said as frametap's other warnings are, not as a
            // log line of the module, since nothing else tells the user why the page's WebSocket never opened; once
            // per host, since a browser retries.
            crate::notice!(
                "frametap: warning: forward mode: the TLS handshake with {peer} for {host} failed ({e}): a browser \
                 that does not trust the local CA ends it so; trust it (`frametap certs show` prints its path, and \
                 the SPKI flag for a throw-away Chromium; docs/tls.md, \"Using it with a browser\")"
            );
            return Ok(());
        }
    };
    tracing::debug!(%host, port, "terminated TLS inside CONNECT");
    serve_client(tls, peer, Some(Target { host, port, tls: true }), proxy).await;
    Ok(())
}

/// True the first time `host` is asked about (it is then remembered).
fn first_for(seen: &std::sync::Mutex<std::collections::HashSet<String>>, host: &str) -> bool {
    seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(host.to_ascii_lowercase())
}

/// Serves HTTP requests on a client stream: WebSocket upgrades to intercepted hosts go to the backend (the
/// relay, exactly as in reverse mode: logged, diagnosed, captured; or a replay), other requests to intercepted
/// hosts are the backend's to answer or forward, and everything else is forwarded unchanged.
async fn serve_client<IO: RelayStream, B: Backend>(
    io: IO,
    peer: SocketAddr,
    tunnel: Option<Target>,
    proxy: Arc<ForwardProxy<B>>,
) {
    let slot = Arc::new(UpstreamSlot::default());
    let shutdown = proxy.ctx.shutdown.clone();
    let header_timeout = proxy.ctx.config.handshake_timeout;
    let ctx = proxy.ctx.clone();
    let result = serve_http(io, tunnel, header_timeout, shutdown, move |mut req, target| {
        let (proxy, slot) = (proxy.clone(), slot.clone());
        async move {
            let intercepted = proxy.options.intercept.matches(&target.host);
            let websocket = intercepted && is_websocket_upgrade(&req);
            to_origin_request(&mut req, &target);
            if websocket {
                let answer = proxy.backend.upgrade::<IO>(req, peer, Some(target), proxy.ctx.clone()).await;
                return answer.map(boxed);
            }
            if let Some(answer) = intercepted.then(|| proxy.backend.other_request(&req, &target)).flatten() {
                return answer.map(boxed);
            }
            forward_request(req, &target, &proxy.connector, &slot).await
        }
    })
    .await;
    crate::proxy::refused_head::note_http_end(&ctx.sink, result, peer).await;
}

/// A body frametap wrote itself, as the body type forward mode answers with.
fn boxed(body: Full<Bytes>) -> ProxyBody {
    body.map_err(|never| match never {}).boxed()
}

async fn tunnel_blind<B>(
    mut tcp: TcpStream,
    early: Vec<u8>,
    host: String,
    port: u16,
    proxy: &ForwardProxy<B>,
) -> anyhow::Result<()> {
    let target = Target { host, port, tls: port != 80 };
    let mut upstream = match proxy.connector.connect_tcp(&target).await {
        Ok(upstream) => upstream,
        Err(e) => {
            let e = anyhow::anyhow!("{e:#}; {}", proxy.options.intercept.tunnelled_note(&target.host));
            let body = format!("frametap (forward mode): {e:#}\n");
            let resp = format!(
                "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            tcp.write_all(resp.as_bytes()).await?;
            return Err(e);
        }
    };
    tcp.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    upstream.write_all(&early).await?;
    tracing::debug!(target = %target.authority(), "blind tunnel");
    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut upstream).await;
    Ok(())
}

/// Splits a CONNECT target `host:port` / `[v6]:port` (the port is required, and is not 0). The error is the
/// reason a client gets with its `400`.
pub fn parse_connect_target(target: &str) -> Result<(String, u16), String> {
    const EXPECTED: &str = "expected host:port, e.g. example.com:443 or [::1]:443";
    let (host, port) = if let Some(bracketed) = target.strip_prefix('[') {
        let Some((v6, rest)) = bracketed.split_once(']') else {
            return Err(format!("CONNECT target {target:?} has an unbalanced '[' ({EXPECTED})"));
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("CONNECT target {target:?}: {v6:?} in brackets is not an IPv6 address"));
        }
        let Some(port) = rest.strip_prefix(':') else {
            return Err(format!("CONNECT target {target:?} has no port after the ']' ({EXPECTED})"));
        };
        (v6, port)
    } else {
        let Some((host, port)) = target.rsplit_once(':') else {
            return Err(format!("CONNECT target {target:?} has no port ({EXPECTED})"));
        };
        if host.contains(':') {
            return Err(format!("CONNECT target {target:?}: an IPv6 address needs brackets ({EXPECTED})"));
        }
        if host.contains(['[', ']']) {
            return Err(format!("CONNECT target {target:?} has an unbalanced ']' ({EXPECTED})"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(format!("CONNECT target {target:?} has no host ({EXPECTED})"));
    }
    match port.parse::<u16>() {
        Ok(0) => Err(format!("CONNECT target {target:?}: port 0 cannot be connected to")),
        Ok(port) => Ok((host.to_ascii_lowercase(), port)),
        Err(_) => Err(format!("CONNECT target {target:?}: {port:?} is not a port number (1-65535)")),
    }
}

/// A `400 Bad Request` whose plain-text body says why, closing the connection.
/// frametap's own answer refusing a request: `status` `reason`, and why as a plain-text body.
fn refusal(status: u16, reason: &str, why: &str) -> String {
    let body = format!("frametap (forward mode): {why}\n");
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_targets_need_a_host_and_a_port() {
        assert_eq!(parse_connect_target("a.test:443"), Ok(("a.test".into(), 443)));
        assert_eq!(parse_connect_target("A.Test:443"), Ok(("a.test".into(), 443)));
        assert_eq!(parse_connect_target("[::1]:8443"), Ok(("::1".into(), 8443)));
        for (bad, reason) in [
            ("a.test", "has no port"),
            (":443", "has no host"),
            ("a.test:", "\"\" is not a port number"),
            ("a.test:http", "\"http\" is not a port number"),
            ("a.test:70000", "is not a port number"),
            ("a.test:0", "port 0 cannot be connected to"),
            ("[::1", "unbalanced '['"),
            ("[::1:443", "unbalanced '['"),
            ("::1]:443", "needs brackets"),
            ("a]:443", "unbalanced ']'"),
            ("::1:443", "needs brackets"),
            ("[::1]", "no port after the ']'"),
            ("[::1]443", "no port after the ']'"),
            ("[]:443", "is not an IPv6 address"),
            ("[a.test]:443", "is not an IPv6 address"),
        ] {
            let err = parse_connect_target(bad).expect_err(bad);
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }
}
