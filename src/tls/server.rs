//! rustls server configs for frametap's own TLS listeners (`--tls`, forward-mode interception), and the `--tls`
//! accept path.
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
use crate::event::{Note, Record, Ts};

/// The names the `proxy --tls` listener's certificate covers.
pub const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The one ALPN protocol frametap's TLS listeners offer.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A server config for the `frametap proxy --tls` listener: a leaf for localhost, 127.0.0.1 and ::1.
pub fn localhost_server_config(ca: &CertAuthority) -> anyhow::Result<Arc<ServerConfig>> {
    listener_server_config(ca, std::net::Ipv4Addr::LOCALHOST.into())
}

/// The server config of a `--tls` listener on `listen`: a leaf for the loopback names and, when the listener is on
/// another address of this machine (`--listen 192.168.1.20:9000`), for that address too, so that a client
/// dialling the URL the banner prints can verify it. A listener on every address (`0.0.0.0`) gets the loopback
/// names only: the banner warns ([`crate::commands::warn_unless_loopback`]).
pub fn listener_server_config(ca: &CertAuthority, listen: std::net::IpAddr) -> anyhow::Result<Arc<ServerConfig>> {
    let address = listen.to_string();
    let mut names = LOCALHOST_NAMES.to_vec();
    if !listen.is_unspecified() && !names.contains(&address.as_str()) {
        names.push(&address);
    }
    let leaf = issue_leaf(ca, &names)?;
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

/// Serves one client of a `--tls` listener (`frametap proxy`, `frametap replay serve`): the TLS handshake
/// (within the handshake timeout, inside the connection's task), then the same HTTP/WebSocket handling as a
/// plain `ws://` client. A client that starts
/// with a plain HTTP request (`ws://` or `http://` to this port) gets a plain `400` saying to use `wss://`.
pub async fn serve_tls_client<B: crate::proxy::Backend>(
    stream: tokio::net::TcpStream,
    client_addr: std::net::SocketAddr,
    ctx: Arc<crate::proxy::ProxyContext>,
    config: Arc<ServerConfig>,
    backend: Arc<B>,
) {
    let public_url = ctx.config.public_url.clone();
    let handshake = async move {
        let mut first = [0u8; 16];
        // Peeking leaves the bytes for rustls; it waits for the client's first bytes, within the timeout.
        let n = stream.peek(&mut first).await.unwrap_or(0);
        if looks_like_plain_http(&first[..n]) {
            refuse_plain_http(stream, &public_url).await;
            return None;
        }
        Some(tokio_rustls::TlsAcceptor::from(config).accept(stream).await)
    };
    match tokio::time::timeout(ctx.config.handshake_timeout, handshake).await {
        Ok(Some(Ok(tls))) => crate::proxy::server::serve_client(tls, client_addr, ctx, backend).await,
        Ok(Some(Err(e))) => {
            // A session note, not only a log line: the web UI and the capture show why a page's wss:// connection
            // never appeared (a browser that does not trust the local CA fails here, before any request).
            let why = super::errors::describe_client_handshake_error(&e, &ctx.config.public_url);
            let message = format!(
                "the TLS handshake of a client from {client_addr} failed: {why}; nothing was relayed or recorded as a \
                 connection"
            );
            ctx.sink.emit(Record::Note(Note::warn("tls-handshake-failed", None, Ts::now(), message))).await;
        }
        Ok(None) => {
            tracing::info!(%client_addr, "{}", super::errors::plain_http_to_tls_listener(&ctx.config.public_url))
        }
        Err(_) => tracing::info!(%client_addr, "TLS handshake timed out"),
    }
}

/// True when a client's first bytes are the start of an HTTP request line (`GET /…`): an upper-case method
/// and a space. A TLS ClientHello starts with the byte 0x16.
pub fn looks_like_plain_http(first: &[u8]) -> bool {
    let method = first.iter().take_while(|b| b.is_ascii_uppercase()).count();
    method > 0 && (first.get(method) == Some(&b' ') || method == first.len())
}

/// Answers a plain HTTP request on the TLS listener with a plain `400` that says to use `wss://`. The request
/// head is read first, so closing does not reset the connection before the client has read the answer.
async fn refuse_plain_http(mut stream: tokio::net::TcpStream, public_url: &str) {
    use tokio::io::AsyncWriteExt as _;
    let _ = crate::forward::head::read_request_head(&mut stream).await;
    let body = format!("frametap: {}\n", super::errors::plain_http_to_tls_listener(public_url));
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(answer.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_plain_http;

    #[test]
    fn plain_http_is_told_from_a_client_hello_by_its_first_bytes() {
        assert!(looks_like_plain_http(b"GET /v1?deploymentId=x HTTP/1.1\r\n"));
        assert!(looks_like_plain_http(b"OPTIONS * HTTP/1.1"));
        assert!(looks_like_plain_http(b"GE"), "a request line cut short is still no TLS");
        assert!(!looks_like_plain_http(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!looks_like_plain_http(b""));
        assert!(!looks_like_plain_http(b"get / HTTP/1.1"));
        assert!(!looks_like_plain_http(b"GET/ HTTP/1.1"));
    }
}
