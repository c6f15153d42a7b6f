//! Forward mode and upstream proxies, against real servers and a real CONNECT proxy on 127.0.0.1:0.

#[path = "forward_support/connect_proxy.rs"]
mod connect_proxy;
#[path = "forward_support/servers.rs"]
mod servers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use connect_proxy::ConnectProxy;
use frametap::forward::head::read_response_head_exact;
use frametap::forward::upstream_proxy::dial;
use frametap::forward::{ForwardProxy, InterceptRules, UpstreamConnector, UpstreamProxies};
use frametap::tls::{CertAuthority, LeafIssuer};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use servers::{client_config, start_hello_server, TestCa};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const STEP: Duration = Duration::from_secs(5);

/// A TCP server on 127.0.0.1:0 that answers every connection with "echo:" + what it read first.
async fn start_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                let n = s.read(&mut buf).await?;
                s.write_all(b"echo:").await?;
                s.write_all(&buf[..n]).await
            });
        }
    });
    addr
}

async fn round_trip(mut stream: tokio::net::TcpStream) -> String {
    stream.write_all(b"ping").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(STEP, stream.read_to_end(&mut out)).await.expect("echo timed out").unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn the_dialer_tunnels_through_a_connect_proxy_with_basic_auth_from_the_url() {
    let echo = start_echo().await;
    // "user:p@ss" in Basic: dXNlcjpwQHNz
    let proxy = ConnectProxy::start(Some("Basic dXNlcjpwQHNz".into())).await;
    let url = format!("http://user:p%40ss@{}", proxy.addr);
    let proxies = UpstreamProxies::resolve_with(Some(&url), |_| None).unwrap();
    let stream = dial(&proxies, true, "127.0.0.1", echo.port(), STEP).await.unwrap();
    assert_eq!(round_trip(stream).await, "echo:ping");
    assert_eq!(proxy.tunnels(), vec![format!("127.0.0.1:{}", echo.port())]);
}

#[tokio::test]
async fn a_proxy_demanding_credentials_gives_a_clear_error() {
    let echo = start_echo().await;
    let proxy = ConnectProxy::start(Some("Basic dXNlcjpwQHNz".into())).await;
    let proxies = UpstreamProxies::resolve_with(Some(&proxy.url()), |_| None).unwrap();
    let err = dial(&proxies, true, "127.0.0.1", echo.port(), STEP).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("requires authentication") && text.contains("407"), "{text}");
    let wrong = format!("http://user:wrong@{}", proxy.addr);
    let proxies = UpstreamProxies::resolve_with(Some(&wrong), |_| None).unwrap();
    let err = dial(&proxies, true, "127.0.0.1", echo.port(), STEP).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("refused the credentials") && !text.contains("wrong"), "{text}");
    assert!(proxy.tunnels().is_empty());
}

#[tokio::test]
async fn no_proxy_hosts_and_plain_upstreams_follow_the_environment() {
    let echo = start_echo().await;
    let proxy = ConnectProxy::start(None).await;
    let url = proxy.url();
    let env = |name: &str| match name {
        "HTTP_PROXY" => Some(url.clone()),
        "NO_PROXY" => Some("localhost".to_string()),
        _ => None,
    };
    let proxies = UpstreamProxies::resolve_with(None, env).unwrap();
    // ws:// upstream: HTTP_PROXY applies.
    let via = dial(&proxies, false, "127.0.0.1", echo.port(), STEP).await.unwrap();
    assert_eq!(round_trip(via).await, "echo:ping");
    // NO_PROXY=localhost: direct.
    let direct = dial(&proxies, false, "localhost", echo.port(), STEP).await.unwrap();
    assert_eq!(round_trip(direct).await, "echo:ping");
    // wss:// upstream with no HTTPS_PROXY: direct.
    let direct = dial(&proxies, true, "127.0.0.1", echo.port(), STEP).await.unwrap();
    assert_eq!(round_trip(direct).await, "echo:ping");
    assert_eq!(proxy.tunnels(), vec![format!("127.0.0.1:{}", echo.port())]);
}

#[tokio::test]
async fn an_unreachable_proxy_is_named_in_the_error() {
    // Bind then drop a listener: its port is (for a moment) certainly closed.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let proxies = UpstreamProxies::resolve_with(Some(&format!("http://{closed}")), |_| None).unwrap();
    let err = dial(&proxies, true, "example.test", 443, STEP).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("upstream proxy") && text.contains(&closed.to_string()), "{text}");
}

/// A running forward-mode frametap on 127.0.0.1:0 with a fresh local CA.
struct Forward {
    addr: SocketAddr,
    ca: Arc<CertAuthority>,
    _home: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_forward(intercept: &[&str], upstream_roots: rustls::RootCertStore, proxies: UpstreamProxies) -> Forward {
    let home = tempfile::tempdir().unwrap();
    let ca = Arc::new(CertAuthority::init(home.path(), false).unwrap());
    let proxy = Arc::new(ForwardProxy {
        intercept: InterceptRules::new(intercept.iter().map(|g| g.to_string())),
        issuer: Arc::new(LeafIssuer::from_shared(ca.clone())),
        connector: UpstreamConnector { proxies, tls: client_config(upstream_roots), connect_timeout: STEP },
        handshake_timeout: STEP,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(frametap::forward::run(listener, proxy, async {
        let _ = stopped.await;
    }));
    Forward { addr, ca, _home: home, _stop: stop }
}

/// Opens a CONNECT tunnel through `proxy` to `target`; panics unless the proxy answers 200.
async fn connect_tunnel(proxy: SocketAddr, target: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(proxy).await.unwrap();
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let (code, line) = tokio::time::timeout(STEP, read_response_head_exact(&mut tcp))
        .await
        .expect("CONNECT answer timed out")
        .unwrap();
    assert_eq!(code, 200, "{line}");
    tcp
}

/// Sends `GET path` over `io` with hyper; returns (status, body).
async fn get<IO>(io: IO, uri: &str, host: &str) -> (u16, String)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(uri).header("host", host).body(Empty::<Bytes>::new()).unwrap();
    let resp = tokio::time::timeout(STEP, sender.send_request(req)).await.expect("response timed out").unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// TLS over `tcp` trusting only `roots`; returns the stream and the certificate the server showed.
async fn tls_client(
    tcp: TcpStream,
    name: &str,
    roots: rustls::RootCertStore,
) -> (tokio_rustls::client::TlsStream<TcpStream>, CertificateDer<'static>) {
    let connector = tokio_rustls::TlsConnector::from(client_config(roots));
    let name = ServerName::try_from(name.to_string()).unwrap();
    let tls = tokio::time::timeout(STEP, connector.connect(name, tcp)).await.expect("TLS handshake timed out").unwrap();
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    (tls, leaf)
}

#[tokio::test]
async fn a_host_not_intercepted_is_tunnelled_blind_with_the_servers_own_certificate() {
    let upstream_ca = TestCa::new();
    let (config, server_leaf) = upstream_ca.server_config(&["localhost"]);
    let upstream = start_hello_server(Some(config)).await;
    let forward = start_forward(&["webmessaging.*"], rustls::RootCertStore::empty(), UpstreamProxies::direct()).await;

    let tcp = connect_tunnel(forward.addr, &format!("localhost:{}", upstream.port())).await;
    let (tls, seen_leaf) = tls_client(tcp, "localhost", upstream_ca.roots()).await;
    assert_eq!(seen_leaf, server_leaf, "the client must see the server's own certificate");
    let (status, body) = get(tls, "/blind", "localhost").await;
    assert_eq!((status, body.as_str()), (200, "hello GET /blind host=localhost"));
}

#[tokio::test]
async fn an_intercepted_host_is_terminated_and_plain_requests_are_forwarded_unchanged() {
    let upstream_ca = TestCa::new();
    let (config, server_leaf) = upstream_ca.server_config(&["localhost"]);
    let upstream = start_hello_server(Some(config)).await;
    let forward = start_forward(&["localhost"], upstream_ca.roots(), UpstreamProxies::direct()).await;

    let tcp = connect_tunnel(forward.addr, &format!("localhost:{}", upstream.port())).await;
    let (tls, seen_leaf) = tls_client(tcp, "localhost", forward.ca.root_store().unwrap()).await;
    assert_ne!(seen_leaf, server_leaf, "an intercepted host gets a leaf from the local CA");
    let (_, parsed) = x509_parser::parse_x509_certificate(&seen_leaf).unwrap();
    assert_eq!(parsed.issuer().to_string(), forward.ca.subject());
    let host = format!("localhost:{}", upstream.port());
    let (status, body) = get(tls, "/api/v2/x?q=1", &host).await;
    assert_eq!(status, 200);
    assert_eq!(body, format!("hello GET /api/v2/x?q=1 host={host}"));
}

#[tokio::test]
async fn an_intercepted_upstream_with_an_untrusted_certificate_gets_a_502() {
    let upstream_ca = TestCa::new();
    let (config, _) = upstream_ca.server_config(&["localhost"]);
    let upstream = start_hello_server(Some(config)).await;
    // frametap does not trust the upstream's CA.
    let forward = start_forward(&["localhost"], rustls::RootCertStore::empty(), UpstreamProxies::direct()).await;
    let tcp = connect_tunnel(forward.addr, &format!("localhost:{}", upstream.port())).await;
    let (tls, _) = tls_client(tcp, "localhost", forward.ca.root_store().unwrap()).await;
    let (status, body) = get(tls, "/", "localhost").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("TLS handshake") && body.contains("localhost"), "{body}");
}

#[tokio::test]
async fn plain_proxy_requests_are_forwarded_in_origin_form() {
    let upstream = start_hello_server(None).await;
    let forward = start_forward(&[], rustls::RootCertStore::empty(), UpstreamProxies::direct()).await;
    let tcp = TcpStream::connect(forward.addr).await.unwrap();
    let uri = format!("http://127.0.0.1:{}/page?a=b", upstream.port());
    let (status, body) = get(tcp, &uri, &format!("127.0.0.1:{}", upstream.port())).await;
    assert_eq!(status, 200);
    assert_eq!(body, format!("hello GET /page?a=b host=127.0.0.1:{}", upstream.port()));
}

#[tokio::test]
async fn origin_form_requests_to_the_proxy_itself_get_a_clear_400() {
    let forward = start_forward(&[], rustls::RootCertStore::empty(), UpstreamProxies::direct()).await;
    let tcp = TcpStream::connect(forward.addr).await.unwrap();
    let (status, body) = get(tcp, "/", "127.0.0.1").await;
    assert_eq!(status, 400);
    assert!(body.contains("HTTP proxy"), "{body}");
}

#[tokio::test]
async fn forward_mode_reaches_upstreams_through_a_second_connect_proxy() {
    let upstream_ca = TestCa::new();
    let (config, server_leaf) = upstream_ca.server_config(&["localhost"]);
    let upstream = start_hello_server(Some(config)).await;
    let corporate = ConnectProxy::start(None).await;
    let proxies = UpstreamProxies::resolve_with(Some(&corporate.url()), |_| None).unwrap();
    let forward = start_forward(&["localhost"], upstream_ca.roots(), proxies).await;
    let target = format!("localhost:{}", upstream.port());

    // Intercepted: frametap terminates, then dials the upstream through the corporate proxy.
    let tcp = connect_tunnel(forward.addr, &target).await;
    let (tls, _) = tls_client(tcp, "localhost", forward.ca.root_store().unwrap()).await;
    let (status, body) = get(tls, "/through", &target).await;
    assert_eq!((status, body), (200, format!("hello GET /through host={target}")));
    // Not intercepted (by IP): tunnelled blind, also through the corporate proxy.
    let blind_target = format!("127.0.0.1:{}", upstream.port());
    let tcp = connect_tunnel(forward.addr, &blind_target).await;
    let (tls, seen) = tls_client(tcp, "localhost", upstream_ca.roots()).await;
    assert_eq!(seen, server_leaf);
    drop(tls);
    assert_eq!(corporate.tunnels(), vec![target, blind_target]);
}

#[tokio::test]
async fn connect_to_an_unreachable_host_answers_502_naming_it() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let forward = start_forward(&[], rustls::RootCertStore::empty(), UpstreamProxies::direct()).await;
    let mut tcp = TcpStream::connect(forward.addr).await.unwrap();
    tcp.write_all(format!("CONNECT {closed} HTTP/1.1\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(STEP, tcp.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(answer.contains(&closed.to_string()), "{answer}");
}
