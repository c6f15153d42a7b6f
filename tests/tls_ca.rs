//! The local CA and its leaf certificates: files and modes, `certs` output, clear errors, and real TLS
//! handshakes between a tokio-rustls server and a rustls client that trusts only the CA.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use frametap::tls::command::run_certs_to;
use frametap::tls::{
    issue_leaf, listener_server_config, localhost_server_config, CaError, CertAuthority, CertsCommand, CertsDirArg,
    LeafIssuer,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{LazyConfigAcceptor, TlsConnector};
use x509_parser::extensions::GeneralName;

const STEP: Duration = Duration::from_secs(5);

fn certs_arg(dir: &Path) -> CertsDirArg {
    CertsDirArg { certs: Some(dir.to_path_buf()) }
}

fn run(cmd: CertsCommand) -> anyhow::Result<String> {
    let mut out = Vec::new();
    run_certs_to(cmd, &mut out)?;
    Ok(String::from_utf8(out).expect("certs output is UTF-8"))
}

fn fingerprint_in(output: &str) -> String {
    let line = output
        .lines()
        .find(|l| l.contains("SHA-256 fingerprint:"))
        .unwrap_or_else(|| panic!("no fingerprint line in:\n{output}"));
    line.rsplit(' ').next().unwrap().to_string()
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
#[cfg(unix)]
fn init_creates_a_private_key_and_a_private_folder() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("nested").join("certs");
    let ca = CertAuthority::init(&dir, false).unwrap();
    assert_eq!(mode_of(&dir), 0o700, "certs folder");
    assert_eq!(mode_of(&dir.join("ca.key.pem")), 0o600, "CA key");
    assert_eq!(mode_of(&dir.join("ca.pem")), 0o644, "CA certificate");
    let key = std::fs::read_to_string(dir.join("ca.key.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    assert_eq!(ca.cert_path(), dir.join("ca.pem"));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "ca.pem" && n != "ca.key.pem")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn show_prints_the_fingerprint_init_printed() {
    let home = tempfile::tempdir().unwrap();
    let init = run(CertsCommand::Init { certs: certs_arg(home.path()), force: false }).unwrap();
    let show = run(CertsCommand::Show { certs: certs_arg(home.path()) }).unwrap();
    let fingerprint = fingerprint_in(&init);
    assert_eq!(fingerprint.len(), 32 * 3 - 1, "{fingerprint}");
    assert_eq!(fingerprint, fingerprint_in(&show));
    let loaded = CertAuthority::load(home.path()).unwrap();
    assert_eq!(fingerprint, loaded.fingerprint_sha256());
    for expected in ["Firefox", "Chrome", "macOS", "Windows", "Remove it", "README.md"] {
        assert!(init.contains(expected), "init output lacks {expected:?}:\n{init}");
    }
    for expected in ["Subject:", "CN=frametap local CA", "Not before:", "Not after:", "ca.pem"] {
        assert!(show.contains(expected), "show output lacks {expected:?}:\n{show}");
    }
}

#[test]
fn init_refuses_to_replace_a_ca_unless_forced() {
    let home = tempfile::tempdir().unwrap();
    let first = CertAuthority::init(home.path(), false).unwrap();
    let err = CertAuthority::init(home.path(), false).unwrap_err();
    assert!(matches!(err.downcast_ref::<CaError>(), Some(CaError::AlreadyExists { .. })), "{err:#}");
    // The folder is not the default one: the command that replaces the CA names it (a bare `certs init --force`
    // would replace the default CA, which browsers may trust, and leave this one).
    let replace = format!("replace it with `frametap certs init --certs {} --force`", home.path().display());
    assert!(format!("{err:#}").contains(&replace), "{err:#}");
    let unchanged = CertAuthority::load(home.path()).unwrap();
    assert_eq!(first.fingerprint_sha256(), unchanged.fingerprint_sha256());
    let replaced = CertAuthority::init(home.path(), true).unwrap();
    assert_ne!(first.fingerprint_sha256(), replaced.fingerprint_sha256());
}

#[test]
fn a_missing_ca_names_the_file_and_the_fix() {
    let home = tempfile::tempdir().unwrap();
    let err = run(CertsCommand::Show { certs: certs_arg(home.path()) }).unwrap_err();
    let text = format!("{err:#}");
    assert!(matches!(err.downcast_ref::<CaError>(), Some(CaError::Missing { .. })), "{text}");
    assert!(text.contains(&home.path().join("ca.pem").display().to_string()), "{text}");
    // The folder was given with --certs: a bare `frametap certs init` would create the CA elsewhere.
    let init = format!("create one there with `frametap certs init --certs {}`", home.path().display());
    assert!(text.contains(&init), "{text}");
}

#[test]
fn a_damaged_key_names_the_file_and_the_fix() {
    let home = tempfile::tempdir().unwrap();
    CertAuthority::init(home.path(), false).unwrap();
    let key_path = home.path().join("ca.key.pem");
    std::fs::write(&key_path, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n").unwrap();
    let err = CertAuthority::load(home.path()).unwrap_err();
    let text = format!("{err:#}");
    assert!(matches!(err.downcast_ref::<CaError>(), Some(CaError::Damaged { .. })), "{text}");
    assert!(text.contains(&key_path.display().to_string()), "{text}");
    let recreate = format!("recreate the CA with `frametap certs init --certs {} --force`", home.path().display());
    assert!(text.contains(&recreate), "{text}");
}

#[test]
fn a_key_from_another_ca_is_reported_as_not_belonging() {
    let ours = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    CertAuthority::init(ours.path(), false).unwrap();
    CertAuthority::init(other.path(), false).unwrap();
    std::fs::copy(other.path().join("ca.key.pem"), ours.path().join("ca.key.pem")).unwrap();
    let text = format!("{:#}", CertAuthority::load(ours.path()).unwrap_err());
    assert!(text.contains("does not belong"), "{text}");
    assert!(text.contains("ca.key.pem"), "{text}");
}

#[test]
fn a_damaged_certificate_names_the_file() {
    let home = tempfile::tempdir().unwrap();
    CertAuthority::init(home.path(), false).unwrap();
    std::fs::write(home.path().join("ca.pem"), "garbage\n").unwrap();
    let text = format!("{:#}", CertAuthority::load(home.path()).unwrap_err());
    assert!(text.contains("ca.pem") && text.contains("damaged"), "{text}");
}

#[test]
fn the_default_folder_follows_frametap_home() {
    // The only test in this binary that touches the environment.
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("FRAMETAP_HOME", home.path());
    let dir = frametap::tls::default_certs_dir().unwrap();
    std::env::remove_var("FRAMETAP_HOME");
    assert_eq!(dir, home.path().join("certs"));
    assert_eq!(CertsDirArg::default().resolve().ok(), frametap::tls::default_certs_dir().ok());
}

#[test]
fn leaf_certificates_carry_san_server_auth_and_a_bounded_validity() {
    let home = tempfile::tempdir().unwrap();
    let ca = CertAuthority::init(home.path(), false).unwrap();
    let leaf = issue_leaf(&ca, &["webmessaging.example.test", "127.0.0.1"]).unwrap();
    assert_leaf_properties(&leaf.cert, &ca, "webmessaging.example.test");
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf.cert).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    let has_ip = san.value.general_names.iter().any(|n| match n {
        GeneralName::IPAddress(bytes) => *bytes == [127, 0, 0, 1],
        _ => false,
    });
    assert!(has_ip, "{:?}", san.value.general_names);
}

#[test]
fn the_issuer_caches_one_config_per_host() {
    let home = tempfile::tempdir().unwrap();
    let issuer = LeafIssuer::new(CertAuthority::init(home.path(), false).unwrap());
    let a = issuer.server_config_for("a.example.test").unwrap();
    let again = issuer.server_config_for("A.Example.TEST.").unwrap();
    let b = issuer.server_config_for("b.example.test").unwrap();
    assert!(Arc::ptr_eq(&a, &again));
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(issuer.cached_hosts(), 2);
    assert_eq!(a.alpn_protocols, vec![b"http/1.1".to_vec()]);
    let err = issuer.server_config_for("bad host").unwrap_err();
    assert!(format!("{err:#}").contains("bad host"), "{err:#}");
}

/// Checks what every leaf must carry: the name in the SAN, serverAuth, issued by the CA, ≤ 397 days.
fn assert_leaf_properties(der: &CertificateDer<'_>, ca: &CertAuthority, dns_name: &str) {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    assert!(!cert.is_ca(), "a leaf must not be a CA");
    let san = cert.subject_alternative_name().unwrap().expect("a SAN extension");
    let has_name = san.value.general_names.iter().any(|n| match n {
        GeneralName::DNSName(name) => *name == dns_name,
        _ => false,
    });
    assert!(has_name, "{dns_name} not in {:?}", san.value.general_names);
    let eku = cert.extended_key_usage().unwrap().expect("an EKU extension").value;
    assert!(eku.server_auth, "EKU lacks serverAuth");
    assert!(!eku.client_auth && !eku.any, "EKU allows more than serverAuth");
    let now = time::OffsetDateTime::now_utc();
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    assert!(not_before < now, "not_before {not_before} is not in the past");
    assert!(not_before > now - time::Duration::minutes(5), "not_before {not_before} too early");
    assert!(not_after - not_before <= time::Duration::days(397), "valid {}", not_after - not_before);
    assert!(not_after > now + time::Duration::days(30), "not_after {not_after} too soon");
    assert_eq!(cert.issuer().to_string(), ca.subject());
}

/// A TLS echo server on 127.0.0.1:0 that picks its config by SNI (falling back to the address the
/// client dialled, as clients send no SNI for IP addresses), the way forward mode terminates TLS.
async fn start_echo_server(issuer: Arc<LeafIssuer>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let issuer = issuer.clone();
            tokio::spawn(async move {
                let local_ip = tcp.local_addr()?.ip().to_string();
                let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
                let host = start.client_hello().server_name().map(str::to_string);
                let config =
                    issuer.server_config_for(host.as_deref().unwrap_or(&local_ip)).map_err(std::io::Error::other)?;
                let tls = start.into_stream(config).await?;
                let (read, mut write) = tokio::io::split(tls);
                let mut line = String::new();
                BufReader::new(read).read_line(&mut line).await?;
                write.write_all(line.as_bytes()).await?;
                write.shutdown().await
            });
        }
    });
    addr
}

/// Connects with a client that trusts only `roots`, sends a line, returns (echo, ALPN, peer leaf).
async fn talk(
    addr: SocketAddr,
    roots: rustls::RootCertStore,
    name: ServerName<'static>,
) -> std::io::Result<(String, Option<Vec<u8>>, CertificateDer<'static>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr).await?;
    let tls = tokio::time::timeout(STEP, TlsConnector::from(Arc::new(config)).connect(name, tcp))
        .await
        .expect("handshake timed out")?;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (read, mut write) = tokio::io::split(tls);
    write.write_all(b"hello through TLS\n").await?;
    let mut line = String::new();
    tokio::time::timeout(STEP, BufReader::new(read).read_line(&mut line)).await.expect("echo timed out")?;
    Ok((line, alpn, leaf))
}

#[tokio::test]
async fn a_client_trusting_only_the_ca_accepts_leaves_by_sni_name_and_by_ip() {
    let home = tempfile::tempdir().unwrap();
    let ca = CertAuthority::init(home.path(), false).unwrap();
    let roots = ca.root_store().unwrap();
    let issuer = Arc::new(LeafIssuer::new(CertAuthority::load(home.path()).unwrap()));
    let addr = start_echo_server(issuer.clone()).await;

    let name = ServerName::try_from("webmessaging.example.test").unwrap();
    let (echo, alpn, leaf) = talk(addr, roots.clone(), name).await.unwrap();
    assert_eq!(echo, "hello through TLS\n");
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]), "only http/1.1 may be negotiated");
    assert_leaf_properties(&leaf, &ca, "webmessaging.example.test");

    let ip = ServerName::IpAddress(IpAddr::from([127, 0, 0, 1]).into());
    let (echo, _, _) = talk(addr, roots, ip).await.unwrap();
    assert_eq!(echo, "hello through TLS\n");
    assert_eq!(issuer.cached_hosts(), 2);
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_refuses_the_leaf() {
    let home = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let issuer = Arc::new(LeafIssuer::new(CertAuthority::init(home.path(), false).unwrap()));
    let stranger = CertAuthority::init(other.path(), false).unwrap();
    let addr = start_echo_server(issuer).await;
    let name = ServerName::try_from("webmessaging.example.test").unwrap();
    let err = talk(addr, stranger.root_store().unwrap(), name).await.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer") || err.to_string().contains("unknown issuer"), "{err}");
}

#[tokio::test]
async fn the_localhost_config_serves_localhost_and_both_loopback_addresses() {
    let home = tempfile::tempdir().unwrap();
    let ca = CertAuthority::init(home.path(), false).unwrap();
    let config = localhost_server_config(&ca).unwrap();
    let addr = start_tls_echo(config).await;
    let names = [
        ServerName::try_from("localhost").unwrap(),
        ServerName::IpAddress(IpAddr::from([127, 0, 0, 1]).into()),
        ServerName::IpAddress("::1".parse::<IpAddr>().unwrap().into()),
    ];
    for name in names {
        let (echo, alpn, _) = talk(addr, ca.root_store().unwrap(), name.clone()).await.unwrap();
        assert_eq!(echo, "hello through TLS\n", "{name:?}");
        assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    }
    let wrong = ServerName::try_from("example.com").unwrap();
    let err = talk(addr, ca.root_store().unwrap(), wrong).await.unwrap_err();
    assert!(err.to_string().contains("not valid for name"), "{err}");
}

/// A TLS echo server on loopback presenting `config`'s certificate: one line back per connection.
async fn start_tls_echo(config: Arc<rustls::ServerConfig>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let tls = acceptor.accept(tcp).await?;
                let (read, mut write) = tokio::io::split(tls);
                let mut line = String::new();
                BufReader::new(read).read_line(&mut line).await?;
                write.write_all(line.as_bytes()).await?;
                write.shutdown().await
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_listener_on_another_address_also_names_it_and_one_on_every_address_does_not() {
    let home = tempfile::tempdir().unwrap();
    let ca = CertAuthority::init(home.path(), false).unwrap();
    let lan: IpAddr = "192.0.2.7".parse().unwrap();
    let addr = start_tls_echo(listener_server_config(&ca, lan).unwrap()).await;
    for name in [ServerName::IpAddress(lan.into()), ServerName::try_from("localhost").unwrap()] {
        let (echo, _, _) = talk(addr, ca.root_store().unwrap(), name.clone()).await.unwrap();
        assert_eq!(echo, "hello through TLS\n", "{name:?}");
    }
    let everywhere = start_tls_echo(listener_server_config(&ca, "0.0.0.0".parse().unwrap()).unwrap()).await;
    let err = talk(everywhere, ca.root_store().unwrap(), ServerName::IpAddress(lan.into())).await.unwrap_err();
    assert!(err.to_string().contains("not valid for name"), "{err}");
    let (echo, _, _) =
        talk(everywhere, ca.root_store().unwrap(), ServerName::try_from("localhost").unwrap()).await.unwrap();
    assert_eq!(echo, "hello through TLS\n");
}

fn frametap(args: &[&str]) -> std::process::Output {
    crate::common::binary::frametap_command()
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("the frametap binary runs")
}

#[test]
fn the_certs_commands_work_from_the_command_line() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("certs");
    let dir_arg = dir.to_str().unwrap();
    let init = frametap(&["certs", "init", "--certs", dir_arg]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let show = frametap(&["certs", "show", "--certs", dir_arg]);
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    let (init_out, show_out) = (String::from_utf8(init.stdout).unwrap(), String::from_utf8(show.stdout).unwrap());
    assert_eq!(fingerprint_in(&init_out), fingerprint_in(&show_out));
    // The SPKI hash Chromium's --ignore-certificate-errors-spki-list takes, as certs/README.md's openssl pipeline
    // computes it.
    let spki_line = show_out.lines().find(|l| l.starts_with("SPKI SHA-256:")).expect("an SPKI line");
    let spki = spki_line.split_whitespace().nth(2).unwrap();
    #[cfg(unix)] // a POSIX shell and openssl
    {
        let pipeline = format!(
            "openssl x509 -in {}/ca.pem -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 \
             -binary | base64",
            dir_arg
        );
        let openssl = std::process::Command::new("sh").args(["-c", &pipeline]).output().unwrap();
        assert!(openssl.status.success(), "{}", String::from_utf8_lossy(&openssl.stderr));
        assert_eq!(spki, String::from_utf8(openssl.stdout).unwrap().trim(), "{show_out}");
    }
    assert!(spki_line.ends_with(&format!("(base64; Chromium: --ignore-certificate-errors-spki-list={spki})")));

    let again = frametap(&["certs", "init", "--certs", dir_arg]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));

    let missing = home.path().join("nowhere");
    let missing_arg = missing.to_str().unwrap();
    let show = frametap(&["certs", "show", "--certs", missing_arg]);
    let stderr = String::from_utf8_lossy(&show.stderr);
    assert!(!show.status.success());
    assert!(stderr.contains("ca.pem") && stderr.contains("frametap certs init"), "{stderr}");
    // Every TLS mode refuses to start without a CA, before listening, with the same advice.
    for mode in [&["proxy", "--tls", "--upstream", "ws://127.0.0.1:9"][..], &["proxy", "--forward"][..]] {
        let mut args = mode.to_vec();
        args.extend(["--listen", "127.0.0.1:0", "--no-capture", "--certs", missing_arg]);
        let out = frametap(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains("frametap certs init"), "{args:?}: {stderr}");
    }
}
