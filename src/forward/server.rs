//! The forward-mode listener: the browser's HTTP proxy. CONNECT to an intercepted host is terminated
//! (TLS with a leaf from the local CA, or plaintext — told apart by sniffing), CONNECT to any other host
//! is tunnelled blind, and plain proxy requests (`GET http://…`, `ws://` upgrades) are served directly.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::LazyConfigAcceptor;
use tracing::Instrument as _;

use super::connector::{Target, UpstreamConnector};
use super::head::{read_request_head, RequestHead};
use super::http::{forward_request, is_websocket_upgrade, serve_http, to_origin_request, ProxyBody, UpstreamSlot};
use super::intercept::InterceptRules;
use super::io::{looks_like_tls, Io, PrefixedIo};
use crate::tls::LeafIssuer;

/// Everything forward mode needs besides the listener.
pub struct ForwardProxy {
    /// Which CONNECT hosts are terminated (`--intercept`).
    pub intercept: InterceptRules,
    /// Leaf certificates for the hosts it terminates.
    pub issuer: Arc<LeafIssuer>,
    /// How upstreams are reached (upstream proxy, upstream TLS trust).
    pub connector: UpstreamConnector,
    /// Limit on reading a request head and on the TLS handshake with the browser.
    pub handshake_timeout: Duration,
}

/// Accepts browser connections on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    proxy: Arc<ForwardProxy>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: log, breathe, keep serving.
                    tracing::warn!("forward mode: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let proxy = proxy.clone();
        let span = tracing::debug_span!("forward", %peer);
        tokio::spawn(
            async move {
                if let Err(e) = handle_client(tcp, peer, proxy).await {
                    tracing::info!("forward-mode connection ended: {e:#}");
                }
            }
            .instrument(span),
        );
    }
}

async fn handle_client(mut tcp: TcpStream, _peer: SocketAddr, proxy: Arc<ForwardProxy>) -> anyhow::Result<()> {
    let _ = tcp.set_nodelay(true);
    let head = tokio::time::timeout(proxy.handshake_timeout, read_request_head(&mut tcp))
        .await
        .context("the client sent no complete request in time")??;
    let Some(head) = head else { return Ok(()) };
    if head.method.eq_ignore_ascii_case("CONNECT") {
        return handle_connect(tcp, head, proxy).await;
    }
    let mut replay = head.raw;
    replay.extend_from_slice(&head.leftover);
    serve(PrefixedIo::new(replay, tcp), None, proxy).await;
    Ok(())
}

async fn handle_connect(mut tcp: TcpStream, head: RequestHead, proxy: Arc<ForwardProxy>) -> anyhow::Result<()> {
    let Some((host, port)) = parse_connect_target(&head.target) else {
        tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
        anyhow::bail!("CONNECT target {:?} is not host:port", head.target);
    };
    if !proxy.intercept.matches(&host) {
        return tunnel_blind(tcp, head.leftover, host, port, &proxy).await;
    }
    tcp.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    let mut first = head.leftover;
    if first.is_empty() {
        let mut buf = vec![0u8; 2048];
        let n = tokio::time::timeout(proxy.handshake_timeout, tcp.read(&mut buf))
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
        let target = Target { host, port, tls: false };
        serve(inner, Some(target), proxy).await;
        return Ok(());
    }
    let accept = async {
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), inner).await?;
        let sni = start.client_hello().server_name().map(str::to_string);
        let config = proxy.issuer.server_config_for(sni.as_deref().unwrap_or(&host)).map_err(std::io::Error::other)?;
        start.into_stream(config).await
    };
    let tls = tokio::time::timeout(proxy.handshake_timeout, accept)
        .await
        .context("TLS handshake with the client timed out")?
        .with_context(|| format!("TLS handshake with the client for {host} failed (does it trust the local CA?)"))?;
    tracing::debug!(%host, port, "terminated TLS inside CONNECT");
    serve(tls, Some(Target { host, port, tls: true }), proxy).await;
    Ok(())
}

/// Serves HTTP requests on a client stream: WebSocket upgrades to intercepted hosts go to the relay,
/// everything else is forwarded unchanged.
async fn serve(io: impl Io, tunnel: Option<Target>, proxy: Arc<ForwardProxy>) {
    let slot = Arc::new(UpstreamSlot::default());
    serve_http(io, tunnel, move |mut req, target| {
        let (proxy, slot) = (proxy.clone(), slot.clone());
        async move {
            let relay = is_websocket_upgrade(&req) && proxy.intercept.matches(&target.host);
            to_origin_request(&mut req, &target);
            if relay {
                return relay_websocket(req, target, &proxy).await;
            }
            forward_request(req, &target, &proxy.connector, &slot).await
        }
    })
    .await;
}

/// Hands a WebSocket upgrade for an intercepted host to the relay.
async fn relay_websocket(
    req: http::Request<hyper::body::Incoming>,
    target: Target,
    proxy: &ForwardProxy,
) -> http::Response<ProxyBody> {
    // Until the relay core is wired in, upgrades are passed through unchanged.
    forward_request(req, &target, &proxy.connector, &UpstreamSlot::default()).await
}

async fn tunnel_blind(
    mut tcp: TcpStream,
    early: Vec<u8>,
    host: String,
    port: u16,
    proxy: &ForwardProxy,
) -> anyhow::Result<()> {
    let target = Target { host, port, tls: port != 80 };
    let mut upstream = match proxy.connector.connect_tcp(&target).await {
        Ok(upstream) => upstream,
        Err(e) => {
            let body = format!("frametap could not reach {}: {e:#}\n", target.authority());
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

/// Splits a CONNECT target `host:port` / `[v6]:port` (the port is required).
pub fn parse_connect_target(target: &str) -> Option<(String, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_ascii_lowercase(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_targets_need_a_host_and_a_port() {
        assert_eq!(parse_connect_target("a.test:443"), Some(("a.test".into(), 443)));
        assert_eq!(parse_connect_target("[::1]:8443"), Some(("::1".into(), 8443)));
        assert_eq!(parse_connect_target("a.test"), None);
        assert_eq!(parse_connect_target(":443"), None);
        assert_eq!(parse_connect_target("a.test:http"), None);
    }
}
