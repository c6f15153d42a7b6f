//! Upstream proxies: the dialer through a real CONNECT proxy (Basic auth, 407, NO_PROXY), and the reverse
//! proxy's relay reaching a wss:// upstream through one (`--upstream-proxy`).

#[path = "forward_support/connect_proxy.rs"]
mod connect_proxy;
#[path = "common/ports.rs"]
mod ports;
#[path = "forward_support/servers.rs"]
mod servers;
#[path = "forward_support/ws.rs"]
mod ws;

use std::net::SocketAddr;

use connect_proxy::ConnectProxy;
use frametap::event::Record;
use frametap::forward::upstream_proxy::dial;
use frametap::forward::UpstreamProxies;
use frametap::proxy::upstream::UpstreamBase;
use servers::TestCa;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use ws::{echo_round_trip, proxy_config, recording_session, start_ws_echo, wait_for, STEP};

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
    let (_held, closed) = ports::refusing_addr();
    let proxies = UpstreamProxies::resolve_with(Some(&format!("http://{closed}")), |_| None).unwrap();
    let err = dial(&proxies, true, "example.test", 443, STEP).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("upstream proxy") && text.contains(&closed.to_string()), "{text}");
}

#[tokio::test]
async fn the_reverse_proxy_reaches_a_wss_upstream_through_the_upstream_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let upstream_ca = TestCa::new();
    let ca_file = upstream_ca.write_pem(dir.path());
    let (server_tls, _) = upstream_ca.server_config(&["localhost"]);
    let upstream = start_ws_echo(Some(server_tls)).await;
    let corporate = ConnectProxy::start(Some("Basic dXNlcjpwQHNz".into())).await;
    let proxies =
        UpstreamProxies::resolve_with(Some(&format!("http://user:p%40ss@{}", corporate.addr)), |_| None).unwrap();
    let base = UpstreamBase::parse(&format!("wss://localhost:{}", upstream.port())).unwrap();
    let config = proxy_config(base, Some(&ca_file), proxies);
    let (session, _, mut records) = recording_session(dir.path(), "proxy").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(frametap::proxy::serve(listener, config, session.sink.clone(), async {
        let _ = stopped.await;
    }));

    let (client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1?deploymentId=d")).await.unwrap();
    echo_round_trip(client, "through the corporate proxy").await;
    let open = wait_for(&mut records, |r| match r {
        Record::Open(open) => Some(open.clone()),
        _ => None,
    })
    .await;
    assert_eq!(open.response.map(|r| r.status), Some(101), "{:?}", open.error);
    assert_eq!(corporate.tunnels(), vec![format!("localhost:{}", upstream.port())]);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    session.finish().await;
}

#[tokio::test]
async fn a_refusing_upstream_proxy_is_reported_to_the_client_and_in_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let corporate = ConnectProxy::start(Some("Basic dXNlcjpwQHNz".into())).await;
    let proxies = UpstreamProxies::resolve_with(Some(&corporate.url()), |_| None).unwrap();
    let config = proxy_config(UpstreamBase::parse("wss://localhost:9").unwrap(), None, proxies);
    let (session, _, mut records) = recording_session(dir.path(), "proxy").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(frametap::proxy::serve(listener, config, session.sink.clone(), async {
        let _ = stopped.await;
    }));
    let err = tokio_tungstenite::connect_async(format!("ws://{addr}/v1")).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(resp) = err else { panic!("expected an HTTP refusal: {err}") };
    assert_eq!(resp.status(), 502);
    let error = wait_for(&mut records, |r| match r {
        Record::Open(open) => open.error.clone(),
        _ => None,
    })
    .await;
    assert!(error.contains("requires authentication") && error.contains(&corporate.addr.to_string()), "{error}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    session.finish().await;
}
