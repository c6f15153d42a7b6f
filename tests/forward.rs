//! Forward mode (`frametap proxy --forward`) against real servers on 127.0.0.1:0: CONNECT terminated
//! with a leaf from the local CA or tunnelled blind, HTTP forwarded, WebSockets relayed and captured,
//! upstreams reached through a second, plain CONNECT proxy.

#[path = "forward_support/client.rs"]
mod client;
#[path = "forward_support/connect_proxy.rs"]
mod connect_proxy;
#[path = "common/ports.rs"]
mod ports;
#[path = "forward_support/servers.rs"]
mod servers;
#[path = "forward_support/ws.rs"]
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use client::{connect_tunnel, get, tls_client};
use connect_proxy::ConnectProxy;
use frametap::capture::{read_capture, CaptureFile};
use frametap::event::Record;
use frametap::forward::head::read_response_head_exact;
use frametap::forward::{forward_upstream_label, ForwardOptions, InterceptRules, UpstreamProxies};
use frametap::session::Session;
use frametap::tls::{CertAuthority, LeafIssuer};
use rustls::pki_types::ServerName;
use servers::{client_config, start_close_delimited_server, start_hello_server, TestCa};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use ws::{echo_round_trip, proxy_config, recording_session, start_ws_echo, wait_for, STEP};

/// A running forward-mode frametap on 127.0.0.1:0 with a fresh local CA and a recording session.
struct Forward {
    addr: SocketAddr,
    ca: Arc<CertAuthority>,
    records: mpsc::UnboundedReceiver<Record>,
    session: Session,
    capture: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _home: tempfile::TempDir,
}

impl Forward {
    /// Stops the listener, finishes the session and reads the capture back.
    async fn finish(self) -> CaptureFile {
        self.stop.send(()).unwrap();
        self.server.await.unwrap().unwrap();
        self.session.finish().await;
        read_capture(&self.capture).unwrap()
    }
}

/// Starts forward mode; `upstream_ca` is trusted for upstream TLS as with `--upstream-ca FILE`.
async fn start_forward(intercept: &[&str], upstream_ca: Option<&TestCa>, proxies: UpstreamProxies) -> Forward {
    let home = tempfile::tempdir().unwrap();
    let ca = Arc::new(CertAuthority::init(&home.path().join("certs"), false).unwrap());
    let ca_file = upstream_ca.map(|ca| ca.write_pem(home.path()));
    let config = proxy_config(forward_upstream_label(), ca_file.as_deref(), proxies);
    let options = ForwardOptions {
        intercept: InterceptRules::new(intercept.iter().map(|g| g.to_string())),
        issuer: Arc::new(LeafIssuer::from_shared(ca.clone())),
    };
    let (session, capture, records) = recording_session(home.path(), "forward").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(frametap::forward::serve(listener, options, config, session.sink.clone(), async {
        let _ = stopped.await;
    }));
    Forward { addr, ca, records, session, capture, stop, server, _home: home }
}

#[tokio::test]
async fn a_host_not_intercepted_is_tunnelled_blind_with_the_servers_own_certificate() {
    let upstream_ca = TestCa::new();
    let (config, server_leaf) = upstream_ca.server_config(&["localhost"]);
    let upstream = start_hello_server(Some(config)).await;
    let forward = start_forward(&["webmessaging.*"], None, UpstreamProxies::direct()).await;

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
    let forward = start_forward(&["localhost"], Some(&upstream_ca), UpstreamProxies::direct()).await;

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
    let forward = start_forward(&["localhost"], None, UpstreamProxies::direct()).await;
    let tcp = connect_tunnel(forward.addr, &format!("localhost:{}", upstream.port())).await;
    let (tls, _) = tls_client(tcp, "localhost", forward.ca.root_store().unwrap()).await;
    let (status, body) = get(tls, "/", "localhost").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("TLS handshake") && body.contains("localhost"), "{body}");
    // The relay's wording, not rustls's `invalid peer certificate: UnknownIssuer`.
    assert!(body.contains("unknown issuer (give its CA with --upstream-ca FILE)"), "{body}");
}

/// A response whose body ends when the upstream closes the connection (no Content-Length, no chunking), from an
/// upstream that closes TCP without a TLS close_notify, reaches the client whole and properly ended: browsers and
/// curl accept such a body from the server directly, so the proxy must not turn it into a failed response.
#[tokio::test]
async fn a_body_ended_by_the_upstream_closing_without_close_notify_reaches_the_client_whole() {
    let upstream_ca = TestCa::new();
    let (config, _) = upstream_ca.server_config(&["localhost"]);
    let upstream = start_close_delimited_server(config, "the whole body, delimited by the close").await;
    let forward = start_forward(&["localhost"], Some(&upstream_ca), UpstreamProxies::direct()).await;

    let tcp = connect_tunnel(forward.addr, &format!("localhost:{}", upstream.port())).await;
    let (tls, _) = tls_client(tcp, "localhost", forward.ca.root_store().unwrap()).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri("/until-close")
        .header("host", format!("localhost:{}", upstream.port()))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = tokio::time::timeout(STEP, sender.send_request(req)).await.expect("response timed out").unwrap();
    assert_eq!(resp.status(), 200);
    let body =
        tokio::time::timeout(STEP, http_body_util::BodyExt::collect(resp.into_body())).await.expect("body timed out");
    let body = body.expect("the body must end cleanly, not as a broken transfer").to_bytes();
    assert_eq!(&body[..], b"the whole body, delimited by the close");
}

#[tokio::test]
async fn plain_proxy_requests_are_forwarded_in_origin_form() {
    let upstream = start_hello_server(None).await;
    let forward = start_forward(&[], None, UpstreamProxies::direct()).await;
    let tcp = TcpStream::connect(forward.addr).await.unwrap();
    let uri = format!("http://127.0.0.1:{}/page?a=b", upstream.port());
    let (status, body) = get(tcp, &uri, &format!("127.0.0.1:{}", upstream.port())).await;
    assert_eq!(status, 200);
    assert_eq!(body, format!("hello GET /page?a=b host=127.0.0.1:{}", upstream.port()));
}

#[tokio::test]
async fn origin_form_requests_to_the_proxy_itself_get_a_clear_400() {
    let forward = start_forward(&[], None, UpstreamProxies::direct()).await;
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
    let forward = start_forward(&["localhost"], Some(&upstream_ca), proxies).await;
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
    let (_held, closed) = ports::refusing_addr();
    let forward = start_forward(&[], None, UpstreamProxies::direct()).await;
    let mut tcp = TcpStream::connect(forward.addr).await.unwrap();
    tcp.write_all(format!("CONNECT {closed} HTTP/1.1\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(STEP, tcp.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(answer.contains(&closed.to_string()), "{answer}");
}

/// A malformed CONNECT is answered `400` with the reason in its body: never a 502 from trying to reach what it
/// names, never a silent close. Nothing is dialled and nothing is recorded.
#[tokio::test]
async fn malformed_connect_requests_get_a_400_saying_why() {
    let forward = start_forward(&[], None, UpstreamProxies::direct()).await;
    for (request_line, reason) in [
        ("CONNECT [::1 HTTP/1.1", "CONNECT target \"[::1\" has an unbalanced '['"),
        (
            "CONNECT a b:443 HTTP/1.1",
            "\"CONNECT a b:443 HTTP/1.1\" is not METHOD TARGET HTTP/1.1: the target contains a space",
        ),
        ("CONNECT 127.0.0.1:0 HTTP/1.1", "CONNECT target \"127.0.0.1:0\": port 0 cannot be connected to"),
        ("CONNECT 127.0.0.1 HTTP/1.1", "CONNECT target \"127.0.0.1\" has no port"),
    ] {
        let mut tcp = TcpStream::connect(forward.addr).await.unwrap();
        tcp.write_all(format!("{request_line}\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(STEP, tcp.read_to_string(&mut answer)).await.unwrap().unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{request_line}: {answer:?}");
        assert!(body.starts_with("frametap (forward mode): ") && body.contains(reason), "{request_line}: {body:?}");
    }
    let capture = forward.finish().await;
    assert!(!capture.records.iter().any(|r| matches!(r, Record::Open(_))), "nothing was relayed");
}

/// Inside a CONNECT tunnel to an intercepted host, hyper serves the client's requests as in reverse mode: a head
/// with more header lines than frametap allows is refused by hyper (431) before frametap sees it, and recorded as a
/// `request-refused` session note naming the client, instead of leaving no trace.
#[tokio::test]
async fn a_request_head_hyper_refuses_inside_a_tunnel_is_noted() {
    let upstream = start_ws_echo(None).await;
    let mut forward = start_forward(&["127.0.0.1"], None, UpstreamProxies::direct()).await;
    let authority = format!("127.0.0.1:{}", upstream.port());
    let mut tcp = connect_tunnel(forward.addr, &authority).await;
    let client_addr = tcp.local_addr().unwrap();
    let many: String = (0..1100).map(|i| format!("X-Filler-{i}: v\r\n")).collect();
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{many}\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(STEP, tcp.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let note = wait_for(&mut forward.records, |r| match r {
        Record::Note(n) if n.code == "request-refused" => Some(n.clone()),
        _ => None,
    })
    .await;
    assert_eq!((note.level.as_str(), note.conn), ("warn", None));
    assert!(note.message.contains(&format!("refused a request from {client_addr} ")), "{}", note.message);
    assert!(note.message.contains("answered 431"), "{}", note.message);
    let capture = forward.finish().await;
    assert!(capture.records.iter().any(|r| matches!(r, Record::Note(n) if n.code == "request-refused")));
    assert!(!capture.records.iter().any(|r| matches!(r, Record::Open(_))), "nothing was relayed");
}

/// The first request on a connection to forward mode is read by frametap itself (to see a CONNECT): it accepts as
/// many header lines as hyper behind it (200 used to get a 400 saying the request line was not HTTP/1.1), and a
/// head past the limits gets a 431 and a `request-refused` note (more than 64 KiB used to be dropped unanswered).
#[tokio::test]
async fn a_first_request_head_is_read_to_hypers_limits_and_one_past_them_is_answered_and_noted() {
    let upstream = start_ws_echo(None).await;
    let mut forward = start_forward(&["127.0.0.1"], None, UpstreamProxies::direct()).await;
    let authority = format!("127.0.0.1:{}", upstream.port());
    let upgrade = |extra: &str| {
        format!(
            "GET http://{authority}/chat HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    };
    let send = |request: String| {
        let addr = forward.addr;
        async move {
            let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let client_addr = tcp.local_addr().unwrap();
            // The server may answer and close before reading all of a huge head: a failed write is fine.
            let _ = tcp.write_all(request.as_bytes()).await;
            let mut answer = vec![0u8; 4096];
            let n = tokio::time::timeout(STEP, tcp.read(&mut answer)).await.unwrap().unwrap();
            (client_addr, String::from_utf8_lossy(&answer[..n]).into_owned())
        }
    };

    let two_hundred: String = (0..200).map(|i| format!("X-Filler-{i}: v\r\n")).collect();
    let (_, answer) = send(upgrade(&two_hundred)).await;
    // Read and sent upstream (whose WebSocket library refuses past 124 header lines: frametap says so in a 502).
    assert!(
        !answer.contains("is not METHOD TARGET")
            && (answer.starts_with("HTTP/1.1 101")
                || answer.contains(&format!("could not open ws://{authority}/chat"))),
        "200 header lines are read and sent upstream: {answer}"
    );

    for (extra, what) in [
        ((0..1100).map(|i| format!("X-Filler-{i}: v\r\n")).collect::<String>(), "1100 header lines"),
        (format!("X-Big: {}\r\n", "v".repeat(500 * 1024)), "a 500 KiB header"),
    ] {
        let (client_addr, answer) = send(upgrade(&extra)).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{what}: {answer}");
        assert!(answer.contains("request head is too large"), "{what}: {answer}");
        let note = wait_for(&mut forward.records, |r| match r {
            Record::Note(n) if n.code == "request-refused" && n.message.contains(&client_addr.to_string()) => {
                Some(n.clone())
            }
            _ => None,
        })
        .await;
        assert!(
            note.message.contains("answered 431") && note.message.contains("fewer or smaller headers"),
            "{what}: {}",
            note.message
        );
    }
    forward.finish().await;
}

/// The records of the only connection in a capture: (open, frames as (from, text), close).
fn only_connection(capture: &CaptureFile) -> (frametap::event::Open, Vec<(String, String)>, frametap::event::Close) {
    assert_eq!(capture.connections().len(), 1, "{:?}", capture.records);
    let (mut open, mut frames, mut close) = (None, Vec::new(), None);
    for record in &capture.records {
        match record {
            Record::Open(o) => open = Some(o.clone()),
            Record::Frame(f) if f.text_message => {
                frames.push((f.from.as_str().to_string(), String::from_utf8_lossy(&f.payload).into_owned()))
            }
            Record::Close(c) => close = Some(c.clone()),
            _ => {}
        }
    }
    (*open.expect("an open record"), frames, close.expect("a close record"))
}

#[tokio::test]
async fn a_proxied_client_reaches_a_wss_server_with_its_own_ca_and_the_capture_holds_the_frames() {
    let upstream_ca = TestCa::new();
    let (config, _) = upstream_ca.server_config(&["localhost"]);
    let upstream = start_ws_echo(Some(config)).await;
    let mut forward = start_forward(&["localhost"], Some(&upstream_ca), UpstreamProxies::direct()).await;

    let tcp = connect_tunnel(forward.addr, &format!("localhost:{}", upstream.port())).await;
    let (tls, _) = tls_client(tcp, "localhost", forward.ca.root_store().unwrap()).await;
    let url = format!("wss://localhost:{}/v1?deploymentId=d-1", upstream.port());
    let (client, response) = tokio_tungstenite::client_async(url.as_str(), tls).await.unwrap();
    assert_eq!(response.status(), 101);
    echo_round_trip(client, r#"{"action":"echo"}"#).await;
    wait_for(&mut forward.records, |r| matches!(r, Record::Close(_)).then_some(())).await;

    let capture = forward.finish().await;
    let (open, frames, close) = only_connection(&capture);
    assert_eq!(open.upstream.as_deref(), Some(url.as_str()));
    assert_eq!(open.response.map(|r| r.status), Some(101));
    let text = r#"{"action":"echo"}"#.to_string();
    assert_eq!(frames, vec![("client".to_string(), text.clone()), ("server".to_string(), text)]);
    assert!(close.clean, "{close:?}");
    assert_eq!(capture.meta().map(|m| m.mode.as_str()), Some("forward"));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_local_ca_is_refused_and_nothing_is_relayed() {
    let upstream_ca = TestCa::new();
    let (config, _) = upstream_ca.server_config(&["localhost"]);
    let upstream = start_ws_echo(Some(config)).await;
    let forward = start_forward(&["localhost"], Some(&upstream_ca), UpstreamProxies::direct()).await;
    let tcp = connect_tunnel(forward.addr, &format!("localhost:{}", upstream.port())).await;
    let connector = tokio_rustls::TlsConnector::from(client_config(upstream_ca.roots()));
    let err = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer") || err.to_string().contains("unknown issuer"), "{err}");
    let capture = forward.finish().await;
    assert!(capture.connections().is_empty(), "{:?}", capture.records);
}

#[tokio::test]
async fn ws_upgrades_in_plain_proxy_requests_and_plaintext_tunnels_are_relayed() {
    let upstream = start_ws_echo(None).await;
    let mut forward = start_forward(&["127.0.0.1"], None, UpstreamProxies::direct()).await;
    let authority = format!("127.0.0.1:{}", upstream.port());

    // A plain proxy request: GET http://host/path with an upgrade (what ws:// through an HTTP proxy can be).
    let mut tcp = TcpStream::connect(forward.addr).await.unwrap();
    let request = format!(
        "GET http://{authority}/plain HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let (code, line) = tokio::time::timeout(STEP, read_response_head_exact(&mut tcp)).await.unwrap().unwrap();
    assert_eq!(code, 101, "{line}");
    let role = tokio_tungstenite::tungstenite::protocol::Role::Client;
    let client = tokio_tungstenite::WebSocketStream::from_raw_socket(tcp, role, None).await;
    echo_round_trip(client, "via absolute form").await;

    // ws:// inside a CONNECT tunnel: sniffed as plaintext.
    let tcp = connect_tunnel(forward.addr, &authority).await;
    let (client, _) = tokio_tungstenite::client_async(format!("ws://{authority}/tunnel"), tcp).await.unwrap();
    echo_round_trip(client, "via CONNECT").await;
    for _ in 0..2 {
        wait_for(&mut forward.records, |r| matches!(r, Record::Close(_)).then_some(())).await;
    }

    let capture = forward.finish().await;
    let upstreams: Vec<_> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Open(open) => open.upstream.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(upstreams, vec![format!("ws://{authority}/plain"), format!("ws://{authority}/tunnel")]);
    let texts = capture.records.iter().filter(|r| matches!(r, Record::Frame(f) if f.text_message)).count();
    assert_eq!(texts, 4, "each message once per direction");
}

#[tokio::test]
async fn an_upgrade_that_is_not_a_get_is_no_websocket_and_is_forwarded_unchanged() {
    let upstream = start_ws_echo(None).await;
    let forward = start_forward(&["127.0.0.1"], None, UpstreamProxies::direct()).await;
    let authority = format!("127.0.0.1:{}", upstream.port());
    // RFC 6455 4.1: the opening handshake is a GET. A POST with the upgrade headers is not one, so the origin
    // answers it (tungstenite refuses it), and frametap neither relays nor records a WebSocket.
    let mut tcp = TcpStream::connect(forward.addr).await.unwrap();
    let request = format!(
        "POST http://{authority}/post HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(STEP, read_response_head_exact(&mut tcp)).await.unwrap();
    if let Ok((code, line)) = answer {
        assert_ne!(code, 101, "a POST was upgraded: {line}");
    }
    drop(tcp);
    let capture = forward.finish().await;
    let opens = capture.records.iter().filter(|r| matches!(r, Record::Open(_))).count();
    assert_eq!(opens, 0, "a POST was relayed as a WebSocket: {:?}", capture.records);
}

/// A page whose answer has more header lines than hyper allows by default (100) reaches the browser whole through
/// forward mode, as it does directly. Before, frametap answered 502 "message head is too large".
#[tokio::test]
async fn an_answer_with_many_header_lines_is_forwarded_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut buf = [0u8; 4096];
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request head ended early");
            head.extend_from_slice(&buf[..n]);
        }
        let cookies: String = (0..150).map(|i| format!("Set-Cookie: c{i}=v{i}\r\n")).collect();
        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n{cookies}\r\npage");
        tcp.write_all(answer.as_bytes()).await.unwrap();
    });
    let forward = start_forward(&[], None, UpstreamProxies::direct()).await;
    let mut tcp = TcpStream::connect(forward.addr).await.unwrap();
    let request = format!("GET http://{upstream}/ HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(STEP, tcp.read_to_string(&mut answer)).await.expect("the answer timed out").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(answer.to_ascii_lowercase().matches("set-cookie: c").count(), 150, "{answer}");
    assert!(answer.ends_with("\r\n\r\npage"), "{answer}");
}
