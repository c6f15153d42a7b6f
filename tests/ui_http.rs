//! The web UI over real HTTP and WebSocket: access token, Host and Origin checks, history + live
//! records, lag resyncs, shutdown and a taken port. Downloads: tests/ui_downloads.rs.

// Unix only: it stops frametap with SIGTERM (or SIGKILL), which Windows cannot send to a child process.
#![cfg(unix)]

mod cdp;
mod common;
#[path = "ui_support/mod.rs"]
mod support;

use std::net::SocketAddr;

use cdp::fixtures::{self, publish, start_ui};
use frametap::event::Peer;
use frametap::ui::{self, Hub, HubOptions};
use futures_util::StreamExt as _;
use hyper::StatusCode;
use serde_json::{json, Value};
use support::{cookie, get, request, WAIT};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn open_stream(addr: SocketAddr, headers: &[(&'static str, String)]) -> Result<Ws, tungstenite::Error> {
    open_stream_at(addr, "", headers).await
}

/// Opens `/api/stream` with a query (`?run=…&after=…`).
async fn open_stream_at(
    addr: SocketAddr,
    query: &str,
    headers: &[(&'static str, String)],
) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://{addr}/api/stream{query}").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(request, tcp).await.map(|(ws, _)| ws)
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next()).await.expect("a stream message in time").unwrap().unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("the stream closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// Reads until `{"t":"live"}`, returning the hello and every record before it as (kind, record).
async fn read_sync(ws: &mut Ws) -> (Value, Vec<(String, Value)>) {
    let hello = next_json(ws).await;
    assert_eq!(hello["t"], "hello", "{hello}");
    let mut records = Vec::new();
    loop {
        let message = next_json(ws).await;
        match message["t"].as_str() {
            Some("live") => return (hello, records),
            Some("batch") => records.extend(batch(&message)),
            _ => panic!("unexpected message during sync: {message}"),
        }
    }
}

fn batch(message: &Value) -> Vec<(String, Value)> {
    assert_eq!(message["t"], "batch", "{message}");
    message["recs"].as_array().unwrap().iter().map(|r| (r["k"].as_str().unwrap().to_string(), r["r"].clone())).collect()
}

#[tokio::test]
async fn every_route_needs_the_access_token() {
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    for path in ["/", "/try", "/assets/app.js", "/api/info", "/api/history", "/api/conn/1/capture", "/nope"] {
        let (status, headers, body) = get(ui.addr, path, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(body.contains("access token"), "{path}: {body}");
        assert!(body.contains("an access token is needed"), "{path}: {body}");
        assert_eq!(headers.get("x-frametap-refusal").unwrap(), "token", "{path}");
        // A wrong token (a URL or a cookie from an earlier run) is told apart from none: it used to get the same
        // "an access token is needed", which a user holding the URL with its token could not make sense of.
        let (status, _, body) = get(ui.addr, &format!("{path}?token=wrong"), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
        assert!(body.contains("this access token is not this run's"), "{path}: {body}");
        let stale_cookie = format!("{}=wrong", cookie(&ui).split('=').next().unwrap());
        let (status, _, body) = get(ui.addr, path, &[("cookie", &stale_cookie)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with a stale cookie");
        assert!(body.contains("this access token is not this run's"), "{path}: {body}");
    }
    let (status, headers, body) = get(ui.addr, &format!("/?token={}", ui.token), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<title>frametap</title>"));
    let set_cookie = headers.get("set-cookie").expect("a cookie on first load").to_str().unwrap();
    assert!(set_cookie.starts_with(&cookie(&ui)), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(headers.get("content-security-policy").unwrap().to_str().unwrap().contains("default-src 'self'"));
    assert_eq!(headers.get("referrer-policy").unwrap(), "no-referrer");

    let (status, _, body) = get(ui.addr, "/api/info", &[("cookie", &cookie(&ui))]).await;
    assert_eq!(status, StatusCode::OK);
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["redacted"], false);
    assert_eq!(info["downloads"]["har"], true);
    assert_eq!(info["downloads"]["redacted_capture"], true);
    let (status, _, js) = get(ui.addr, "/assets/stream.js", &[("cookie", &cookie(&ui))]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.contains("/api/stream"));

    // The live stream too.
    match open_stream(ui.addr, &[]).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED)
        }
        other => panic!("a stream without a token was not refused: {:?}", other.map(|_| ())),
    }
    ui.stop().await.unwrap();
}

/// Every script in src/ui/assets is served at `/assets/NAME` as it is in the tree, as JavaScript (a browser runs a
/// module script only with a JavaScript content type), and every module a script imports is one of them: a module
/// added without its route in src/ui/routes.rs fails here, rather than leaving a page that draws nothing.
#[tokio::test]
async fn every_script_and_every_module_it_imports_is_served_as_javascript() {
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui/assets");
    let mut scripts: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".js"))
        .collect();
    scripts.sort();
    // The page's modules (app.js imports the rest) and the try-it page's script.
    let expected = [
        "app.js",
        "closecard.js",
        "connlist.js",
        "connpanel.js",
        "filters.js",
        "hash.js",
        "json.js",
        "page.js",
        "payload.js",
        "stream.js",
        "table.js",
        "tokens.js",
        "try.js",
        "views.js",
    ];
    assert_eq!(scripts, expected, "the scripts in {}", dir.display());
    for name in &scripts {
        let source = std::fs::read_to_string(dir.join(name)).unwrap();
        let (status, headers, body) = get(ui.addr, &format!("/assets/{name}"), &[("cookie", &cookie(&ui))]).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(headers.get("content-type").unwrap(), "text/javascript; charset=utf-8", "{name}");
        assert_eq!(body, source, "{name} is not served as it is in the tree");
        for imported in source.split("from './").skip(1).map(|rest| rest.split('\'').next().unwrap()) {
            assert!(
                scripts.iter().any(|script| script == imported),
                "{name} imports {imported}, which is not in the tree"
            );
        }
    }
    ui.stop().await.unwrap();
}

#[tokio::test]
async fn a_foreign_host_is_refused() {
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let port = ui.addr.port();
    let path = format!("/?token={}", ui.token);
    for host in [format!("evil.example:{port}"), format!("127.0.0.1:{}", port.wrapping_add(1)), "localhost".into()] {
        let (status, headers, body) = get(ui.addr, &path, &[("host", &host)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}");
        assert_eq!(headers.get("x-frametap-refusal").unwrap(), "host", "{host}");
        assert!(body.contains("DNS-rebinding"), "{body}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let (status, _, _) = get(ui.addr, &path, &[("host", &host)]).await;
        assert_eq!(status, StatusCode::OK, "{host}");
    }
    // Rebinding the stream fails the same way.
    let refused = open_stream(ui.addr, &[("host", format!("evil.example:{port}")), ("cookie", cookie(&ui))]).await;
    assert!(matches!(refused, Err(tungstenite::Error::Http(r)) if r.status() == StatusCode::FORBIDDEN));
    ui.stop().await.unwrap();
}

#[tokio::test]
async fn the_live_stream_refuses_cross_origin_subscribers() {
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let port = ui.addr.port();
    for origin in ["http://evil.example".to_string(), format!("http://evil.example:{port}"), "null".into()] {
        let refused = open_stream(ui.addr, &[("origin", origin.clone()), ("cookie", cookie(&ui))]).await;
        match refused {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
                assert_eq!(response.headers().get("x-frametap-refusal").unwrap(), "origin", "{origin}");
            }
            other => panic!("origin {origin} was not refused: {:?}", other.map(|_| ())),
        }
    }
    let mut ws = open_stream(ui.addr, &[("origin", format!("http://localhost:{port}")), ("cookie", cookie(&ui))])
        .await
        .expect("the UI's own origin is accepted");
    let (hello, _) = read_sync(&mut ws).await;
    assert_eq!(hello["reason"], "start");
    assert_eq!(hello["source"], "live", "{hello}");
    ui.stop().await.unwrap();
}

/// A page on another origin may load the UI's pages and scripts (a browser fetches a module script with the page's
/// `Origin`; they hold no data and carry no CORS headers), but not the API: `POST /api/stream`, which a page whose
/// stream failed to open asks, is refused as the stream is, in words that name the `--ui-origin` accepting that
/// origin; with it, it answers 204. Before, a page opened through a front had its scripts refused, and so never ran.
#[tokio::test]
async fn a_front_at_another_origin_loads_the_page_and_is_told_which_flag_accepts_it() {
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let cookie = cookie(&ui);
    let front = [("origin", "https://tap.example"), ("cookie", cookie.as_str())];
    for path in ["/", "/assets/app.js", "/assets/views.js"] {
        assert_eq!(get(ui.addr, path, &front).await.0, StatusCode::OK, "{path}");
    }
    let (status, headers, body) = get(ui.addr, "/api/info", &front).await;
    assert_eq!(
        (status, headers.get("x-frametap-refusal").unwrap().to_str().unwrap()),
        (StatusCode::FORBIDDEN, "origin")
    );
    let (status, headers, body_of_check) = request(ui.addr, hyper::Method::POST, "/api/stream", &front).await;
    assert_eq!(
        (status, headers.get("x-frametap-refusal").unwrap().to_str().unwrap()),
        (StatusCode::FORBIDDEN, "origin")
    );
    assert_eq!(body, body_of_check);
    assert!(
        body.contains(
            "requests from pages at https://tap.example are refused (this UI accepts pages at http://localhost:"
        ),
        "{body}"
    );
    assert!(
        body.contains("start frametap with --ui-origin https://tap.example, or open the URL frametap printed"),
        "{body}"
    );
    let own = format!("http://127.0.0.1:{}", ui.addr.port());
    let at_home = [("origin", own.as_str()), ("cookie", cookie.as_str())];
    assert_eq!(request(ui.addr, hyper::Method::POST, "/api/stream", &at_home).await.0, StatusCode::NO_CONTENT);
    ui.stop().await.unwrap();

    let ui = fixtures::start_ui_with(Hub::new(HubOptions::default()), |options| {
        options.fronts = vec!["https://tap.example".into()];
    })
    .await;
    let cookie = support::cookie(&ui);
    let front = [("origin", "https://tap.example"), ("cookie", cookie.as_str()), ("host", "tap.example")];
    assert_eq!(request(ui.addr, hyper::Method::POST, "/api/stream", &front).await.0, StatusCode::NO_CONTENT);
    assert_eq!(get(ui.addr, "/api/info", &front).await.0, StatusCode::OK);
    ui.stop().await.unwrap();
}

#[tokio::test]
async fn history_then_live_records_arrive() {
    let hub = Hub::new(HubOptions { history_limit: 100, redacted: true });
    publish(&hub, fixtures::meta());
    publish(&hub, fixtures::open(1, "/v1?deploymentId=abc"));
    let ui = start_ui(hub, None).await;
    let mut ws = open_stream(ui.addr, &[("cookie", cookie(&ui))]).await.unwrap();
    let (hello, history) = read_sync(&mut ws).await;
    assert_eq!(hello["redacted"], true);
    let kinds: Vec<_> = history.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["meta", "open"]);
    assert_eq!(history[1].1["request"]["path"], "/v1?deploymentId=abc");

    publish(&ui.hub, fixtures::text(1, 1, Peer::Client, json!({"action": "echo"}), 5));
    fixtures::publish_annotation(&ui.hub, 1, 1, "echo");
    let mut live = Vec::new();
    while live.len() < 2 {
        live.extend(batch(&next_json(&mut ws).await));
    }
    assert_eq!(live[0].0, "frame");
    assert_eq!(live[0].1["text"], r#"{"action":"echo"}"#);
    assert_eq!(live[1], ("annotation".to_string(), live[1].1.clone()));
    assert_eq!(live[1].1["text"], "echo");
    ui.stop().await.unwrap();
}

/// One thread: the stream task cannot forward while this test publishes, so it must fall behind.
#[tokio::test]
async fn a_lagging_subscriber_is_caught_up_from_history_after_what_it_was_sent() {
    let hub = Hub::with_live_buffer(HubOptions::default(), 4);
    let ui = start_ui(hub, None).await;
    let mut ws = open_stream(ui.addr, &[("cookie", cookie(&ui))]).await.unwrap();
    read_sync(&mut ws).await;
    publish(&ui.hub, fixtures::open(1, "/v1"));
    for seq in 1..=50 {
        publish(&ui.hub, fixtures::text(1, seq, Peer::Server, json!({"n": seq}), 0));
    }
    // Whatever arrived before the lag was noticed, the history after it follows: every record once, in order.
    let mut records = Vec::new();
    let resync = loop {
        let message = next_json(&mut ws).await;
        if message["t"] == "hello" {
            break message;
        }
        assert_eq!(message["t"], "batch", "{message}");
        records.extend(batch(&message));
    };
    assert_eq!(resync["reason"], "lag", "{resync}");
    assert!(resync["missed"].as_u64().unwrap() > 0, "{resync}");
    assert_eq!(resync["after"], records.len(), "{resync}: after the last record sent");
    assert_eq!(resync["lost"], 0, "{resync}");
    loop {
        let message = next_json(&mut ws).await;
        if message["t"] == "live" {
            break;
        }
        records.extend(batch(&message));
    }
    assert_eq!(records.len(), 51, "before the lag and after it, every record once");
    let seqs: Vec<_> = records[1..].iter().map(|(_, r)| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    ui.stop().await.unwrap();
}

/// A page that reconnects to the same run resumes after the last record it has; one of another run (or naming a
/// record this run never published) starts over with the whole history.
#[tokio::test]
async fn a_reconnecting_subscriber_resumes_after_its_last_record_if_the_run_is_the_same() {
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    publish(&ui.hub, fixtures::open(1, "/v1"));
    publish(&ui.hub, fixtures::text(1, 1, Peer::Server, json!({"n": 1}), 0));
    let mut ws = open_stream(ui.addr, &[("cookie", cookie(&ui))]).await.unwrap();
    let (hello, records) = read_sync(&mut ws).await;
    assert_eq!(records.len(), 2);
    let run = hello["run"].as_str().expect("the hello names the run").to_string();
    drop(ws);
    publish(&ui.hub, fixtures::text(1, 2, Peer::Server, json!({"n": 2}), 0));
    publish(&ui.hub, fixtures::text(1, 3, Peer::Server, json!({"n": 3}), 0));

    let mut ws = open_stream_at(ui.addr, &format!("?run={run}&after=2"), &[("cookie", cookie(&ui))]).await.unwrap();
    let (hello, records) = read_sync(&mut ws).await;
    assert_eq!(
        (hello["reason"].as_str(), hello["after"].as_u64(), hello["lost"].as_u64()),
        (Some("resume"), Some(2), Some(0))
    );
    let seqs: Vec<_> = records.iter().map(|(_, r)| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [2, 3], "only what was published after record 2");

    for query in ["?run=another&after=2".to_string(), format!("?run={run}&after=99")] {
        let mut ws = open_stream_at(ui.addr, &query, &[("cookie", cookie(&ui))]).await.unwrap();
        let (hello, records) = read_sync(&mut ws).await;
        assert_eq!(hello["reason"], "start", "{query}: {hello}");
        assert_eq!(records.len(), 4, "{query}: the whole history");
    }
    ui.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_live_streams_with_1001() {
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let mut ws = open_stream(ui.addr, &[("cookie", cookie(&ui))]).await.unwrap();
    read_sync(&mut ws).await;
    let stopping = tokio::spawn(ui.stop());
    let message = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    match message {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    drop(ws);
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = ui::bind(taken.local_addr().unwrap(), true).await.unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("port is taken") && message.contains("--ui ADDR") && message.contains("--no-ui"),
        "{message}"
    );
}

/// `frametap ui FILE` on a taken port offers only what it has: `--ui ADDR`. It used to offer `--no-ui` too, a flag
/// `ui` does not have (and a UI command without its UI would do nothing).
#[tokio::test]
async fn frametap_ui_on_a_taken_port_offers_only_flags_it_has() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed-story.jsonl");
    let addr = taken.local_addr().unwrap().to_string();
    let output = common::binary::frametap_command().args(["ui", fixture, "--ui", &addr]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("the port is taken") && stderr.contains("choose another with --ui ADDR"), "{stderr}");
    assert!(!stderr.contains("--no-ui"), "{stderr}");
}

/// `frametap ui FILE`: the binary prints the URL, serves the capture, and stops on SIGTERM.
#[tokio::test]
async fn frametap_ui_serves_a_saved_capture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.jsonl");
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 1);
    let lines: String = hub.history().iter().map(|e| format!("{}\n", e.json)).collect();
    std::fs::write(&path, lines).unwrap();
    let kinds = ui_file_history_kinds(&path).await;
    assert_eq!(kinds.first().map(String::as_str), Some("meta"));
    assert!(kinds.iter().any(|k| k == "diagnosis") && kinds.iter().any(|k| k == "annotation"), "{kinds:?}");
}

/// `frametap ui FILE.har` imports the HAR as `convert` would and serves it.
#[tokio::test]
async fn frametap_ui_serves_a_har() {
    let har = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har/chrome-genesys.har");
    let kinds = ui_file_history_kinds(&har).await;
    assert_eq!(kinds.first().map(String::as_str), Some("meta"));
    assert!(kinds.iter().any(|k| k == "open") && kinds.iter().any(|k| k == "frame"), "{kinds:?}");
}

/// Runs the binary's `ui FILE`, reads the UI's `/api/history` and stops it: the kinds of the records it serves.
async fn ui_file_history_kinds(path: &std::path::Path) -> Vec<String> {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::from(crate::common::binary::frametap_command())
        .args(["ui", path.to_str().unwrap(), "--ui", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, stdout.next_line()).await.unwrap().unwrap().unwrap();
    let url = first.split(": ").last().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.contains("/?token="), "{first}");
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, query) = rest.split_once('/').unwrap();
    let addr: SocketAddr = addr.parse().unwrap();
    let (status, _, body) = get(addr, &format!("/api/history{}", query.trim_start_matches('/')), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kinds =
        body.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["kind"].as_str().unwrap().to_string()).collect();
    // The page learns it shows a file, not a live session (the live stream's hello says so too).
    let (status, _, info) = get(addr, &format!("/api/info{}", query.trim_start_matches('/')), &[]).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(serde_json::from_str::<Value>(&info).unwrap()["source"], "file", "{info}");

    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let status = tokio::time::timeout(WAIT, child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
    kinds
}

#[tokio::test]
async fn frametap_ui_with_a_missing_file_says_so() {
    let output = tokio::process::Command::from(crate::common::binary::frametap_command())
        .args(["ui", "/nonexistent/capture.jsonl", "--ui", "127.0.0.1:0"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could not read the capture /nonexistent/capture.jsonl"), "{stderr}");
}
