//! Upstream servers for forward-mode tests: a test CA of their own, and HTTP/HTTPS servers on 127.0.0.1:0.
#![allow(dead_code)] // shared by several test binaries, each of which uses only part of it

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

/// A CA that only the test's upstream servers use (stands in for a real public CA).
pub struct TestCa {
    pub cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "upstream test CA");
        let cert = params.self_signed(&key).unwrap();
        TestCa { cert, key }
    }

    /// Writes the CA certificate as PEM into `dir` (what a user passes to `--upstream-ca`).
    pub fn write_pem(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("upstream-ca.pem");
        std::fs::write(&path, self.cert.pem()).unwrap();
        path
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der()).unwrap();
        roots
    }

    /// A server config for `names`, signed by this CA; also returns the leaf (to compare with what
    /// clients see).
    pub fn server_config(&self, names: &[&str]) -> (Arc<rustls::ServerConfig>, CertificateDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let leaf = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        (Arc::new(config), leaf.der().clone())
    }
}

/// A client config trusting only `roots`, ring provider, ALPN http/1.1.
pub fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("-").to_string();
    let body = format!("hello {} {} host={host}", req.method(), req.uri());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// An HTTP/1.1 server on 127.0.0.1:0 answering `hello METHOD URI host=HOST`; TLS when `tls` is given.
pub async fn start_hello_server(tls: Option<Arc<rustls::ServerConfig>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(hello);
                let builder = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(config) => {
                        let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await else {
                            return;
                        };
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                    }
                }
            });
        }
    });
    addr
}

/// An HTTPS server on 127.0.0.1:0 that answers the first request on each connection with
/// `HTTP/1.1 200`, `Connection: close` and `body` delimited by the end of the connection (no Content-Length, no
/// chunking), then closes TCP without a TLS close_notify, as many servers do. Browsers and curl read such a body
/// as whole.
pub async fn start_close_delimited_server(tls: Arc<rustls::ServerConfig>, body: &'static str) -> SocketAddr {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = tokio_rustls::TlsAcceptor::from(tls).accept(tcp).await else { return };
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let response =
                    format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}");
                stream.write_all(response.as_bytes()).await.unwrap();
                stream.flush().await.unwrap();
                // Drop the TCP connection under TLS: FIN, and no close_notify.
                let (tcp, _) = stream.into_inner();
                drop(tcp);
            });
        }
    });
    addr
}
