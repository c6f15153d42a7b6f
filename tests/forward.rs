//! Forward mode and upstream proxies, against real servers and a real CONNECT proxy on 127.0.0.1:0.

#[path = "forward_support/connect_proxy.rs"]
mod connect_proxy;

use std::net::SocketAddr;
use std::time::Duration;

use connect_proxy::ConnectProxy;
use frametap::forward::upstream_proxy::dial;
use frametap::forward::UpstreamProxies;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

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
    tokio::time::timeout(STEP, stream.read_to_end(&mut out))
        .await
        .expect("echo timed out")
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn the_dialer_tunnels_through_a_connect_proxy_with_basic_auth_from_the_url() {
    let echo = start_echo().await;
    // "user:p@ss" in Basic: dXNlcjpwQHNz
    let proxy = ConnectProxy::start(Some("Basic dXNlcjpwQHNz".into())).await;
    let url = format!("http://user:p%40ss@{}", proxy.addr);
    let proxies = UpstreamProxies::resolve_with(Some(&url), |_| None).unwrap();
    let stream = dial(&proxies, true, "127.0.0.1", echo.port(), STEP)
        .await
        .unwrap();
    assert_eq!(round_trip(stream).await, "echo:ping");
    assert_eq!(proxy.tunnels(), vec![format!("127.0.0.1:{}", echo.port())]);
}

#[tokio::test]
async fn a_proxy_demanding_credentials_gives_a_clear_error() {
    let echo = start_echo().await;
    let proxy = ConnectProxy::start(Some("Basic dXNlcjpwQHNz".into())).await;
    let proxies = UpstreamProxies::resolve_with(Some(&proxy.url()), |_| None).unwrap();
    let err = dial(&proxies, true, "127.0.0.1", echo.port(), STEP)
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("requires authentication") && text.contains("407"),
        "{text}"
    );
    let wrong = format!("http://user:wrong@{}", proxy.addr);
    let proxies = UpstreamProxies::resolve_with(Some(&wrong), |_| None).unwrap();
    let err = dial(&proxies, true, "127.0.0.1", echo.port(), STEP)
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("refused the credentials") && !text.contains("wrong"),
        "{text}"
    );
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
    let via = dial(&proxies, false, "127.0.0.1", echo.port(), STEP)
        .await
        .unwrap();
    assert_eq!(round_trip(via).await, "echo:ping");
    // NO_PROXY=localhost: direct.
    let direct = dial(&proxies, false, "localhost", echo.port(), STEP)
        .await
        .unwrap();
    assert_eq!(round_trip(direct).await, "echo:ping");
    // wss:// upstream with no HTTPS_PROXY: direct.
    let direct = dial(&proxies, true, "127.0.0.1", echo.port(), STEP)
        .await
        .unwrap();
    assert_eq!(round_trip(direct).await, "echo:ping");
    assert_eq!(proxy.tunnels(), vec![format!("127.0.0.1:{}", echo.port())]);
}

#[tokio::test]
async fn an_unreachable_proxy_is_named_in_the_error() {
    // Bind then drop a listener: its port is (for a moment) certainly closed.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let proxies =
        UpstreamProxies::resolve_with(Some(&format!("http://{closed}")), |_| None).unwrap();
    let err = dial(&proxies, true, "example.test", 443, STEP)
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("upstream proxy") && text.contains(&closed.to_string()),
        "{text}"
    );
}
