//! A client using frametap as its HTTP proxy, for forward-mode tests: CONNECT tunnels, TLS inside them trusting
//! given roots, HTTP requests over any stream.
#![allow(dead_code)] // shared by several test binaries, each of which uses only part of it

use std::net::SocketAddr;

use bytes::Bytes;
use frametap::forward::head::read_response_head_exact;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::servers::client_config;
use super::ws::STEP;

/// Opens a CONNECT tunnel through `proxy` to `target`; panics unless the proxy answers 200.
pub async fn connect_tunnel(proxy: SocketAddr, target: &str) -> TcpStream {
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
pub async fn get<IO>(io: IO, uri: &str, host: &str) -> (u16, String)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let response = request(io, "GET", uri, host, &[]).await;
    (response.status().as_u16(), String::from_utf8_lossy(response.body()).into_owned())
}

/// Sends `METHOD uri` with `headers` (no body) over `io` with hyper; returns the whole response.
pub async fn request<IO>(io: IO, method: &str, uri: &str, host: &str, headers: &[(&str, &str)]) -> http::Response<Bytes>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder().method(method).uri(uri).header("host", host);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Empty::<Bytes>::new()).unwrap();
    let resp = tokio::time::timeout(STEP, sender.send_request(req)).await.expect("response timed out").unwrap();
    let (parts, body) = resp.into_parts();
    http::Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

/// TLS over `tcp` trusting only `roots`; returns the stream and the certificate the server showed.
pub async fn tls_client(
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
