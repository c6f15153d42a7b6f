//! The `frametap` binary itself: bad flags and files give clear errors; a real run prints where to connect,
//! logs frames live, and saves a private capture on SIGTERM.

mod common;

use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn frametap() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_frametap"));
    command.env("NO_COLOR", "1").stdin(Stdio::null());
    command
}

async fn fails_with(args: &[&str], home: &std::path::Path) -> String {
    let output = frametap().args(args).env("FRAMETAP_HOME", home).output().await.unwrap();
    assert!(!output.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn bad_input_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let err = fails_with(&["proxy", "--upstream", "http://example.com"], home.path()).await;
    assert!(err.contains("must start with ws:// or wss://"), "{err}");
    let err = fails_with(&["proxy", "--upstream", "ws://x", "--max-message", "12X"], home.path()).await;
    assert!(err.contains("unknown size unit"), "{err}");
    let err = fails_with(&["proxy", "--upstream", "ws://x", "--set-header", "no colon"], home.path()).await;
    assert!(err.contains("Name: value"), "{err}");
    let existing = home.path().join("existing.jsonl");
    std::fs::write(&existing, "keep me").unwrap();
    let err = fails_with(
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "ws://127.0.0.1:1",
            "--capture",
            existing.to_str().unwrap(),
        ],
        home.path(),
    )
    .await;
    assert!(err.contains("already exists") && err.contains("never overwrites"), "{err}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = fails_with(&["proxy", "--listen", &addr, "--upstream", "ws://127.0.0.1:1"], home.path()).await;
    assert!(err.contains("port is in use") && err.contains("--listen"), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_real_run_logs_frames_and_saves_a_private_capture_on_sigterm() {
    use futures_util::{SinkExt, StreamExt};
    let server = common::start_echo_server().await;
    let home = tempfile::tempdir().unwrap();
    let mut child = frametap()
        .args(["proxy", "--listen", "127.0.0.1:0", "--ui", "127.0.0.1:0", "--upstream", &format!("ws://{server}")])
        .env("FRAMETAP_HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let url = loop {
        let line = stderr.next_line().await.unwrap().expect("the banner names the URL to connect to");
        banner.push(line.clone());
        if let Some(rest) = line.split("point your WebSocket client at").nth(1) {
            break rest.split_whitespace().next().unwrap().trim_end_matches("/<path>").to_owned();
        }
    };
    let (mut capture_line, mut ui_line) = (None, None);
    while capture_line.is_none() || ui_line.is_none() {
        let line = stderr.next_line().await.unwrap().unwrap();
        if line.trim_start().starts_with("capture") {
            capture_line = Some(line);
        } else if line.trim_start().starts_with("web UI") {
            ui_line = Some(line);
        }
    }
    assert!(ui_line.unwrap().contains("http://127.0.0.1:"), "the banner prints the UI's URL with its token");
    let capture_path = capture_line.unwrap().split_whitespace().last().unwrap().to_owned();
    assert!(capture_path.starts_with(home.path().join("captures").to_str().unwrap()), "{capture_path}");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}/v1?deploymentId=x")).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text(r#"{"action": "echo"}"#)).await.unwrap();
    ws.next().await.unwrap().unwrap();
    let mut logged = Vec::new();
    while !logged.iter().any(|l: &String| l.contains("#1 S→C text")) {
        logged.push(stdout.next_line().await.unwrap().expect("the server's frame is logged"));
    }
    assert!(logged[0].contains("#1 GET /v1?deploymentId=x"), "{logged:?}");
    assert!(logged.iter().any(|l| l.contains("#1 C→S text") && l.contains(r#"{"action":"echo"}"#)), "{logged:?}");
    // deploymentId in the URL selects the Genesys profile, which annotates (and lints) the request.
    assert!(logged.iter().any(|l| l.contains("↳ echo") && l.contains("configureSession")), "{logged:?}");
    let pid = child.id().unwrap() as i32;
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let close = ws.next().await.unwrap().unwrap();
    assert!(matches!(close, tokio_tungstenite::tungstenite::Message::Close(Some(ref f)) if u16::from(f.code) == 1001));
    assert!(ws.next().await.is_none(), "the close handshake completes");
    drop(ws);
    let status = child.wait().await.unwrap();
    assert!(status.success(), "exit status {status}");
    let text = std::fs::read_to_string(&capture_path).unwrap();
    assert!(text.lines().last().unwrap().contains(r#""kind":"end""#), "{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&capture_path).unwrap().permissions().mode() & 0o777, 0o600);
}
