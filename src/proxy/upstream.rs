//! The upstream leg: parse `--upstream`, dial it (TCP, then TLS for wss://), and send the upgrade request with hyper.

use super::stream::{kernel_rtt_ms, RelayStream, UpstreamStream};
use crate::event::{Headers, HttpResponse};
use crate::forward::upstream_proxy::{connect_via, split_host_port, UpstreamProxies};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Largest refused-upgrade body frametap reads and relays.
pub const MAX_REFUSAL_BODY: usize = 1024 * 1024;

/// Where connections go: `ws://` or `wss://`, a host, a port and an optional base path.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamBase {
    pub secure: bool,
    pub host: String,
    pub port: u16,
    /// Prefix for every client path, without a trailing slash (`""` or `/api`).
    pub base_path: String,
    /// A name shown instead of the URL (`sim:genesys` for the built-in simulator).
    pub label: Option<String>,
}

impl UpstreamBase {
    /// A base that is only a name, for listeners whose backend dials no fixed upstream (forward mode, a replay).
    pub fn named(label: impl Into<String>) -> Self {
        UpstreamBase {
            secure: false,
            host: String::new(),
            port: 0,
            base_path: String::new(),
            label: Some(label.into()),
        }
    }

    /// Parses `ws://host[:port][/base]` or `wss://…` (the scheme in any case). Everything a connection would
    /// trip over later is refused here, before anything listens: a port that is not 1–65535, a host or a
    /// base path with characters a URL cannot carry, a query, credentials.
    pub fn parse(url: &str) -> Result<Self, String> {
        // Errors quote the URL as given, its credentials (refused below) hidden: they go to the terminal.
        let shown = crate::forward::upstream_proxy::hide_credentials(url);
        let (scheme, rest) = url.split_once("://").unwrap_or_default();
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "wss" => true,
            "ws" => false,
            _ => {
                return Err(format!(
                    "{shown:?} must start with ws:// or wss:// (for example wss://webmessaging.mypurecloud.com)"
                ))
            }
        };
        if rest.contains(['?', '#']) {
            return Err(format!("{shown:?}: give only a base path; the client's own path and query are appended"));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(format!("{shown:?}: credentials in the URL are not supported; use --set-header"));
        }
        if authority.parse::<http::uri::Authority>().is_err() {
            return Err(format!("{shown:?} has no valid host (got {authority:?})"));
        }
        let (host, port) = split_host_port(authority).map_err(|e| format!("{shown:?}: {e}"))?;
        let base_path = path.trim_end_matches('/');
        if !base_path.is_empty() && base_path.parse::<http::uri::PathAndQuery>().is_err() {
            return Err(format!(
                "{shown:?}: the base path {base_path:?} has characters a URL cannot carry (such as a space or a \
                 control character): percent-encode them (a space is %20)"
            ));
        }
        Ok(UpstreamBase {
            secure,
            port: port.unwrap_or(if secure { 443 } else { 80 }),
            host,
            base_path: base_path.to_owned(),
            label: None,
        })
    }

    /// The request target upstream: the base path followed by the client's path and query.
    pub fn target(&self, client_path_and_query: &str) -> String {
        let client = if client_path_and_query.starts_with('/') {
            client_path_and_query.to_owned()
        } else {
            format!("/{client_path_and_query}")
        };
        format!("{}{client}", self.base_path)
    }

    /// The Host header value (the port only when not the scheme's default).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default_port = if self.secure { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The full URL dialled for a client path (or the label, for the simulator).
    pub fn url_for(&self, client_path_and_query: &str) -> String {
        match &self.label {
            Some(label) => format!("{label}{}", self.target(client_path_and_query)),
            None => format!(
                "{}://{}{}",
                if self.secure { "wss" } else { "ws" },
                self.host_header(),
                self.target(client_path_and_query)
            ),
        }
    }

    /// The base as the user would write it (`wss://host/base`, or the label).
    pub fn display(&self) -> String {
        match &self.label {
            Some(label) => label.clone(),
            None => format!("{}://{}{}", if self.secure { "wss" } else { "ws" }, self.host_header(), self.base_path),
        }
    }
}

/// Why the upgrade failed without an answer to relay (the upstream could not be reached, or its answer opens no
/// WebSocket); each names exactly what failed (the client gets it in a 502).
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("DNS lookup of {host} failed: {detail}")]
    Dns { host: String, detail: String },
    #[error("could not connect to {addr}: {detail}")]
    Connect { addr: String, detail: String },
    #[error("TLS handshake with {host} failed: {detail}")]
    Tls { host: String, detail: String },
    /// A step did not finish in time; `sent`: the upgrade request's headers, when the wait was for its answer.
    #[error("timed out after {secs:.1} s while {during}")]
    Timeout { secs: f64, during: &'static str, sent: Option<Headers> },
    /// The upgrade request was written (`sent`, as [`UpstreamAnswer::sent_headers`]) but no answer to relay came
    /// of it: the connection ended, the answer was malformed or too large, or it was a 101 that opens no WebSocket
    /// (`answer`: that 101's status and headers, kept for the record).
    #[error("the upgrade request to {url} failed: {detail}")]
    Http { url: String, detail: String, sent: Headers, answer: Option<(u16, Headers)> },
    #[error("{0}")]
    Invalid(String),
    /// The upstream proxy could not be reached or refused the tunnel (`detail` names the proxy).
    #[error("{detail}")]
    Proxy { proxy: String, detail: String },
    /// frametap was told to stop (Ctrl-C) while the connection still waited for the upstream.
    #[error("frametap was stopped (Ctrl-C) before the upstream answered")]
    Stopped,
}

impl DialError {
    /// The request headers as written to the upstream, when the failure came after writing them (or while
    /// waiting for their answer).
    pub fn sent_headers(&self) -> Option<&Headers> {
        match self {
            DialError::Http { sent, .. } => Some(sent),
            DialError::Timeout { sent, .. } => sent.as_ref(),
            _ => None,
        }
    }

    /// The answer that came but opened no WebSocket (a 101 without the right `Sec-WebSocket-Accept`), as an `open`
    /// record keeps it next to the error: its status and headers (a 101 has no body).
    pub fn answer(&self) -> Option<HttpResponse> {
        match self {
            DialError::Http { answer: Some((status, headers)), .. } => {
                Some(HttpResponse { status: *status, headers: headers.clone(), body: None, body_base64: None })
            }
            _ => None,
        }
    }
}

/// The upstream's answer to the upgrade request.
pub struct UpstreamAnswer {
    pub status: u16,
    pub headers: Headers,
    /// Body of a refused upgrade (capped at [`MAX_REFUSAL_BODY`]).
    pub body: Option<Bytes>,
    /// For a 101: the upgraded stream and bytes the server sent right after its response head.
    pub upgraded: Option<(UpstreamStream, Bytes)>,
    /// The request as sent (headers included).
    pub sent_headers: Headers,
    /// From sending the request to receiving the response head.
    pub round_trip: Duration,
    /// For a 101 on a direct connection: the kernel's round trip of the TCP connection to the upstream
    /// ([`kernel_rtt_ms`]). `None` through an upstream proxy, whose socket ends at the proxy, not the upstream.
    pub tcp_rtt_ms: Option<f64>,
}

/// Connects to the upstream host: directly, or through the upstream proxy that applies.
async fn connect_tcp(base: &UpstreamBase, proxies: &UpstreamProxies) -> Result<TcpStream, DialError> {
    let tcp = match proxies.proxy_for(base.secure, &base.host, base.port) {
        Some(proxy) => connect_via(proxy, &base.host, base.port)
            .await
            .map_err(|e| DialError::Proxy { proxy: proxy.to_string(), detail: format!("{e:#}") })?,
        None => connect_direct(base).await?,
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// TLS on the connection for wss:// (a plain stream for ws://).
async fn secure(
    base: &UpstreamBase,
    tls: &Arc<rustls::ClientConfig>,
    tcp: TcpStream,
) -> Result<UpstreamStream, DialError> {
    if !base.secure {
        return Ok(UpstreamStream::Plain(tcp));
    }
    let name = ServerName::try_from(base.host.clone())
        .map_err(|_| DialError::Invalid(format!("{:?} is not a valid TLS server name", base.host)))?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp).await.map_err(|e| {
        DialError::Tls { host: base.host.clone(), detail: crate::tls::errors::describe_handshake_error(&e) }
    })?;
    Ok(UpstreamStream::Tls(Box::new(stream)))
}

/// Resolves the upstream host and connects to the first address that answers.
async fn connect_direct(base: &UpstreamBase) -> Result<TcpStream, DialError> {
    let addrs: Vec<_> = tokio::net::lookup_host((base.host.as_str(), base.port))
        .await
        .map_err(|e| DialError::Dns { host: base.host.clone(), detail: e.to_string() })?
        .collect();
    let mut last = None;
    let mut tcp = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => last = Some(DialError::Connect { addr: addr.to_string(), detail: e.to_string() }),
        }
    }
    tcp.ok_or_else(|| last.unwrap_or_else(|| DialError::Dns { host: base.host.clone(), detail: "no addresses".into() }))
}

/// Dials the upstream and sends the upgrade request; everything within `timeout`.
pub async fn open(
    base: &UpstreamBase,
    client_path_and_query: &str,
    headers: &Headers,
    tls: &Arc<rustls::ClientConfig>,
    proxies: &UpstreamProxies,
    timeout: Duration,
) -> Result<UpstreamAnswer, DialError> {
    let secs = timeout.as_secs_f64();
    let connected_by = tokio::time::Instant::now() + timeout;
    let tcp = tokio::time::timeout_at(connected_by, connect_tcp(base, proxies))
        .await
        .map_err(|_| DialError::Timeout { secs, during: "connecting to the upstream", sent: None })??;
    let stream =
        tokio::time::timeout_at(connected_by, secure(base, tls, tcp)).await.map_err(|_| DialError::Timeout {
            secs,
            during: "waiting for the upstream's TLS handshake (a plain ws:// server waits for a request and answers \
                 nothing to TLS: if the upstream is one, use ws://)",
            sent: None,
        })??;
    let request = UpgradeRequest::new(base, headers);
    let sent = request.sent.clone();
    let mut answer =
        tokio::time::timeout(timeout, handshake(base, client_path_and_query, request, stream)).await.map_err(
            |_| DialError::Timeout { secs, during: "waiting for the upstream's handshake response", sent: Some(sent) },
        )??;
    if proxies.proxy_for(base.secure, &base.host, base.port).is_none() {
        answer.tcp_rtt_ms = answer.upgraded.as_ref().and_then(|(stream, _)| stream.tcp()).and_then(kernel_rtt_ms);
    }
    Ok(answer)
}

/// The upgrade request's WebSocket key and its headers as frametap writes them to the upstream.
struct UpgradeRequest {
    key: String,
    sent: Headers,
}

impl UpgradeRequest {
    /// frametap's upgrade headers, then the client's end-to-end `headers`. Host is the upstream's, unless
    /// --set-header replaced it (the client's own never reaches `headers`).
    fn new(base: &UpstreamBase, headers: &Headers) -> Self {
        let key = tungstenite_key();
        let host = crate::event::header(headers, "host").map_or_else(|| base.host_header(), str::to_owned);
        let mut sent = vec![
            ("host".to_owned(), host),
            ("connection".to_owned(), "Upgrade".to_owned()),
            ("upgrade".to_owned(), "websocket".to_owned()),
            ("sec-websocket-version".to_owned(), "13".to_owned()),
            ("sec-websocket-key".to_owned(), key.clone()),
        ];
        sent.extend(headers.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("host")).cloned());
        UpgradeRequest { key, sent }
    }
}

async fn handshake(
    base: &UpstreamBase,
    client_path_and_query: &str,
    request: UpgradeRequest,
    stream: UpstreamStream,
) -> Result<UpstreamAnswer, DialError> {
    let url = base.url_for(client_path_and_query);
    let UpgradeRequest { key, sent } = request;
    let http_err = |detail: String| DialError::Http { url: url.clone(), detail, sent: sent.clone(), answer: None };
    let mut request = http::Request::builder().method("GET").uri(base.target(client_path_and_query));
    for (name, value) in &sent {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Empty::<Bytes>::new()).map_err(|e| http_err(e.to_string()))?;
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_headers(super::MAX_HEADERS)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http_err(with_causes(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!("upstream HTTP connection ended: {e}");
        }
    });
    let started = Instant::now();
    let mut response = sender.send_request(request).await.map_err(|e| http_err(with_causes(&e)))?;
    let round_trip = started.elapsed();
    let status = response.status().as_u16();
    let response_headers = super::server::header_pairs(response.headers());
    if status != 101 {
        let body = Limited::new(response.into_body(), MAX_REFUSAL_BODY)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Ok(UpstreamAnswer {
            status,
            headers: response_headers,
            body: Some(body),
            upgraded: None,
            sent_headers: sent,
            round_trip,
            tcp_rtt_ms: None,
        });
    }
    let expected = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    if let Some(problem) = accept_problem(response.headers().get("sec-websocket-accept"), &expected) {
        let detail = format!("the upstream answered 101 {problem}: not a WebSocket server");
        return Err(DialError::Http { url, detail, sent, answer: Some((status, response_headers)) });
    }
    let upgraded = hyper::upgrade::on(&mut response).await.map_err(|e| http_err(with_causes(&e)))?;
    let parts = upgraded
        .downcast::<TokioIo<UpstreamStream>>()
        .map_err(|_| http_err("internal: unexpected upgraded stream type".into()))?;
    Ok(UpstreamAnswer {
        status,
        headers: response_headers,
        body: None,
        upgraded: Some((parts.io.into_inner(), parts.read_buf)),
        sent_headers: sent,
        round_trip,
        tcp_rtt_ms: None,
    })
}

/// What is wrong with a 101's `Sec-WebSocket-Accept` (`None` when it is the `expected` one), in words.
fn accept_problem(accept: Option<&http::HeaderValue>, expected: &str) -> Option<String> {
    match accept {
        None => Some(format!(
            "without a Sec-WebSocket-Accept header (a WebSocket server derives it from the request's key: here \"{expected}\")"
        )),
        Some(value) if value.as_bytes() == expected.as_bytes() => None,
        Some(value) => Some(format!(
            "with Sec-WebSocket-Accept \"{}\", not the \"{expected}\" the request's key calls for",
            String::from_utf8_lossy(value.as_bytes()).escape_debug()
        )),
    }
}

/// An error with the errors under it: hyper says only "connection error" for a reset, and keeps the reset (the
/// reason a user can act on) as its source.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

fn tungstenite_key() -> String {
    tokio_tungstenite::tungstenite::handshake::client::generate_key()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_with_their_causes_once() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "Connection reset by peer");
        #[derive(Debug, thiserror::Error)]
        #[error("connection error")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(with_causes(&Outer(reset)), "connection error: Connection reset by peer");
        let plain = std::io::Error::other("closed before message completed");
        assert_eq!(with_causes(&plain), "closed before message completed");
    }

    #[test]
    fn upstream_urls_parse_and_join_paths() {
        let base = UpstreamBase::parse("wss://webmessaging.mypurecloud.com").unwrap();
        assert_eq!((base.secure, base.port, base.base_path.as_str()), (true, 443, ""));
        assert_eq!(base.url_for("/v1?deploymentId=x"), "wss://webmessaging.mypurecloud.com/v1?deploymentId=x");
        let base = UpstreamBase::parse("ws://127.0.0.1:8000/api/").unwrap();
        assert_eq!(base.target("/v1?a=b"), "/api/v1?a=b");
        assert_eq!(base.host_header(), "127.0.0.1:8000");
        let v6 = UpstreamBase::parse("ws://[::1]:81").unwrap();
        assert_eq!((v6.host.as_str(), v6.host_header()), ("::1", "[::1]:81".to_owned()));
        assert!(UpstreamBase::parse("http://x").unwrap_err().contains("ws://"));
        assert!(UpstreamBase::parse("ws://x/a?b").unwrap_err().contains("base path"));
        assert!(UpstreamBase::parse("ws://").is_err());
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        let base = UpstreamBase::parse("WSS://Example.COM:8443/Api").unwrap();
        assert_eq!((base.secure, base.host.as_str(), base.port), (true, "example.com", 8443));
        assert_eq!(base.display(), "wss://example.com:8443/Api");
        assert!(!UpstreamBase::parse("Ws://h").unwrap().secure);
    }

    /// A port out of range or not a number used to fall back to the scheme's default port.
    #[test]
    fn bad_ports_are_refused_not_replaced_by_the_default() {
        for (url, expected) in [
            ("ws://127.0.0.1:65536", "bad port \"65536\""),
            ("ws://host:abc", "bad port \"abc\""),
            ("wss://host:0/api", "bad port \"0\""),
            ("ws://[::1]:99999", "bad port \"99999\""),
            ("ws://host:", "no port after it"),
        ] {
            let err = UpstreamBase::parse(url).unwrap_err();
            assert!(err.contains(expected) && err.contains(url), "{url}: {err}");
        }
        assert_eq!(UpstreamBase::parse("ws://h:65535").unwrap().port, 65535);
    }

    /// A base path hyper cannot send used to be accepted, and every connection then failed.
    #[test]
    fn base_paths_a_url_cannot_carry_are_refused() {
        for url in ["ws://127.0.0.1:1/a b", "ws://h/a\tb", "ws://h/a<b>"] {
            let err = UpstreamBase::parse(url).unwrap_err();
            assert!(err.contains("percent-encode"), "{url}: {err}");
        }
        assert_eq!(UpstreamBase::parse("ws://h/a%20b/").unwrap().target("/v1"), "/a%20b/v1");
    }
}
