//! wss:// upstreams: verified against --upstream-ca, and every TLS failure named in the 502.

mod common;

use common::tls::{start_tls_echo_server, test_pki};
use common::{frames, start_proxy, test_config};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

fn ca_file(pem: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pem).unwrap();
    file
}

/// A proxy in front of a TLS echo server presenting `pki`'s certificate, trusting `pki`'s CA.
async fn proxy_trusting_ca_of(pki: &common::tls::TestPki) -> (common::Proxy, tempfile::NamedTempFile) {
    let server = start_tls_echo_server(pki).await;
    let ca = ca_file(&pki.ca_pem);
    let mut config = test_config(&format!("wss://localhost:{}", server.port()));
    config.tls = frametap::tls::upstream::client_config(Some(ca.path()), false).unwrap();
    (start_proxy(config).await, ca)
}

async fn refusal_body(proxy_addr: std::net::SocketAddr) -> String {
    let (head, ws, body) = common::raw::connect(proxy_addr, "/v1", &[]).await;
    assert!(ws.is_none());
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    String::from_utf8_lossy(&body).into_owned()
}

#[tokio::test]
async fn a_wss_upstream_signed_by_the_given_ca_works() {
    let (proxy, _ca) = proxy_trusting_ca_of(&test_pki(&["localhost"], false)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(proxy.ws_url("/v1")).await.unwrap();
    ws.send(Message::text("over TLS")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap().into_text().unwrap().as_str(), "over TLS");
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let capture = proxy.stop().await;
    assert_eq!(frames(&capture)[0].text(), Some("over TLS"));
}

#[tokio::test]
async fn an_unknown_issuer_is_named() {
    let pki = test_pki(&["localhost"], false);
    let server = start_tls_echo_server(&pki).await;
    let proxy = start_proxy(test_config(&format!("wss://localhost:{}", server.port()))).await;
    let body = refusal_body(proxy.addr).await;
    assert!(body.contains("unknown issuer") && body.contains("--upstream-ca"), "{body}");
    proxy.stop().await;
}

#[tokio::test]
async fn a_name_mismatch_is_named() {
    let (proxy, _ca) = proxy_trusting_ca_of(&test_pki(&["other.example"], false)).await;
    let body = refusal_body(proxy.addr).await;
    assert!(body.contains("name mismatch"), "{body}");
    // The names as a user writes them, not rustls's `DnsName("other.example")`.
    assert!(body.contains("it names other.example;") && !body.contains("DnsName"), "{body}");
    proxy.stop().await;
}

#[tokio::test]
async fn an_expired_certificate_is_named() {
    let (proxy, _ca) = proxy_trusting_ca_of(&test_pki(&["localhost"], true)).await;
    let body = refusal_body(proxy.addr).await;
    assert!(body.contains("expired"), "{body}");
    proxy.stop().await;
}

/// What `openssl req -x509` makes by default: a self-signed certificate marked CA:TRUE, served as the leaf.
fn self_signed_ca_as_leaf() -> common::tls::TestPki {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    common::tls::TestPki {
        ca_pem: cert.pem(),
        server_chain: vec![cert.der().clone()],
        server_key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    }
}

/// It used to reach the client as `invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))`.
#[tokio::test]
async fn a_ca_certificate_served_as_the_leaf_is_explained_with_or_without_upstream_ca() {
    let pki = self_signed_ca_as_leaf();
    let (trusting, _ca) = proxy_trusting_ca_of(&pki).await;
    let server = start_tls_echo_server(&pki).await;
    let not_trusting = start_proxy(test_config(&format!("wss://localhost:{}", server.port()))).await;
    for proxy in [trusting, not_trusting] {
        let body = refusal_body(proxy.addr).await;
        assert!(body.contains("presents a CA certificate as its own") && body.contains("openssl req -x509"), "{body}");
        assert!(body.contains("--upstream-ca FILE") && !body.contains("OtherError"), "{body}");
        proxy.stop().await;
    }
}

#[tokio::test]
async fn insecure_upstream_skips_verification() {
    let pki = test_pki(&["other.example"], false);
    let server = start_tls_echo_server(&pki).await;
    let mut config = test_config(&format!("wss://localhost:{}", server.port()));
    config.tls = frametap::tls::upstream::client_config(None, true).unwrap();
    let proxy = start_proxy(config).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(proxy.ws_url("/")).await.unwrap();
    ws.send(Message::text("unverified")).await.unwrap();
    assert!(ws.next().await.unwrap().is_ok());
    drop(ws);
    proxy.stop().await;
}

#[tokio::test]
async fn a_dns_failure_is_named() {
    let proxy = start_proxy(test_config("ws://no-such-host.invalid")).await;
    let body = refusal_body(proxy.addr).await;
    assert!(body.contains("DNS lookup of no-such-host.invalid failed"), "{body}");
    proxy.stop().await;
}

#[test]
fn a_bad_ca_file_is_a_clear_error() {
    let file = ca_file("not a certificate");
    let err = frametap::tls::upstream::client_config(Some(file.path()), false).unwrap_err();
    assert!(format!("{err:#}").contains("holds no PEM certificate"), "{err:#}");
}
