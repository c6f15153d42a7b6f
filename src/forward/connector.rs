//! Reaching an upstream host from forward mode: TCP (direct or through the upstream proxy), then TLS
//! when the upstream is `https`/`wss`, verified against the upstream trust store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::io::BoxIo;
use super::upstream_proxy::{dial, host_port, UpstreamProxies};

/// Where a request or tunnel goes: host, port, and whether the upstream speaks TLS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl Target {
    /// `host:port` (IPv6 bracketed).
    pub fn authority(&self) -> String {
        host_port(&self.host, self.port)
    }

    /// The default port is left out, as browsers do in `Host` and URLs.
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            host_port(&self.host, self.port).trim_end_matches(&format!(":{default}")).to_string()
        } else {
            self.authority()
        }
    }

    /// The WebSocket URL base for this target: `wss://host[:port]` or `ws://host[:port]`.
    pub fn ws_base(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}", self.host_header())
    }
}

/// The upstream was reached but its TLS handshake failed (a certificate refused, no TLS at all, …): the
/// message says what to do, and is not a reachability problem.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsHandshakeFailed(pub String);

/// Dials upstream targets for forward mode.
#[derive(Clone)]
pub struct UpstreamConnector {
    pub proxies: UpstreamProxies,
    /// How upstream TLS is verified (the system roots, plus `--upstream-ca` when given).
    pub tls: Arc<rustls::ClientConfig>,
    /// Limit on TCP connect, proxy CONNECT and the TLS handshake together.
    pub connect_timeout: Duration,
}

impl UpstreamConnector {
    /// The raw TCP stream to `target` (direct or a tunnel through the upstream proxy), no TLS.
    pub async fn connect_tcp(&self, target: &Target) -> anyhow::Result<tokio::net::TcpStream> {
        let stream = dial(&self.proxies, target.tls, &target.host, target.port, self.connect_timeout).await?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// A stream to `target`, with TLS (SNI = host, verified) when the target is secure; the server closing TCP
    /// without a close_notify reads as the end of the stream ([`super::io::CloseNotifyOptional`]).
    pub async fn connect(&self, target: &Target) -> anyhow::Result<BoxIo> {
        let tcp = self.connect_tcp(target).await?;
        if !target.tls {
            return Ok(Box::new(tcp));
        }
        let name = ServerName::try_from(target.host.clone())
            .with_context(|| format!("{:?} is not a valid TLS server name", target.host))?;
        let handshake = TlsConnector::from(self.tls.clone()).connect(name, tcp);
        let tls = tokio::time::timeout(self.connect_timeout, handshake)
            .await
            .map_err(|_| anyhow::anyhow!("TLS handshake with {} timed out", target.authority()))?
            .map_err(|e| {
                let why = crate::tls::errors::describe_handshake_error(&e);
                TlsHandshakeFailed(format!("TLS handshake with {} failed: {why}", target.authority()))
            })?;
        Ok(Box::new(super::io::CloseNotifyOptional(tls)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_are_left_out_of_host_and_urls() {
        let t = |host: &str, port, tls| Target { host: host.into(), port, tls };
        assert_eq!(t("a.test", 443, true).ws_base(), "wss://a.test");
        assert_eq!(t("a.test", 8443, true).ws_base(), "wss://a.test:8443");
        assert_eq!(t("a.test", 80, false).host_header(), "a.test");
        assert_eq!(t("::1", 443, true).host_header(), "[::1]");
        assert_eq!(t("::1", 9000, false).authority(), "[::1]:9000");
    }
}
