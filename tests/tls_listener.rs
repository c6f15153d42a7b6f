//! `frametap proxy --tls`: a wss:// listener with the local CA's localhost leaf, in front of a real
//! WebSocket server, talked to by clients that do and do not trust the CA.

mod common;

#[path = "forward_support/ws.rs"]
mod ws;

use std::sync::Arc;

use frametap::event::Record;
use frametap::forward::UpstreamProxies;
use frametap::proxy::upstream::UpstreamBase;
use frametap::tls::{localhost_server_config, CertAuthority};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use ws::{echo_round_trip, proxy_config, recording_session, start_ws_echo, wait_for, STEP};

fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test]
async fn a_wss_client_trusting_the_local_ca_talks_through_the_tls_listener() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertAuthority::init(&dir.path().join("certs"), false).unwrap();
    let upstream = start_ws_echo(None).await;
    let base = UpstreamBase::parse(&format!("ws://127.0.0.1:{}", upstream.port())).unwrap();
    let config = proxy_config(base, None, UpstreamProxies::direct());
    let (session, capture_path, mut records) = recording_session(dir.path(), "proxy").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let tls = Some(localhost_server_config(&ca).unwrap());
    let server = tokio::spawn(frametap::proxy::serve_with_tls(listener, tls, config, session.sink.clone(), async {
        let _ = stopped.await;
    }));

    for name in ["localhost", "127.0.0.1"] {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let server_name = ServerName::try_from(name.to_string()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(client_config(ca.root_store().unwrap()))
            .connect(server_name, tcp)
            .await
            .unwrap();
        let url = format!("wss://{name}:{}/v1?deploymentId=d", addr.port());
        let (client, response) = tokio_tungstenite::client_async(url, tls).await.unwrap();
        assert_eq!(response.status(), 101);
        echo_round_trip(client, &format!("hello over wss via {name}")).await;
        wait_for(&mut records, |r| matches!(r, Record::Close(_)).then_some(())).await;
    }

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    session.finish().await;
    let capture = frametap::capture::read_capture(&capture_path).unwrap();
    let texts: Vec<String> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f) if f.text_message => Some(String::from_utf8_lossy(&f.payload).into_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(texts.iter().all(|t| t.starts_with("hello over wss via")), "{texts:?}");
}

#[tokio::test]
async fn clients_that_do_not_speak_trusted_tls_are_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertAuthority::init(&dir.path().join("certs"), false).unwrap();
    let other = CertAuthority::init(&dir.path().join("other"), false).unwrap();
    let config = proxy_config(UpstreamBase::parse("ws://127.0.0.1:9").unwrap(), None, UpstreamProxies::direct());
    let (session, _, mut records) = recording_session(dir.path(), "proxy").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let tls = Some(localhost_server_config(&ca).unwrap());
    let mut handshake_note = async || {
        wait_for(&mut records, |r| match r {
            Record::Note(n) if n.code == "tls-handshake-failed" => Some(n.message.clone()),
            _ => None,
        })
        .await
    };
    let server = tokio::spawn(frametap::proxy::serve_with_tls(listener, tls, config, session.sink.clone(), async {
        let _ = stopped.await;
    }));

    // A client trusting another CA.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let err = tokio_rustls::TlsConnector::from(client_config(other.root_store().unwrap()))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer") || err.to_string().contains("unknown issuer"), "{err}");
    // The session (log, UI, capture) says why, not only a debug line.
    let note = handshake_note().await;
    assert!(note.contains("the client refused frametap's certificate (TLS alert UnknownCA)"), "{note}");
    assert!(note.contains("must trust the local CA"), "{note}");

    // A plain ws:// client on the wss:// port: a plain 400 saying why, then the connection ends; it does not hang.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /v1 HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(STEP, tcp.read_to_string(&mut answer)).await.expect("the listener hung").unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer:?}");
    assert!(answer.contains("the client spoke plain HTTP (ws://) to the TLS listener: use "), "{answer:?}");
    // Bytes that are neither TLS nor HTTP: the TLS handshake fails and the connection ends.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"hello\r\n").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(STEP, tcp.read_to_end(&mut answer)).await.expect("the listener hung");
    assert!(read.is_err() || !answer.starts_with(b"HTTP/1.1 101"), "{answer:?}");
    let note = handshake_note().await;
    assert!(note.contains("the client did not speak TLS") && !note.contains("local CA"), "{note}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    session.finish().await;
}

/// The `frametap` binary: `certs init`, then `proxy --tls`. A real ws:// client on the wss:// port is refused with
/// a plain `400` whose body says to use wss:// (so a browser or curl shows why), and the log says the same instead
/// of rustls's "received corrupt message of type InvalidContentType".
#[tokio::test]
async fn a_plain_ws_client_on_the_tls_listener_is_told_to_use_wss() {
    use tokio::io::{AsyncBufReadExt as _, BufReader};
    use tokio_tungstenite::tungstenite::Error as WsError;
    let home = tempfile::tempdir().unwrap();
    let frametap = || {
        let mut command = tokio::process::Command::from(crate::common::binary::frametap_command());
        command.env("FRAMETAP_HOME", home.path()).env("NO_COLOR", "1").env_remove("RUST_LOG").kill_on_drop(true);
        command
    };
    let init = frametap().args(["certs", "init"]).output().await.unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let mut proxy = frametap()
        .args([
            "proxy",
            "--tls",
            "--listen",
            "127.0.0.1:0",
            "--no-ui",
            "--no-capture",
            "--upstream",
            "ws://127.0.0.1:9",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(proxy.stderr.take().unwrap()).lines();
    let mut next_line = async || {
        let line = tokio::time::timeout(STEP, stderr.next_line()).await.expect("frametap went quiet").unwrap();
        line.expect("frametap exited")
    };
    let wss = loop {
        let line = next_line().await;
        if let Some((_, rest)) = line.split_once("point your WebSocket client at") {
            break rest.split_whitespace().next().unwrap().trim_end_matches("/<path>").to_owned();
        }
    };
    let authority = wss.strip_prefix("wss://").expect("a wss:// listener");
    let told = format!("the client spoke plain HTTP (ws://) to the TLS listener: use {wss}/… (or run without --tls)");

    let refused = tokio_tungstenite::connect_async(format!("ws://{authority}/v1?deploymentId=d")).await;
    let Err(WsError::Http(response)) = refused else { panic!("not an HTTP refusal: {refused:?}") };
    assert_eq!(response.status(), 400);
    let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
    assert_eq!(body, format!("frametap: {told}\n"));
    let logged = loop {
        let line = next_line().await;
        if line.contains("plain HTTP") || line.contains("TLS handshake") {
            break line;
        }
    };
    assert!(logged.contains(&told), "{logged}");
    assert!(!logged.contains("InvalidContentType") && !logged.contains("corrupt"), "{logged}");
    proxy.kill().await.unwrap();
}
