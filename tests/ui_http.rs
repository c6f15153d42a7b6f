//! The web UI over real HTTP and WebSocket: access token, Host and Origin checks, history + live
//! records, lag resyncs, downloads, shutdown and a taken port.

mod cdp;
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use cdp::fixtures::{self, publish, start_ui, UiServer};
use frametap::event::{Peer, Record};
use frametap::ui::{self, Hub, HubOptions};
use futures_util::StreamExt as _;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::{HeaderMap, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

const WAIT: Duration = Duration::from_secs(10);

/// A GET with the given headers (Host defaults to the server's address).
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let mut request = hyper::Request::get(path);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        request = request.header("host", addr.to_string());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender.send_request(request.body(Empty::<Bytes>::new()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
}

fn cookie(ui: &UiServer) -> String {
    format!("frametap_ui_{}={}", ui.addr.port(), ui.token)
}

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
    let (status, _, js) = get(ui.addr, "/assets/app.js", &[("cookie", &cookie(&ui))]).await;
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

fn records_of(body: &str) -> Vec<Record> {
    body.lines().map(|l| serde_json::from_str::<Record>(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

const SESSION_TOKEN: &str = "5b1f0c7e-7a43-4ad5-9d1a-0f2b7d7f1c11";

#[tokio::test]
async fn a_connection_downloads_as_capture_redacted_capture_and_har() {
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 1);
    fixtures::publish_healthy(&hub, 2);
    let ui = start_ui(hub, None).await;
    let c = cookie(&ui);

    // As published: meta, then only that connection's records, every line a capture record.
    let (status, headers, body) = get(ui.addr, "/api/conn/1/capture", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-disposition").unwrap(), "attachment; filename=\"frametap-conn-1.jsonl\"");
    let plain = records_of(&body);
    assert!(matches!(&plain[0], Record::Meta(m) if !m.redacted));
    assert!(plain[1..plain.len() - 1].iter().all(|r| r.conn() == Some(1)), "only connection 1");
    assert!(plain.iter().any(|r| matches!(r, Record::Diagnosis(_))));
    assert!(plain.iter().any(|r| matches!(r, Record::Annotation(_))));

    // Redacted: the Genesys session token becomes a UUID-shaped placeholder, meta says so.
    let (status, _, body) = get(ui.addr, "/api/conn/2/capture", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(SESSION_TOKEN), "the plain download keeps the token");
    let (status, headers, body) = get(ui.addr, "/api/conn/2/capture?redacted=1", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers.get("content-disposition").unwrap(), "attachment; filename=\"frametap-conn-2-redacted.jsonl\"");
    assert_eq!(headers.get(ui::SKIPPED_HEADER).unwrap(), "0");
    assert!(!body.contains(SESSION_TOKEN), "the session token leaked into the redacted download");
    assert!(body.contains(frametap::redact::UUID_PLACEHOLDER_PREFIX), "no placeholder in {body}");
    let redacted = records_of(&body);
    assert!(matches!(&redacted[0], Record::Meta(m) if m.redacted));
    let frames = |rs: &[Record]| rs.iter().filter(|r| matches!(r, Record::Frame(_))).count();
    assert_eq!(frames(&redacted), 13, "every frame is kept");

    // HAR: a Chrome-style WebSocket entry that imports back to the very same records.
    let (status, headers, body) = get(ui.addr, "/api/conn/1/har", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    assert_eq!(headers.get("content-disposition").unwrap(), "attachment; filename=\"frametap-conn-1.har\"");
    let har: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(har["log"]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(har["log"]["entries"][0]["_resourceType"], "websocket");
    let (imported, warnings) = frametap::har::har_to_records(&har).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let of_conn = |rs: &[Record]| rs.iter().filter(|r| r.conn() == Some(1)).cloned().collect::<Vec<_>>();
    assert_eq!(of_conn(&imported), of_conn(&plain));
    let (status, _, body) = get(ui.addr, "/api/conn/2/har?redacted=1", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains(SESSION_TOKEN), "the session token leaked into the redacted HAR");

    // A history line that does not read back is counted and named, never silently dropped.
    ui.hub.publish_raw("frame", Some(2), r#"{"kind":"frame","conn":2,"seq":"not a number"}"#);
    for path in ["/api/conn/2/capture?redacted=1", "/api/conn/2/har"] {
        let (status, headers, body) = get(ui.addr, path, &[("cookie", &c)]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers.get(ui::SKIPPED_HEADER).unwrap(), "1", "{path}");
        assert!(body.contains("ui-download-partial") && body.contains("1 record of connection 2"), "{path}: {body}");
    }

    let (status, _, _) = get(ui.addr, "/api/conn/9/capture", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(ui.addr, "/api/conn/9/har", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    ui.stop().await.unwrap();
}

/// Records the pipeline redacted already (`--redact`) download as published, marked redacted.
#[tokio::test]
async fn a_redacted_session_downloads_as_published() {
    let hub = Hub::new(HubOptions { history_limit: 100, redacted: true });
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 1);
    let ui = start_ui(hub, None).await;
    let c = cookie(&ui);
    let (status, headers, body) = get(ui.addr, "/api/conn/1/capture", &[("cookie", &c)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-disposition").unwrap(), "attachment; filename=\"frametap-conn-1-redacted.jsonl\"");
    let lines: Vec<String> = ui.hub.connection(1).iter().map(|e| e.json.to_string()).collect();
    let (end, published) = body.lines().collect::<Vec<_>>().split_last().map(|(e, p)| (*e, p.to_vec())).unwrap();
    assert_eq!(published, lines);
    assert!(end.starts_with(r#"{"kind":"end""#), "{end}");
    ui.stop().await.unwrap();
}

/// 12 hex digits of SHA-256: a `token` record's fingerprint of an unredacted value.
fn plain_fingerprint(value: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(value.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Every download is a complete capture file: meta, the connection's records, and an `end` record counting them,
/// so `convert` (and `inspect`, `redact`) take it without `--partial`; a HAR download converts to one too. A
/// redacted download's token records keep their kind and carry no plain hash of the secret. When the UI's history
/// has forgotten records, the `end` says the download may be incomplete.
#[tokio::test]
async fn downloads_are_complete_capture_files() {
    use frametap::convert::{convert, ConvertCommand};
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 1);
    fixtures::publish_healthy(&hub, 2);
    let opaque = serde_json::json!({"token_kind": "opaque", "flags": [], "note": "opaque credential",
        "rest_only": false, "fingerprint": plain_fingerprint(SESSION_TOKEN), "preview": "5b1f0c…"});
    publish(
        &hub,
        Record::from(frametap::event::Token {
            conn: 2,
            ts: fixtures::at(1800),
            seq: Some(1),
            source: "frame:token".into(),
            details: fixtures::details(opaque),
        }),
    );
    let ui = start_ui(hub, None).await;
    let c = cookie(&ui);
    let dir = tempfile::tempdir().unwrap();
    for path in
        ["/api/conn/1/capture", "/api/conn/2/capture?redacted=1", "/api/conn/1/har", "/api/conn/2/har?redacted=1"]
    {
        let (status, _, body) = get(ui.addr, path, &[("cookie", &c)]).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let har = path.contains("/har");
        let name = path.replace(['/', '?', '='], "_");
        let saved = dir.path().join(if har { format!("{name}.har") } else { format!("{name}.jsonl") });
        std::fs::write(&saved, &body).unwrap();
        // convert refuses a capture without its end record unless --partial.
        let converted = dir.path().join(if har { format!("{name}.jsonl") } else { format!("{name}.ftcap") });
        let cmd = ConvertCommand { input: saved.clone(), output: converted.clone(), redact: false, partial: false };
        convert(&cmd).unwrap_or_else(|e| panic!("{path}: {e:#}"));
        let capture = frametap::capture::read_capture(&converted).unwrap();
        assert!(capture.has_end && capture.problems.is_empty(), "{path}");
        let Some((Record::End(end), rest)) = capture.records.split_last() else { panic!("{path}: no end") };
        let count = |kind: &str| rest.iter().filter(|r| r.kind() == kind).count() as u64;
        assert_eq!((end.connections, end.frames, end.records), (1, count("frame"), rest.len() as u64), "{path}");
        assert!(end.frames > 0 && end.complete, "{path}: {end:?}");
        if path.starts_with("/api/conn/2") {
            let token = rest
                .iter()
                .find_map(|r| match r {
                    Record::Token(t) if t.source == "frame:token" => Some(t),
                    _ => None,
                })
                .unwrap();
            assert_eq!(token.details["token_kind"], "opaque", "{path}");
            let fingerprint = token.details["fingerprint"].as_str().unwrap();
            assert_ne!(fingerprint, plain_fingerprint(SESSION_TOKEN), "{path}: a plain hash of the session token");
        }
    }
    ui.stop().await.unwrap();

    // A history too small for the connection: the download says what it may lack.
    let hub = Hub::new(HubOptions { history_limit: 3, redacted: false });
    publish(&hub, fixtures::meta());
    fixtures::publish_healthy(&hub, 1);
    let ui = start_ui(hub, None).await;
    let (status, _, body) = get(ui.addr, "/api/conn/1/capture", &[("cookie", &cookie(&ui))]).await;
    assert_eq!(status, StatusCode::OK);
    let Some(Record::End(end)) = records_of(&body).pop() else { panic!("no end in {body}") };
    assert!(!end.complete && end.errors[0].contains("may be missing"), "{end:?}");
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
    let err = ui::bind(taken.local_addr().unwrap()).await.unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("port is taken") && message.contains("--ui ADDR") && message.contains("--no-ui"),
        "{message}"
    );
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
