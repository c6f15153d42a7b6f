//! What the `replay serve` tests through the binary share: a frametap home with a local CA and a hand-made
//! capture, the running replay's stderr, and the recorded client's side played over any stream.
#![allow(dead_code)] // each test file uses a different part of it

use std::path::Path;
use std::process::Stdio;

use crate::client::{connect_tunnel, tls_client};
use crate::support::{handmade_capture, server_close};
use crate::ws::STEP;
use frametap::tls::CertAuthority;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

/// A frametap home with a local CA (`certs init`), and a hand-made capture of a connection to
/// ws://example.com/chat: subprotocol "chat.v2", client "hi", server "hello", then the server's close 4000.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub capture: std::path::PathBuf,
}

impl Home {
    pub async fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let init = frametap(dir.path()).args(["certs", "init"]).output().await.unwrap();
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        let capture = handmade_capture(dir.path(), "recorded.jsonl", 101, Some(server_close(true, Some(4000), None)));
        Home { dir, capture }
    }

    pub fn ca(&self) -> CertAuthority {
        CertAuthority::load(&self.dir.path().join("certs")).unwrap()
    }

    /// TLS with `host` (trusting the local CA) through a CONNECT tunnel of the forward proxy at `proxy`.
    pub async fn tls_through(
        &self,
        proxy: std::net::SocketAddr,
        host: &str,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let tunnel = connect_tunnel(proxy, &format!("{host}:443")).await;
        tls_client(tunnel, host, self.ca().root_store().unwrap()).await.0
    }

    /// Starts `frametap replay serve CAPTURE ARGS… --listen 127.0.0.1:0 --no-ui --no-capture --pace fast`.
    pub fn serve(&self, args: &[&str]) -> Running {
        self.serve_file(&self.capture, args)
    }

    /// [`Home::serve`] with another capture.
    pub fn serve_file(&self, capture: &Path, args: &[&str]) -> Running {
        self.serve_with_log(capture, args, "frametap=info")
    }

    /// [`Home::serve_file`] with `RUST_LOG` set to `filter` (frametap's debug lines, to wait for what it does quietly).
    pub fn serve_with_log(&self, capture: &Path, args: &[&str], filter: &str) -> Running {
        let mut child = frametap(self.dir.path())
            .env("RUST_LOG", filter)
            .args(["replay", "serve", capture.to_str().unwrap()])
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--no-ui", "--no-capture", "--pace", "fast"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        Running { _child: child, lines }
    }
}

pub fn frametap(home: &Path) -> Command {
    let mut command = Command::from(crate::common::binary::frametap_command());
    command
        .env("FRAMETAP_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// A running `frametap replay serve`, killed when dropped.
pub struct Running {
    pub _child: Child,
    pub lines: Lines<BufReader<ChildStderr>>,
}

impl Running {
    /// The next stderr line containing `needle` (panics if frametap goes quiet or exits first).
    pub async fn line_with(&mut self, needle: &str) -> String {
        loop {
            let line = tokio::time::timeout(STEP, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("frametap printed no line with {needle:?}"))
                .unwrap()
                .unwrap_or_else(|| panic!("frametap exited before printing {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// The forward-mode listener's address, from the banner.
    pub async fn proxy_addr(&mut self) -> std::net::SocketAddr {
        let url = self.banner("set your browser's HTTP and HTTPS proxy to").await;
        url.strip_prefix("http://").expect("an http:// proxy URL").parse().unwrap()
    }

    /// The value after `label` on the banner line that has it.
    pub async fn banner(&mut self, label: &str) -> String {
        let line = self.line_with(label).await;
        line.split_once(label).unwrap().1.split_whitespace().next().unwrap().to_owned()
    }
}

/// Plays the recorded client side over `stream` at `url` as a real WebSocket client offering "chat.v2", and
/// checks it gets the recorded answer, the server's frame and the recorded close.
pub async fn talk_as_the_recorded_client<S: AsyncRead + AsyncWrite + Unpin>(stream: S, url: &str) {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "chat.v2".parse().unwrap());
    let (mut ws, response) =
        tokio::time::timeout(STEP, tokio_tungstenite::client_async(request, stream)).await.unwrap().unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2", "the recorded subprotocol, as offered");
    ws.send(Message::text("hi")).await.unwrap();
    let mut next = async || tokio::time::timeout(STEP, ws.next()).await.expect("no message in time").unwrap().unwrap();
    assert_eq!(next().await, Message::text("hello"));
    let Message::Close(Some(close)) = next().await else { panic!("the recorded close did not come") };
    assert_eq!((u16::from(close.code), close.reason.as_str()), (4000, "going away"));
    // tungstenite answers the close; the replay then ends TCP.
    while let Ok(Some(Ok(_))) = tokio::time::timeout(STEP, ws.next()).await {}
}
