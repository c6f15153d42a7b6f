//! frametap's runtime warnings as a user sees them on stderr: each a `frametap: warning:` line saying what was
//! wrong and what to do, like the warnings frametap prints as it starts, not a raw tracing `WARN` line.

// Unix only: it stops frametap with SIGTERM (or SIGKILL), which Windows cannot send to a child process.
#![cfg(unix)]

#[allow(dead_code)]
#[path = "common/binary.rs"]
mod binary;
#[allow(dead_code)]
#[path = "common/ports.rs"]
mod ports;
#[allow(dead_code)]
#[path = "common/tls.rs"]
mod tls;

use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

const STEP: Duration = Duration::from_secs(15);

/// `frametap proxy --forward` (with a local CA made first) in a fresh FRAMETAP_HOME, up to the address its banner
/// tells a browser to use; its stderr, still open.
async fn start_forward_mode(
    home: &std::path::Path,
    args: &[&str],
) -> (tokio::process::Child, String, tokio::io::Lines<BufReader<tokio::process::ChildStderr>>) {
    let init = binary::frametap_command().args(["certs", "init"]).env("FRAMETAP_HOME", home).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let mut child = binary::frametap()
        .args(["proxy", "--forward", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("FRAMETAP_HOME", home)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let marker = "set your browser's HTTP and HTTPS proxy to  http://";
    let addr = loop {
        let line = tokio::time::timeout(STEP, stderr.next_line()).await.unwrap().unwrap().expect("the banner");
        if let Some((_, rest)) = line.split_once(marker) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    (child, addr, stderr)
}

/// Forward mode's banner ends as `proxy`'s does, saying how to stop it and what stopping does; it used to end at its
/// capture line, with nothing about Ctrl-C.
#[tokio::test]
async fn the_forward_mode_banner_says_how_to_stop_it() {
    let home = tempfile::tempdir().unwrap();
    let (mut child, _addr, mut stderr) = start_forward_mode(home.path(), &["--no-ui", "--no-capture"]).await;
    loop {
        let line = tokio::time::timeout(STEP, stderr.next_line()).await.unwrap().unwrap().expect("the banner");
        if line.trim_start().starts_with("capture ") {
            break;
        }
    }
    let after = tokio::time::timeout(STEP, stderr.next_line()).await.expect("a line after the capture line");
    assert_eq!(after.unwrap().as_deref(), Some("  Ctrl-C stops (open connections get 1001)"));
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    assert!(child.wait().await.unwrap().success());
}

/// With a capture and the web UI, forward mode's banner names them in the order `proxy`'s does (capture, then web
/// UI), then says how to stop it; it printed the web UI first.
#[tokio::test]
async fn the_forward_mode_banner_lists_capture_and_web_ui_as_proxy_does() {
    let home = tempfile::tempdir().unwrap();
    let capture = home.path().join("forward.jsonl");
    let capture_arg = capture.to_str().unwrap();
    let (mut child, _addr, mut stderr) =
        start_forward_mode(home.path(), &["--ui", "127.0.0.1:0", "--capture", capture_arg]).await;
    let mut heads = Vec::new();
    loop {
        let line = tokio::time::timeout(STEP, stderr.next_line()).await.unwrap().unwrap().expect("the banner");
        let head: String = line.trim_start().split("  ").next().unwrap_or_default().to_owned();
        if ["capture", "web UI"].contains(&head.as_str()) {
            heads.push(head);
        } else if head.starts_with("Ctrl-C stops") {
            break;
        }
    }
    assert_eq!(heads, ["capture", "web UI"]);
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    assert!(child.wait().await.unwrap().success());
}

/// Sends `request` through the forward-mode proxy at `addr`: the answer, and the first stderr line naming `host`.
async fn forward_and_read_warning(
    addr: &str,
    request: String,
    host: &str,
    stderr: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
) -> (String, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(STEP, tcp.read_to_string(&mut answer)).await.unwrap().unwrap();
    let line = loop {
        let line = tokio::time::timeout(STEP, stderr.next_line()).await.unwrap().unwrap().expect("a warning");
        if line.contains(host) {
            break line;
        }
    };
    (answer, line)
}

/// A plain HTTP request through forward mode to a host that refuses connections gets a 502, and stderr a
/// `frametap: warning:` line naming the host and what to check; it used to be a tracing `WARN` line.
#[tokio::test]
async fn a_forward_mode_request_that_cannot_reach_its_host_is_a_frametap_warning() {
    let home = tempfile::tempdir().unwrap();
    let (mut child, addr, mut stderr) = start_forward_mode(home.path(), &["--no-ui", "--no-capture"]).await;
    let (_held, closed) = ports::refusing_addr();
    let request = format!("GET http://{closed}/page HTTP/1.1\r\nHost: {closed}\r\nConnection: close\r\n\r\n");
    let (answer, line) = forward_and_read_warning(&addr, request, &closed.to_string(), &mut stderr).await;
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(line.starts_with(&format!("frametap: warning: forward mode: could not reach {closed}")), "{line}");
    assert!(line.contains("the client got a 502") && line.contains("check that the host is up"), "{line}");
    assert!(!line.contains("WARN"), "{line}");
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    assert!(child.wait().await.unwrap().success());
}

/// A host that answers but whose certificate frametap does not trust is not called unreachable: the warning and
/// the 502 say what is wrong with the certificate and what to do, without the "check that the host is up" advice
/// the first version gave it.
#[tokio::test]
async fn a_forward_mode_request_to_a_host_with_an_untrusted_certificate_is_not_called_unreachable() {
    let home = tempfile::tempdir().unwrap();
    let (mut child, addr, mut stderr) = start_forward_mode(home.path(), &["--no-ui", "--no-capture"]).await;
    let pki = tls::test_pki(&["127.0.0.1"], false);
    let server = tls::start_tls_echo_server(&pki).await;
    let request = format!("GET https://{server}/page HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n");
    let (answer, line) = forward_and_read_warning(&addr, request, &server.to_string(), &mut stderr).await;
    assert!(answer.starts_with("HTTP/1.1 502") && answer.contains("--upstream-ca"), "{answer}");
    assert!(
        line.starts_with(&format!("frametap: warning: forward mode: TLS handshake with {server} failed")),
        "{line}"
    );
    assert!(line.contains("unknown issuer") && line.contains("--upstream-ca FILE"), "{line}");
    assert!(!line.contains("could not reach") && !line.contains("check that the host is up"), "{line}");
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    assert!(child.wait().await.unwrap().success());
}

/// A local CA key other users can read is said as a `frametap: warning:` line naming the file and the `chmod` to
/// run; it used to be a tracing `WARN` line with the path in a field.
#[cfg(unix)]
#[tokio::test]
async fn a_ca_key_readable_by_others_is_a_frametap_warning_naming_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let init = binary::frametap_command().args(["certs", "init"]).env("FRAMETAP_HOME", home.path()).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let key = home.path().join("certs").join("ca.key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let shown = binary::frametap_command().args(["certs", "show"]).env("FRAMETAP_HOME", home.path()).output().unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let stderr = String::from_utf8_lossy(&shown.stderr);
    let line = stderr.lines().find(|l| l.contains("CA key")).unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert_eq!(
        line,
        format!(
            "frametap: warning: the local CA key {} is readable by other users, who could then intercept your TLS: run `chmod 600 {}`",
            key.display(),
            key.display()
        )
    );
}
