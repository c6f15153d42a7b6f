//! TLS failures in plain words, each saying what to do: one mapping for the relay's 502s and forward mode's
//! other requests (rustls prints some of them as Rust debug strings), and for clients of the `--tls` listener.

use rustls::CertificateError as C;

/// The failure of a TLS handshake with an upstream, as a sentence for a 502 body or an error line.
pub fn describe_handshake_error(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => describe(tls),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake (is it a TLS server? for plain ws:// use ws://)"
                .into()
        }
        None => e.to_string(),
    }
}

/// What a client that spoke plain HTTP (`ws://`, `http://`) to the `--tls` listener at `public_url`
/// (`wss://127.0.0.1:9000`) is told, in the log and in its `400`.
pub fn plain_http_to_tls_listener(public_url: &str) -> String {
    format!("the client spoke plain HTTP (ws://) to the TLS listener: use {public_url}/… (or run without --tls)")
}

/// The failure of a client's TLS handshake with the `--tls` listener at `public_url`, as a sentence for the log.
/// Bytes that are no TLS record (`InvalidContentType`: a plain client that did not start like an HTTP request)
/// are named as such; any other failure most often means a browser that does not trust the local CA.
pub fn describe_client_handshake_error(e: &std::io::Error, public_url: &str) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => format!(
            "the client did not speak TLS (its first bytes are no TLS record): a plain ws:// or http:// client must \
             use {public_url}/… (or run without --tls)"
        ),
        Some(rustls::Error::AlertReceived(alert)) if refuses_certificate(*alert) => {
            format!("the client refused frametap's certificate (TLS alert {alert:?}): {TRUST_AND_NAME}")
        }
        Some(other) => other.to_string(),
        None => format!(
            "{e} (a client that ends the handshake without a word often refused the certificate: {TRUST_AND_NAME})"
        ),
    }
}

/// What a client must do to accept a `--tls` listener's certificate.
const TRUST_AND_NAME: &str = "it must trust the local CA (`frametap certs show`, certs/README.md) and dial a name the \
     certificate holds (localhost, 127.0.0.1, ::1, or the --listen address)";

/// The TLS alerts a client sends when it does not accept the server's certificate.
fn refuses_certificate(alert: rustls::AlertDescription) -> bool {
    use rustls::AlertDescription as A;
    matches!(alert, A::BadCertificate | A::UnsupportedCertificate | A::CertificateUnknown | A::UnknownCA)
}

/// A rustls error as a sentence.
pub fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(cert) => describe_certificate(cert),
        rustls::Error::InvalidMessage(_) => {
            format!("the server did not answer with TLS ({e}): is it a plain ws:// server? then use ws://")
        }
        rustls::Error::AlertReceived(alert) => format!("the server refused the TLS handshake (TLS alert {alert:?})"),
        rustls::Error::PeerIncompatible(_) => format!(
            "the server and frametap have no TLS version or cipher suite in common (frametap speaks TLS 1.2 and 1.3 \
             with current cipher suites): {e}"
        ),
        other => other.to_string(),
    }
}

/// What to do when a certificate cannot be fixed right away.
const THROWAWAY: &str = "or --insecure-upstream for a throwaway test";

/// A name as rustls presents it (`DnsName("localhost")`, `IpAddress(127.0.0.1)`, its `Debug` form), as a user
/// writes it (`localhost`, `127.0.0.1`); anything else as it came.
fn plain_name(name: &str) -> &str {
    let inner = |prefix: &str| name.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(')'));
    match (inner("DnsName("), inner("IpAddress(")) {
        (Some(dns), _) => dns.trim_matches('"'),
        (_, Some(ip)) => ip,
        _ => name,
    }
}

fn describe_certificate(e: &C) -> String {
    #[allow(deprecated)] // rustls still returns the deprecated variant for some algorithms
    match e {
        C::UnknownIssuer => "certificate signed by an unknown issuer (give its CA with --upstream-ca FILE)".into(),
        C::Expired | C::ExpiredContext { .. } => {
            "certificate has expired (renew it; if it should still be valid, check this machine's clock)".into()
        }
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "certificate is not valid yet (check this machine's clock, or the certificate's start date)".into()
        }
        C::NotValidForName => "certificate is not valid for this host name (name mismatch)".into(),
        C::NotValidForNameContext { expected, presented } => {
            let names = match presented.as_slice() {
                [] => "no host name".to_owned(),
                list => list.iter().map(|name| plain_name(name)).collect::<Vec<_>>().join(", "),
            };
            format!(
                "certificate is not valid for {} (name mismatch): it names {names}; use one of those in --upstream, \
                 or reissue the certificate with this name in its subjectAltName",
                expected.to_str()
            )
        }
        C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => format!(
            "certificate is signed with an algorithm frametap does not accept (such as SHA-1 or MD5): reissue it \
             signed with SHA-256 (RSA or ECDSA), {THROWAWAY}"
        ),
        C::BadSignature => format!(
            "certificate's signature does not verify: it was not signed by the certificate it names as its issuer \
             (a damaged or mismatched chain), {THROWAWAY}"
        ),
        C::BadEncoding => format!("certificate is not valid DER (damaged), {THROWAWAY}"),
        C::Revoked => "certificate has been revoked by its issuer".into(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => format!(
            "certificate is not meant for TLS servers (its extended key usage lacks serverAuth): reissue it with \
             serverAuth, {THROWAWAY}"
        ),
        C::UnhandledCriticalExtension => {
            format!("certificate has a critical extension frametap does not understand, {THROWAWAY}")
        }
        C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(webpki) => describe_webpki(webpki),
            None => format!("certificate refused: {other}, {THROWAWAY}"),
        },
        other => format!("certificate refused: {other:?}, {THROWAWAY}"),
    }
}

/// The webpki errors rustls passes on as `CertificateError::Other` (printed as a debug string).
fn describe_webpki(e: &webpki::Error) -> String {
    use webpki::Error as W;
    match e {
        W::CaUsedAsEndEntity => format!(
            "the server presents a CA certificate as its own (typical of `openssl req -x509` with its defaults, \
             which mark the certificate CA:TRUE): make a CA, sign a leaf certificate for the host with it, serve \
             the leaf and give the CA with --upstream-ca FILE; {THROWAWAY}"
        ),
        W::EndEntityUsedAsCa => format!(
            "the server's certificate was issued by a certificate that is not a CA (CA:FALSE): give the real CA \
             with --upstream-ca FILE, {THROWAWAY}"
        ),
        W::UnsupportedCertVersion => format!(
            "certificate is an old X.509 v1 certificate (`openssl x509 -req` without extensions makes these): \
             reissue it as v3 with a subjectAltName, {THROWAWAY}"
        ),
        W::MalformedExtensions | W::ExtensionValueInvalid | W::EmptyEkuExtension => {
            format!("certificate has malformed extensions (webpki: {e:?}), {THROWAWAY}")
        }
        W::PathLenConstraintViolated | W::NameConstraintViolation => {
            format!("the certificate chain breaks a constraint of its CA (webpki: {e:?}), {THROWAWAY}")
        }
        W::CertDistrusted => "certificate's key is explicitly distrusted".into(),
        W::UnsupportedCriticalExtension => {
            format!("certificate has a critical extension frametap does not understand, {THROWAWAY}")
        }
        other => format!("certificate refused (webpki: {other:?}), {THROWAWAY}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::OtherError;
    use std::sync::Arc;

    fn cert(e: C) -> String {
        describe(&rustls::Error::InvalidCertificate(e))
    }

    fn webpki_error(e: webpki::Error) -> String {
        cert(C::Other(OtherError(Arc::new(e))))
    }

    /// Each used to reach the client as a Rust debug string (`Other(OtherError(CaUsedAsEndEntity))`).
    #[test]
    #[allow(deprecated)]
    fn certificate_errors_are_sentences_that_say_what_to_do() {
        let ca = webpki_error(webpki::Error::CaUsedAsEndEntity);
        assert!(ca.contains("CA certificate as its own") && ca.contains("--upstream-ca"), "{ca}");
        assert!(ca.contains("openssl req -x509") && ca.contains("--insecure-upstream"), "{ca}");
        let v1 = webpki_error(webpki::Error::UnsupportedCertVersion);
        assert!(v1.contains("v1") && !v1.contains("Other("), "{v1}");
        let algorithm = cert(C::UnsupportedSignatureAlgorithm);
        assert!(algorithm.contains("SHA-1") && algorithm.contains("SHA-256"), "{algorithm}");
        let purpose = cert(C::InvalidPurpose);
        assert!(purpose.contains("serverAuth"), "{purpose}");
        for text in [ca, v1, algorithm, purpose, webpki_error(webpki::Error::MaximumPathDepthExceeded)] {
            assert!(!text.contains("OtherError"), "{text}");
        }
    }

    #[test]
    fn a_client_that_does_not_speak_tls_is_named_and_others_point_at_the_local_ca() {
        let url = "wss://127.0.0.1:9000";
        let plain = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let said = describe_client_handshake_error(&std::io::Error::new(std::io::ErrorKind::InvalidData, plain), url);
        assert!(said.contains("did not speak TLS") && said.contains("use wss://127.0.0.1:9000/…"), "{said}");
        assert!(!said.contains("InvalidContentType"), "{said}");
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate);
        let said = describe_client_handshake_error(&std::io::Error::new(std::io::ErrorKind::InvalidData, alert), url);
        assert!(said.contains("must trust the local CA"), "{said}");
        let told = plain_http_to_tls_listener(url);
        assert_eq!(told, "the client spoke plain HTTP (ws://) to the TLS listener: use wss://127.0.0.1:9000/… (or run without --tls)");
    }

    #[test]
    fn a_plain_server_on_a_tls_port_is_named() {
        let e = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert!(describe(&e).contains("plain ws:// server"), "{}", describe(&e));
    }
}
