//! `frametap replay serve --tls` and `--forward`, through the binary, with a local CA made by `certs init` in a
//! temp home: a wss:// client trusting the CA, and a client using frametap as its HTTP proxy (CONNECT to the
//! recorded host, TLS with the local CA, then the upgrade), each get the recorded handshake answer, server frames
//! and close; a plain ws:// client on the TLS port is told to use wss://; in forward mode, other requests to the
//! recorded host get a 502 saying why, and other hosts are tunnelled; bad flag combinations are refused. Also what
//! the binary says on stderr: a capture without its end record (refused, or warned about with --partial), and
//! the summary of a replayed refusal.

#[path = "forward_support/client.rs"]
mod client;
mod common;
#[path = "forward_support/connect_proxy.rs"]
mod connect_proxy;
#[path = "forward_support/servers.rs"]
mod servers;
#[path = "replay_support/mod.rs"]
mod support;
#[path = "forward_support/ws.rs"]
mod ws;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use client::{connect_tunnel, get, request, tls_client};
use connect_proxy::ConnectProxy;
use frametap::tls::CertAuthority;
use futures_util::{SinkExt as _, StreamExt as _};
use servers::start_hello_server;
use support::{handmade_capture, server_close};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use ws::STEP;

/// A frametap home with a local CA (`certs init`), and a hand-made capture of a connection to
/// ws://example.com/chat: subprotocol "chat.v2", client "hi", server "hello", then the server's close 4000.
struct Home {
    dir: tempfile::TempDir,
    capture: std::path::PathBuf,
}

impl Home {
    async fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let init = frametap(dir.path()).args(["certs", "init"]).output().await.unwrap();
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        let capture = handmade_capture(dir.path(), "recorded.jsonl", 101, Some(server_close(true, Some(4000), None)));
        Home { dir, capture }
    }

    fn ca(&self) -> CertAuthority {
        CertAuthority::load(&self.dir.path().join("certs")).unwrap()
    }

    /// TLS with `host` (trusting the local CA) through a CONNECT tunnel of the forward proxy at `proxy`.
    async fn tls_through(
        &self,
        proxy: std::net::SocketAddr,
        host: &str,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let tunnel = connect_tunnel(proxy, &format!("{host}:443")).await;
        tls_client(tunnel, host, self.ca().root_store().unwrap()).await.0
    }

    /// Starts `frametap replay serve CAPTURE ARGS… --listen 127.0.0.1:0 --no-ui --no-capture --pace fast`.
    fn serve(&self, args: &[&str]) -> Running {
        self.serve_file(&self.capture, args)
    }

    /// [`Home::serve`] with another capture.
    fn serve_file(&self, capture: &Path, args: &[&str]) -> Running {
        let mut child = frametap(self.dir.path())
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

fn frametap(home: &Path) -> Command {
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
struct Running {
    _child: Child,
    lines: Lines<BufReader<ChildStderr>>,
}

impl Running {
    /// The next stderr line containing `needle` (panics if frametap goes quiet or exits first).
    async fn line_with(&mut self, needle: &str) -> String {
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
    async fn proxy_addr(&mut self) -> std::net::SocketAddr {
        let url = self.banner("set your browser's HTTP and HTTPS proxy to").await;
        url.strip_prefix("http://").expect("an http:// proxy URL").parse().unwrap()
    }

    /// The value after `label` on the banner line that has it.
    async fn banner(&mut self, label: &str) -> String {
        let line = self.line_with(label).await;
        line.split_once(label).unwrap().1.split_whitespace().next().unwrap().to_owned()
    }
}

/// Plays the recorded client side over `stream` at `url` as a real WebSocket client offering "chat.v2", and
/// checks it gets the recorded answer, the server's frame and the recorded close.
async fn talk_as_the_recorded_client<S: AsyncRead + AsyncWrite + Unpin>(stream: S, url: &str) {
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

#[tokio::test]
async fn a_wss_client_gets_the_recorded_frames_and_close_and_a_plain_one_is_told_to_use_wss() {
    let home = Home::new().await;
    let mut replay = home.serve(&["--tls"]);
    let url = replay.banner("point your WebSocket client at").await;
    let authority = url.strip_prefix("wss://").expect("a wss:// listener").trim_end_matches("/chat").to_owned();

    for name in ["localhost", "127.0.0.1"] {
        let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let (tls, _) = tls_client(tcp, name, home.ca().root_store().unwrap()).await;
        let port = authority.rsplit_once(':').unwrap().1;
        talk_as_the_recorded_client(tls, &format!("wss://{name}:{port}/chat")).await;
        let report = replay.line_with("replay serve: connection").await;
        assert!(report.contains("server closed with 4000 \"going away\""), "{report}");
        replay.line_with("every client frame matched the recording").await;
    }

    let told = format!(
        "frametap: the client spoke plain HTTP (ws://) to the TLS listener: use wss://{authority}/… (or run without --tls)\n"
    );
    let refused = tokio_tungstenite::connect_async(format!("ws://{authority}/chat")).await;
    let Err(WsError::Http(response)) = refused else { panic!("not an HTTP refusal: {refused:?}") };
    assert_eq!(response.status(), 400);
    assert_eq!(String::from_utf8(response.body().clone().unwrap_or_default()).unwrap(), told);
}

#[tokio::test]
async fn through_forward_mode_the_recorded_host_is_answered_by_the_replay_and_other_hosts_are_tunnelled() {
    let home = Home::new().await;
    let mut replay = home.serve(&["--forward"]);
    assert_eq!(replay.banner("the recorded connection went to").await, "ws://example.com/chat");
    let proxy = replay.proxy_addr().await;
    assert_eq!(replay.banner("replayed (--intercept)").await, "example.com", "the recorded host, by default");

    // The front end's own URL, unchanged: nothing resolves or dials example.com.
    let tunnel = connect_tunnel(proxy, "example.com:443").await;
    let (tls, leaf) = tls_client(tunnel, "example.com", home.ca().root_store().unwrap()).await;
    assert!(!leaf.is_empty(), "a leaf for example.com from the local CA");
    talk_as_the_recorded_client(tls, "wss://example.com/chat").await;
    let report = replay.line_with("replay serve: connection").await;
    assert!(report.contains("server closed with 4000 \"going away\""), "{report}");
    replay.line_with("every client frame matched the recording").await;

    // Another request to the recorded host has no recorded answer: a 502 that says so, not the real host.
    let tls = home.tls_through(proxy, "example.com").await;
    let (status, body) = get(tls, "/config.json", "example.com").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("GET https://example.com/config.json has no recorded answer"), "{body}");
    assert!(body.contains("frametap proxy --forward"), "{body}");

    // Any other host is tunnelled untouched, as `proxy --forward` does.
    let page = start_hello_server(None).await;
    let tunnel = connect_tunnel(proxy, &page.to_string()).await;
    let (status, body) = get(tunnel, "/index.html", "127.0.0.1").await;
    assert_eq!((status, body.as_str()), (200, "hello GET /index.html host=127.0.0.1"));
}

/// `--intercept` replaces the recorded host; '*' takes every host.
#[tokio::test]
async fn intercept_chooses_the_hosts_the_replay_answers() {
    let home = Home::new().await;
    let mut replay = home.serve(&["--forward", "--intercept", "webmessaging.*"]);
    let proxy = replay.proxy_addr().await;
    assert_eq!(replay.banner("replayed (--intercept)").await, "webmessaging.*");
    let tls = home.tls_through(proxy, "webmessaging.euw2.pure.cloud").await;
    talk_as_the_recorded_client(tls, "wss://webmessaging.euw2.pure.cloud/chat").await;
    let note = replay.line_with("replay serve: connection").await;
    assert!(note.contains("4000"), "{note}");

    // A host that is not intercepted is tunnelled to the network; when that fails, the 502 and the log say why.
    let (_held, dead) = common::ports::refusing_addr();
    let mut tcp = tokio::net::TcpStream::connect(proxy).await.unwrap();
    let request = format!("CONNECT {dead} HTTP/1.1\r\nHost: {dead}\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut tcp, request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(STEP, tokio::io::AsyncReadExt::read_to_string(&mut tcp, &mut answer)).await.unwrap().unwrap();
    let why = "127.0.0.1 is not intercepted (--intercept webmessaging.*), so it was tunnelled to the network";
    assert!(answer.starts_with("HTTP/1.1 502") && answer.contains(why), "{answer}");
    let logged = replay.line_with("is not intercepted").await;
    assert!(logged.contains(&format!("could not connect to {dead}")) && logged.contains(why), "{logged}");
}

/// Chrome's Genesys HAR (tests/fixtures/har) with three more plain HTTP answers: the deployment config again, now
/// inactive (a page that polls it), an image from the WebSocket's own host, sent gzipped, and a token refresh
/// (a cross-origin POST, whose CORS preflight Chrome leaves out of its HARs).
fn har_with_http_answers(dir: &Path) -> std::path::PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har/chrome-genesys.har");
    let mut har: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let entries = har["log"]["entries"].as_array_mut().unwrap();
    let mut config_again = entries[0].clone();
    config_again["response"]["content"]["text"] = r#"{"status":"Inactive"}"#.into();
    entries.push(config_again);
    entries.push(serde_json::json!({
        "request": {"method": "GET", "url": "https://webmessaging.mypurecloud.com/logo.png", "headers": []},
        "response": {"status": 200, "headers": [
            {"name": "content-type", "value": "image/png"},
            {"name": "content-encoding", "value": "gzip"},
            {"name": "content-length", "value": "23"},
        ], "content": {"size": 3, "mimeType": "image/png", "text": "AAEC", "encoding": "base64"}},
    }));
    entries.push(serde_json::json!({
        "request": {"method": "POST", "url": "https://api.mypurecloud.com/api/v2/webdeployments/token/refresh", "headers": []},
        "response": {"status": 200, "headers": [
            {"name": "content-type", "value": "application/json"},
            {"name": "access-control-allow-origin", "value": "https://shop.example.com"},
            {"name": "access-control-allow-credentials", "value": "true"},
        ], "content": {"size": 12, "mimeType": "application/json", "text": r#"{"jwt":"e30"}"#}},
    }));
    let path = dir.join("page.har");
    std::fs::write(&path, serde_json::to_vec(&har).unwrap()).unwrap();
    path
}

/// A HAR's plain HTTP entries are answered for the intercepted hosts, as recorded and in recorded order; the banner
/// says which are replayed and which flags replay them all; a request with no recorded answer is told what the
/// HAR does record.
#[tokio::test]
async fn a_hars_http_answers_are_replayed_for_the_intercepted_hosts() {
    let home = Home::new().await;
    let har = har_with_http_answers(home.dir.path());
    let config = "/webdeployments/v1/deployments/6c1b2f0e-4d3a-4b8e-9a51-2f7c3d9e8b10/config.json";

    // By default only the WebSocket's host is intercepted: its recorded answers are replayed, api-cdn's tunnelled.
    let mut replay = home.serve_file(&har, &["--forward"]);
    let proxy = replay.proxy_addr().await;
    let mut rows = vec![replay.line_with("recorded HTTP answers").await];
    rows.push(replay.line_with("answer from").await);
    rows.push(replay.line_with("answer from").await);
    assert!(rows[0].ends_with("2 answers from https://api-cdn.mypurecloud.com (tunnelled)"), "{rows:?}");
    assert!(rows[1].ends_with("1 answer from https://api.mypurecloud.com (tunnelled)"), "{rows:?}");
    assert!(rows[2].ends_with("1 answer from https://webmessaging.mypurecloud.com (replayed)"), "{rows:?}");
    let flags = replay.line_with("to replay every recorded answer").await;
    let flags = flags.split_once("answer").unwrap().1.trim().to_owned();
    let every =
        "--intercept webmessaging.mypurecloud.com --intercept api-cdn.mypurecloud.com --intercept api.mypurecloud.com";
    assert_eq!(flags, every);

    let host = "webmessaging.mypurecloud.com";
    let tls = home.tls_through(proxy, host).await;
    let logo = request(tls, "GET", "/logo.png", host, &[]).await;
    assert_eq!((logo.status().as_u16(), logo.body().as_ref()), (200, [0u8, 1, 2].as_slice()));
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.headers()["content-length"], "3", "the length of the body sent, not the recorded one");
    assert!(!logo.headers().contains_key("content-encoding"), "the HAR's body is decoded: {:?}", logo.headers());
    let logged = replay.line_with("replay serve: GET").await;
    assert_eq!(logged, format!("replay serve: GET https://{host}/logo.png: answered the recorded 200 (HAR entry 4)"));

    let tls = home.tls_through(proxy, host).await;
    let (status, body) = get(tls, "/favicon.ico?token=s3cret", host).await;
    assert_eq!(status, 502);
    assert!(body.contains("records 1 answer from this host, none to this method and URL"), "{body}");
    let logged = replay.line_with("replay serve: GET").await;
    assert_eq!(logged, format!("replay serve: GET https://{host}/favicon.ico?…: no recorded answer, answered 502"));
    drop(replay);

    // With the flags the banner gave, api-cdn's answers come back in recorded order, the last one again after.
    let mut args = vec!["--forward"];
    args.extend(flags.split(' '));
    let mut replay = home.serve_file(&har, &args);
    let proxy = replay.proxy_addr().await;
    let host = "api-cdn.mypurecloud.com";
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let tls = home.tls_through(proxy, host).await;
        let (status, body) = get(tls, config, host).await;
        assert_eq!(status, 200, "{body}");
        bodies.push(body);
    }
    let first = r#"{"messenger":{"enabled":true},"status":"Active","version":"3"}"#;
    assert_eq!(bodies, [first, r#"{"status":"Inactive"}"#, r#"{"status":"Inactive"}"#]);

    let tls = home.tls_through(proxy, host).await;
    let refused = request(tls, "POST", config, host, &[]).await;
    let body = String::from_utf8_lossy(refused.body());
    assert_eq!(refused.status(), 502);
    assert!(body.contains(&format!("records an answer to GET https://{host}{config} instead")), "{body}");

    // The token refresh's preflight, which the HAR does not hold, is answered for what it asks; then the POST.
    let (host, refresh) = ("api.mypurecloud.com", "/api/v2/webdeployments/token/refresh");
    let asks = [
        ("origin", "https://shop.example.com"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    let tls = home.tls_through(proxy, host).await;
    let preflight = request(tls, "OPTIONS", refresh, host, &asks).await;
    assert_eq!(preflight.status(), 204, "{:?}", preflight.body());
    let allowed = |name: &str| preflight.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(allowed("access-control-allow-origin").as_deref(), Some("https://shop.example.com"));
    assert_eq!(allowed("access-control-allow-methods").as_deref(), Some("POST"));
    assert_eq!(allowed("access-control-allow-headers").as_deref(), Some("content-type"));
    assert_eq!(allowed("access-control-allow-credentials").as_deref(), Some("true"), "as the recorded answer allowed");
    let logged = replay.line_with("CORS preflight").await;
    assert_eq!(logged, format!("replay serve: OPTIONS https://{host}{refresh}: answered the CORS preflight for the recorded POST (HAR entry 5)"));
    let tls = home.tls_through(proxy, host).await;
    let refreshed = request(tls, "POST", refresh, host, &[("origin", "https://shop.example.com")]).await;
    assert_eq!((refreshed.status().as_u16(), refreshed.body().as_ref()), (200, br#"{"jwt":"e30"}"#.as_slice()));

    // An OPTIONS that is no preflight, or for a method the HAR has no answer to, is not made up.
    for asks in [&asks[..1], &[("origin", "https://shop.example.com"), ("access-control-request-method", "PUT")][..]] {
        let tls = home.tls_through(proxy, host).await;
        assert_eq!(request(tls, "OPTIONS", refresh, host, asks).await.status(), 502, "{asks:?}");
    }
}

/// `--upstream-proxy` (as `proxy --forward`'s): the hosts that are tunnelled, not replayed, are reached through it.
#[tokio::test]
async fn tunnelled_hosts_go_through_the_upstream_proxy() {
    let home = Home::new().await;
    let corporate = ConnectProxy::start(None).await;
    let mut replay = home.serve(&["--forward", "--upstream-proxy", &corporate.url()]);
    let proxy = replay.proxy_addr().await;
    assert_eq!(replay.banner("upstream proxy").await, corporate.url());

    let page = start_hello_server(None).await;
    let tunnel = connect_tunnel(proxy, &page.to_string()).await;
    let (status, body) = get(tunnel, "/index.html", "127.0.0.1").await;
    assert_eq!((status, body.as_str()), (200, "hello GET /index.html host=127.0.0.1"));
    assert_eq!(corporate.tunnels(), vec![page.to_string()], "the tunnel went through the upstream proxy");
}

#[tokio::test]
async fn bad_flag_combinations_and_a_missing_ca_are_refused_before_anything_listens() {
    let home = Home::new().await;
    let capture = home.capture.to_str().unwrap();
    let missing = home.dir.path().join("no-certs");
    let missing = missing.to_str().unwrap();
    for (args, expected) in [
        (&["--tls", "--forward"][..], "the argument '--tls' cannot be used with '--forward'"),
        (&["--intercept", "example.com"][..], "the following required arguments were not provided:\n  --forward"),
        (
            &["--upstream-proxy", "http://127.0.0.1:3128"][..],
            "the following required arguments were not provided:\n  --forward",
        ),
        (&["--forward", "--upstream-proxy", "ftp://proxy:21"][..], "in --upstream-proxy"),
        (&["--tls", "--certs", missing][..], "create one there with `frametap certs init --certs "),
        (
            &["--forward", "--intercept", "example.com:443"][..],
            "invalid value 'example.com:443' for '--intercept <GLOB>': it has a port",
        ),
        (&["--forward", "--intercept", "wss://example.com"][..], "it has a scheme: give a host glob without scheme"),
        (&["--forward", "--intercept", ""][..], "an empty glob matches no host"),
        (&["--forward", "--certs", missing][..], "create one there with `frametap certs init --certs "),
    ] {
        let run = frametap(home.dir.path())
            .args(["replay", "serve", capture, "--listen", "127.0.0.1:0", "--no-ui", "--no-capture"])
            .args(args)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .unwrap_or_else(|_| panic!("{args:?} was accepted: frametap kept running"))
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("replaying"), "{args:?}: refused before the banner: {stderr}");
    }
    // `proxy --forward` takes the same globs, checked the same way.
    let run = frametap(home.dir.path())
        .args(["proxy", "--forward", "--intercept", "*:443", "--listen", "127.0.0.1:0", "--no-ui", "--no-capture"])
        .output();
    let output =
        tokio::time::timeout(Duration::from_secs(30), run).await.expect("proxy --forward kept running").unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("it has a port (CONNECT to any port of a matching host is intercepted): give a host glob without scheme, port or path: --intercept '*'"), "{stderr}");
}

/// A capture without its `end` record is refused as `convert` refuses it; with --partial it plays, and both the
/// start and the connection's summary say what is missing.
#[tokio::test]
async fn a_capture_without_its_end_record_needs_partial_and_is_said_to_be_incomplete() {
    let home = Home::new().await;
    let text = std::fs::read_to_string(&home.capture).unwrap();
    let (kept, end) = text.trim_end().rsplit_once('\n').unwrap();
    assert!(end.contains("\"kind\":\"end\""), "{end}");
    let cut = home.dir.path().join("noend.jsonl");
    std::fs::write(&cut, format!("{kept}\n")).unwrap();
    let cut_arg = cut.to_str().unwrap();
    let refusal = "noend.jsonl: it ends without an end record: it was cut short (or is still being written); pass \
                   --partial to replay the records that could be read";
    for args in [
        &["replay", "serve", cut_arg, "--listen", "127.0.0.1:0", "--no-ui", "--no-capture"][..],
        &["replay", "send", cut_arg, "--upstream", "ws://127.0.0.1:9", "--no-capture"][..],
    ] {
        let run = frametap(home.dir.path()).args(args).output();
        let output = tokio::time::timeout(Duration::from_secs(30), run).await.expect("frametap kept running").unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(refusal), "{args:?}: {stderr}");
    }

    let mut replay = home.serve_file(&cut, &["--partial"]);
    let warning = replay.line_with("warning").await;
    assert!(
        warning.contains("frametap replay serve: warning:")
            && warning.contains("noend.jsonl: the capture has no end record: it was cut short"),
        "{warning}"
    );
    let url = replay.banner("point your WebSocket client at").await;
    let authority = url.strip_prefix("ws://").unwrap().trim_end_matches("/chat").to_owned();
    let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    talk_as_the_recorded_client(tcp, &url).await;
    replay.line_with("every client frame matched the recording").await;
    let said = replay.line_with("the recording is incomplete").await;
    assert!(said.contains("(--partial): the capture has no end record"), "{said}");
}

/// A recorded refusal, and a recorded failure to reach the upstream, are answered as recorded and summed up on
/// stderr like a played connection.
#[tokio::test]
async fn a_replayed_refusal_gets_a_summary_line() {
    let home = Home::new().await;
    let refused = support::handmade_capture(home.dir.path(), "refused.jsonl", 403, None);
    let mut replay = home.serve_file(&refused, &[]);
    let url = replay.banner("point your WebSocket client at").await;
    let answer = tokio_tungstenite::connect_async(&url).await;
    let Err(WsError::Http(response)) = answer else { panic!("not an HTTP refusal: {answer:?}") };
    assert_eq!(response.status(), 403);
    let summary = replay.line_with("replay serve: connection").await;
    assert_eq!(summary, "replay serve: connection 1: answered the recorded 403 Forbidden; no WebSocket");

    // The recorded attempt never reached its upstream: no answer in the capture, only the error.
    let text = std::fs::read_to_string(&refused).unwrap();
    let unreached: Vec<String> = text
        .lines()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            if record["kind"] == "open" {
                record["response"] = serde_json::Value::Null;
                record["error"] = "could not connect to example.com:80: connection refused".into();
            }
            record.to_string()
        })
        .collect();
    let unreached_path = home.dir.path().join("unreached.jsonl");
    std::fs::write(&unreached_path, unreached.join("\n") + "\n").unwrap();
    let mut replay = home.serve_file(&unreached_path, &[]);
    let url = replay.banner("point your WebSocket client at").await;
    let answer = tokio_tungstenite::connect_async(&url).await;
    let Err(WsError::Http(response)) = answer else { panic!("not an HTTP refusal: {answer:?}") };
    assert_eq!(response.status(), 502);
    let summary = replay.line_with("replay serve: connection").await;
    assert!(
        summary.starts_with("replay serve: connection 1: answered 502 Bad Gateway, as the recording failed to reach")
            && summary.contains("could not connect to example.com:80: connection refused")
            && summary.ends_with("; no WebSocket"),
        "{summary}"
    );
}

/// A taken UI port is said as frametap's other warnings are, in a replay's words.
#[tokio::test]
async fn a_taken_ui_port_is_a_warning_in_the_replays_words() {
    let home = Home::new().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ui = taken.local_addr().unwrap().to_string();
    let mut child = frametap(home.dir.path())
        .args(["replay", "serve", home.capture.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-capture"])
        .args(["--ui", &ui])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut replay = Running { _child: child, lines };
    let warning = replay.line_with("without the web UI").await;
    assert_eq!(
        warning,
        format!(
            "frametap: warning: the web UI could not listen on {ui}: the port is taken (another frametap?); choose \
             another with --ui ADDR or turn the UI off with --no-ui; replaying without the web UI"
        )
    );
}
