//! The reverse proxy: accept loop, hyper handshakes on both legs, upstream dial (ws/wss), frame-level relay.
//!
//! [`serve`] takes an already-bound listener and a shutdown future, so tests bind `127.0.0.1:0` and call
//! the same entry point as `frametap proxy`.

pub mod backend;
mod ending;
pub mod headers;
pub mod refused_head;
pub mod relay;
pub mod server;
pub mod stream;
pub mod upstream;

pub use backend::{Backend, Relay};
pub use ending::CUT_SHORT;

use crate::event::Headers;
use crate::forward::UpstreamProxies;
use crate::pipeline::EventSink;
use relay::RelayOptions;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use upstream::UpstreamBase;

/// How long a client may take to send its upgrade request, and the upstream to answer it.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a started close handshake (or a half-closed TCP connection) may take before both sides are dropped.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown waits, past the close timeout, for connections to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Most header lines an HTTP head may have, on every leg (the client's request and the upstream's answer, in
/// reverse and forward mode). hyper's own default, 100, refused a 101 with many Set-Cookie lines as "message head
/// is too large" and failed it with a 502, though browsers count no headers (Chromium bounds a head's size, at
/// 256 KiB; hyper bounds it too, at about 400 KiB).
pub const MAX_HEADERS: usize = 1024;
/// Default `--max-message`: 64 MiB.
pub const DEFAULT_MAX_MESSAGE: u64 = 64 * 1024 * 1024;

/// Everything a proxied connection needs to know.
pub struct ProxyConfig {
    pub upstream: UpstreamBase,
    pub tls: Arc<rustls::ClientConfig>,
    /// `--upstream-proxy` / `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`: how upstreams are reached.
    pub upstream_proxies: UpstreamProxies,
    /// `--set-header`: added to, or replacing, the client's headers upstream.
    pub set_headers: Headers,
    pub forward_cookies: bool,
    pub relay: RelayOptions,
    pub handshake_timeout: Duration,
    /// The URL clients should use, for the page a plain HTTP request gets.
    pub public_url: String,
    /// The web UI's address for that page, without its access token: whoever can reach the proxy port can read
    /// the page, and the token lets its holder see live credentials (only the banner shows it).
    pub ui_address: Option<String>,
}

/// Shared by all connections of one proxy.
pub struct ProxyContext {
    pub config: ProxyConfig,
    pub sink: EventSink,
    pub shutdown: watch::Receiver<bool>,
    active: watch::Sender<usize>,
}

/// Decrements the active-relay count when a relay task ends.
pub struct RelayGuard(watch::Sender<usize>);

impl Drop for RelayGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

impl ProxyContext {
    pub fn new(config: ProxyConfig, sink: EventSink, shutdown: watch::Receiver<bool>) -> Arc<Self> {
        Arc::new(ProxyContext { config, sink, shutdown, active: watch::Sender::new(0) })
    }

    /// Counts a relay as active until the guard drops, so shutdown can wait for it.
    pub fn track_relay(&self) -> RelayGuard {
        self.active.send_modify(|n| *n += 1);
        RelayGuard(self.active.clone())
    }

    /// Waits until every relay has ended, or `limit` passes. Returns how many were still running.
    pub async fn wait_for_relays(&self, limit: Duration) -> usize {
        let mut active = self.active.subscribe();
        let _ = tokio::time::timeout(limit, active.wait_for(|n| *n == 0)).await;
        let still = *active.borrow();
        still
    }

    /// Tells every connection to close (1001) and waits, bounded, for them to finish (a second Ctrl-C or SIGTERM
    /// ends the wait: the relays then close at once and write how their connection ended).
    pub async fn close_all(&self, stop: watch::Sender<bool>) {
        stop.send_replace(true);
        let limit = self.config.relay.close_timeout + SHUTDOWN_GRACE;
        // A second Ctrl-C ends the relays' close waits at once; each then writes its `close` record, for which
        // the grace is left.
        let (still, limit) = tokio::select! {
            still = self.wait_for_relays(limit) => (still, limit),
            () = crate::commands::shutdown::second_signal() => {
                (self.wait_for_relays(SHUTDOWN_GRACE).await, SHUTDOWN_GRACE)
            }
        };
        if still > 0 {
            crate::warning!(
                "{} did not finish closing within {:.1} s: frametap stops without waiting longer, so the capture \
                 may not say how {} ended (a peer that never answers the close frame holds a connection up)",
                crate::words::count(still as u64, "connection"),
                limit.as_secs_f64(),
                if still == 1 { "it" } else { "they" }
            );
        }
    }

    /// The text a plain HTTP request on the proxy port gets.
    pub fn info_page(&self) -> String {
        let ui = self.config.ui_address.as_deref().map_or(String::new(), |u| {
            format!("Web UI: {u} (open the link frametap printed as it started: it holds the UI's access token)\n")
        });
        format!(
            "frametap — a WebSocket debugging proxy.\n\n\
             This address relays WebSocket connections to {upstream}.\n\
             A plain HTTP request cannot be relayed: connect with a WebSocket client instead, at\n  \
             {url}/<path>   (for Genesys: {url}/v1?deploymentId=<your deployment id>)\n{ui}",
            upstream = self.config.upstream.display(),
            url = self.config.public_url,
        )
    }
}

/// Resolves once the shutdown flag is set (or its sender is gone).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Accepts connections until `shutdown` resolves, then closes open ones with 1001 and waits for them.
pub async fn serve(
    listener: TcpListener,
    config: ProxyConfig,
    sink: EventSink,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_tls(listener, None, config, sink, shutdown).await
}

/// [`serve`], with clients speaking TLS (`wss://`, `frametap proxy --tls`) when `client_tls` is given.
pub async fn serve_with_tls(
    listener: TcpListener,
    client_tls: Option<Arc<rustls::ServerConfig>>,
    config: ProxyConfig,
    sink: EventSink,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_backend(listener, client_tls, Arc::new(Relay), config, sink, shutdown).await
}

/// [`serve_with_tls`] with the WebSocket upgrades answered by `backend` (`replay serve` passes its replay).
pub async fn serve_backend<B: Backend>(
    listener: TcpListener,
    client_tls: Option<Arc<rustls::ServerConfig>>,
    backend: Arc<B>,
    config: ProxyConfig,
    sink: EventSink,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = ProxyContext::new(config, sink, stop_rx);
    accept_loop(&listener, &ctx, shutdown, |stream, addr, ctx| {
        let backend = backend.clone();
        match &client_tls {
            None => drop(tokio::spawn(server::serve_client(stream, addr, ctx, backend))),
            Some(tls) => {
                drop(tokio::spawn(crate::tls::server::serve_tls_client(stream, addr, ctx, tls.clone(), backend)))
            }
        }
    })
    .await;
    drop(listener);
    ctx.close_all(stop_tx).await;
    Ok(())
}

/// Accepts TCP connections until `shutdown` resolves, handing each to `spawn` (which must not block).
pub async fn accept_loop<F>(
    listener: &TcpListener,
    ctx: &Arc<ProxyContext>,
    shutdown: impl Future<Output = ()>,
    spawn: F,
) where
    F: Fn(tokio::net::TcpStream, std::net::SocketAddr, Arc<ProxyContext>),
{
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    spawn(stream, addr, ctx.clone());
                }
                Err(e) => {
                    // Out of file descriptors and similar: say so, back off a little, keep serving.
                    crate::warning!(
                        "accepting a connection failed: {e}; frametap keeps listening (if it says too many open \
                         files, raise the limit: ulimit -n)"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}
