//! The relays under test, each a child process that prints where it listens: frametap (capture off or on,
//! this build or a baseline binary), the byte-level TCP relay (the floor), and websocat and mitmproxy when
//! installed.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A relay process under test (or none, for the direct connection).
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) child: Option<tokio::process::Child>,
    /// Where frametap writes its capture, for the targets with capture on.
    pub(crate) capture: Option<Capture>,
}

/// A frametap target's capture: its file and `--capture-format`, and the frametap binary that writes it.
#[derive(Clone)]
pub(crate) struct Capture {
    pub(crate) path: std::path::PathBuf,
    pub(crate) format: &'static str,
    pub(crate) binary: std::path::PathBuf,
}

pub(crate) async fn spawn_listening(
    mut command: tokio::process::Command,
    marker: &str,
) -> (tokio::process::Child, SocketAddr) {
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next_line().await.unwrap().expect("the relay printed its address");
        if let Some(rest) = line.split(marker).nth(1) {
            let addr = rest.split_whitespace().next().unwrap().trim_start_matches("ws://").trim_end_matches("/<path>");
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (child, addr.parse().unwrap());
        }
    }
}

/// The frametap binary of this build (what the bench measures; `--baseline` adds others).
pub(crate) fn this_build() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_frametap").into()
}

pub(crate) async fn frametap_binary(binary: &std::path::Path, echo: SocketAddr, capture: Option<Capture>) -> Target {
    let mut command = tokio::process::Command::new(binary);
    command.args(["proxy", "--listen", "127.0.0.1:0", "--quiet", "--no-ui", "--upstream", &format!("ws://{echo}")]);
    match &capture {
        Some(capture) => command.arg("--capture").arg(&capture.path).args(["--capture-format", capture.format]),
        None => command.arg("--no-capture"),
    };
    let (child, addr) = spawn_listening(command, "point your WebSocket client at").await;
    let name = match &capture {
        None => "frametap, capture off".to_owned(),
        Some(Capture { format: "jsonl", .. }) => "frametap, capture on".to_owned(),
        Some(Capture { format, .. }) => format!("frametap, capture on ({format})"),
    };
    Target { name, addr, child: Some(child), capture }
}

pub(crate) async fn tcp_relay(echo: SocketAddr) -> Target {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command.arg(format!("--tcp-relay={echo}"));
    let (child, addr) = spawn_listening(command, "tcp relay on").await;
    Target { name: "TCP relay (copy_bidirectional)".into(), addr, child: Some(child), capture: None }
}

/// A free loopback port (for tools that cannot be told to pick one and print it).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts connections on `addr` (bounded): the tool's own readiness signal.
pub(crate) async fn wait_listening(addr: SocketAddr) -> bool {
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// websocat and mitmproxy as relays, when they are installed (measured in the same run, for scale).
pub(crate) async fn other_tools(echo: SocketAddr) -> Vec<Target> {
    let mut targets = Vec::new();
    let found = |tool: &str| std::process::Command::new("which").arg(tool).output().is_ok_and(|o| o.status.success());
    let candidates: [(&str, &str, Vec<String>); 2] = [
        ("websocat", "websocat", vec!["--binary".into(), "-E".into(), "ws-l:ADDR".into(), format!("ws://{echo}/")]),
        (
            "mitmproxy (mitmdump)",
            "mitmdump",
            vec![
                "-q".into(),
                "--mode".into(),
                format!("reverse:http://{echo}"),
                "--listen-host".into(),
                "127.0.0.1".into(),
                "-p".into(),
                "PORT".into(),
            ],
        ),
    ];
    for (name, tool, args) in candidates {
        if !found(tool) {
            println!("({name} is not installed: not measured)");
            continue;
        }
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let args: Vec<String> =
            args.iter().map(|a| a.replace("ADDR", &addr.to_string()).replace("PORT", &port.to_string())).collect();
        let child = tokio::process::Command::new(tool)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(child) if wait_listening(addr).await => {
                targets.push(Target { name: name.into(), addr, child: Some(child), capture: None })
            }
            _ => println!("({name} did not start listening: not measured)"),
        }
    }
    targets
}

/// The floor: a byte-level relay that parses nothing (run as a child process: `--tcp-relay=UPSTREAM`).
pub(crate) async fn serve_tcp_relay(upstream: SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    eprintln!("tcp relay on {}", listener.local_addr().unwrap());
    while let Ok((mut client, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let Ok(mut server) = TcpStream::connect(upstream).await else { return };
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}
