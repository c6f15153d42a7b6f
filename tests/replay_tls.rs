//! `frametap replay serve --tls` and `--forward`, through the binary, with a local CA made by `certs init` in a
//! temp home: a wss:// client trusting the CA, and a client using frametap as its HTTP proxy (CONNECT to the
//! recorded host, TLS with the local CA, then the upgrade), each get the recorded handshake answer, server frames
//! and close; a plain ws:// client on the TLS port is told to use wss://; in forward mode, other requests to the
//! recorded host get a 502 saying why, and other hosts are tunnelled; bad flag combinations are refused. (What it
//! says on stderr: tests/replay_stderr.rs.)

#[path = "forward_support/client.rs"]
mod client;
mod common;
#[path = "forward_support/connect_proxy.rs"]
mod connect_proxy;
#[path = "replay_binary/mod.rs"]
mod replay_binary;
#[path = "forward_support/servers.rs"]
mod servers;
#[path = "replay_support/mod.rs"]
mod support;
#[path = "forward_support/ws.rs"]
mod ws;

use std::path::Path;
use std::time::Duration;

use client::{connect_tunnel, get, request, tls_client};
use connect_proxy::ConnectProxy;
use replay_binary::{frametap, talk_as_the_recorded_client, Home};
use servers::start_hello_server;
use tokio_tungstenite::tungstenite::Error as WsError;
use ws::STEP;

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
