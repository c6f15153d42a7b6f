//! rustls server configs for frametap's own TLS listeners (`proxy --tls`, forward-mode interception).
//!
//! Every config is built on the ring provider explicitly (the crate carries no aws-lc) and offers ALPN
//! `http/1.1` only: WebSocket upgrades are HTTP/1.1, and a browser must never negotiate h2 with us.

use std::sync::Arc;

use anyhow::Context as _;
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use super::ca::CertAuthority;
use super::leaf::issue_leaf;

/// The names the `proxy --tls` listener's certificate covers.
pub const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The one ALPN protocol frametap's TLS listeners offer.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A server config for the `frametap proxy --tls` listener: a leaf for localhost, 127.0.0.1 and ::1.
pub fn localhost_server_config(ca: &CertAuthority) -> anyhow::Result<Arc<ServerConfig>> {
    let leaf = issue_leaf(ca, &LOCALHOST_NAMES)?;
    server_config_from(vec![leaf.cert, ca.cert_der().clone()], leaf.key)
}

/// A server config presenting `chain` (leaf first) with `key`, TLS 1.2 and 1.3, ALPN `http/1.1`.
pub fn server_config_from(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("the ring provider does not support TLS 1.2/1.3")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("rustls rejected the certificate or key")?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// Serves one `frametap proxy --tls` client: the TLS handshake (within the handshake timeout, inside the
/// connection's task), then the same HTTP/WebSocket handling as a plain `ws://` client.
pub async fn serve_tls_client(
    stream: tokio::net::TcpStream,
    client_addr: std::net::SocketAddr,
    ctx: Arc<crate::proxy::ProxyContext>,
    config: Arc<ServerConfig>,
) {
    let handshake = tokio_rustls::TlsAcceptor::from(config).accept(stream);
    match tokio::time::timeout(ctx.config.handshake_timeout, handshake).await {
        Ok(Ok(tls)) => crate::proxy::server::serve_client(tls, client_addr, ctx).await,
        Ok(Err(e)) => tracing::info!(
            %client_addr,
            "TLS handshake failed: {e} (a browser must trust the local CA: see `frametap certs show` and certs/README.md)"
        ),
        Err(_) => tracing::info!(%client_addr, "TLS handshake timed out"),
    }
}
