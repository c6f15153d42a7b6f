//! What stands behind a frametap listener: the relay to an upstream (`frametap proxy`) or a recorded server
//! side (`frametap replay serve`). Every listener (ws://, wss:// with `--tls`, forward mode) hands the WebSocket
//! upgrades it takes to a [`Backend`], so each backend works behind each listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;

use super::stream::RelayStream;
use super::upstream::UpstreamBase;
use super::ProxyContext;
use crate::forward::Target;

/// Answers the WebSocket upgrades a listener takes.
pub trait Backend: Send + Sync + 'static {
    /// Answers a WebSocket upgrade request that hyper serves on an `IO` connection from `client_addr`. `host` is
    /// the host a forward-mode client asked for (its CONNECT, or its absolute URI), `None` on frametap's own
    /// listener. On 101 the backend takes the upgraded stream in a task of its own, counted with
    /// [`ProxyContext::track_relay`] so that shutdown waits for it, and closes it with 1001 once `ctx.shutdown` is set.
    fn upgrade<IO: RelayStream>(
        &self,
        req: Request<Incoming>,
        client_addr: SocketAddr,
        host: Option<Target>,
        ctx: Arc<ProxyContext>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send;

    /// The body of the `426` that a request which is no WebSocket upgrade gets on frametap's own listener.
    fn not_an_upgrade(&self, ctx: &ProxyContext) -> String;

    /// In forward mode, the answer to a request for an intercepted host that is no WebSocket upgrade (`req` in
    /// origin form), or `None` to forward it to the host unchanged.
    fn other_request(&self, _req: &Request<Incoming>, _target: &Target) -> Option<Response<Full<Bytes>>> {
        None
    }
}

/// `frametap proxy`: every upgrade is relayed to the upstream (`--upstream`, or in forward mode the host the
/// client asked for); every other request to an intercepted host is forwarded to it unchanged.
pub struct Relay;

impl Backend for Relay {
    fn upgrade<IO: RelayStream>(
        &self,
        req: Request<Incoming>,
        client_addr: SocketAddr,
        host: Option<Target>,
        ctx: Arc<ProxyContext>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send {
        let base = match host {
            None => ctx.config.upstream.clone(),
            Some(target) => UpstreamBase {
                secure: target.tls,
                host: target.host,
                port: target.port,
                base_path: String::new(),
                label: None,
            },
        };
        async move { super::server::relay_upgrade::<IO>(req, client_addr, &base, ctx).await }
    }

    fn not_an_upgrade(&self, ctx: &ProxyContext) -> String {
        ctx.info_page()
    }
}
