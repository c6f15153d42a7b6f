//! Test fixtures for the UI: a real UI server on 127.0.0.1:0 and real-looking capture records.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Duration as ChronoDuration, Utc};
use frametap::event::{
    Annotation, Close, Diagnosis, Frame, HttpRequest, HttpResponse, Meta, Opcode, Open, Peer, Record, Token, Ts,
};
use frametap::ui::{self, Hub, HubOptions, UiOptions};
use serde_json::{json, Value};

/// A UI server running on an ephemeral loopback port.
pub struct UiServer {
    pub addr: std::net::SocketAddr,
    pub hub: Arc<Hub>,
    pub token: String,
    /// The URL frametap would print, token included.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn start_ui(hub: Arc<Hub>, proxy_ws_url: Option<String>) -> UiServer {
    start_ui_with(hub, |options| options.try_target = proxy_ws_url.map(frametap::ui::TryTarget::proxy)).await
}

/// A live session's UI server, with options set by `configure` (the try target, the capture file).
pub async fn start_ui_with(hub: Arc<Hub>, configure: impl FnOnce(&mut UiOptions)) -> UiServer {
    let listener = ui::bind("127.0.0.1:0".parse().unwrap(), true).await.expect("bind the UI");
    let addr = listener.local_addr().unwrap();
    let token = ui::new_access_token();
    let mut options = UiOptions::new(addr, token.clone());
    configure(&mut options);
    options.label = Some("live".into());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(ui::serve(listener, hub.clone(), options, async {
        let _ = stopped.await;
    }));
    UiServer { addr, hub, url: ui::url(addr, &token), token, stop: Some(stop), task }
}

impl UiServer {
    /// Stops the server and waits for it to finish (live streams included).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(std::time::Duration::from_secs(10), &mut self.task).await??
    }
}

/// A hub holding a `meta`, connection #1's `open` and its frames 1 to `frames` as `frame` makes them, with room in its
/// history for as many again.
pub fn hub_with_frames(frames: u64, frame: impl Fn(u64) -> Record) -> Arc<Hub> {
    let hub = Hub::new(HubOptions { history_limit: 2 * frames as usize, redacted: false });
    publish(&hub, meta());
    publish(&hub, open(1, "/v1"));
    for seq in 1..=frames {
        publish(&hub, frame(seq));
    }
    hub
}

/// Publishes a record the way the pipeline does: with its JSON serialisation.
pub fn publish(hub: &Hub, record: Record) {
    let json = serde_json::to_string(&record).unwrap();
    hub.publish(&record, &json);
}

pub fn publish_annotation(hub: &Hub, conn: u64, seq: u64, text: &str) {
    let details = serde_json::Map::new();
    publish(
        hub,
        Record::from(Annotation { conn, ts: Ts::now(), seq, profile: "genesys".into(), text: text.into(), details }),
    );
}

pub fn at(ms: i64) -> Ts {
    Ts(Utc::now() + ChronoDuration::milliseconds(ms))
}

pub fn meta() -> Record {
    Record::from(Meta {
        ts: at(0),
        format: frametap::event::FORMAT_NAME.into(),
        version: frametap::event::FORMAT_VERSION,
        frametap: "0.1.0".into(),
        command: vec!["frametap".into(), "proxy".into()],
        mode: "proxy".into(),
        upstream: Some("sim:genesys".into()),
        redacted: false,
        insecure_upstream: false,
    })
}

pub fn open(conn: u64, path: &str) -> Record {
    Record::from(Open {
        conn,
        ts: at(0),
        client_addr: Some("127.0.0.1:53122".into()),
        request: HttpRequest {
            method: "GET".into(),
            path: path.into(),
            headers: vec![
                ("Host".into(), "127.0.0.1:9000".into()),
                ("Origin".into(), "http://localhost:3000".into()),
                ("Upgrade".into(), "websocket".into()),
            ],
        },
        upstream: Some(format!("wss://webmessaging.mypurecloud.com{path}")),
        upstream_request: None,
        response: Some(HttpResponse {
            status: 101,
            headers: vec![("Upgrade".into(), "websocket".into())],
            body: None,
            body_base64: None,
        }),
        error: None,
        handshake_ms: Some(42.0),
        upstream_tcp_rtt_ms: None,
        failed_ms: None,
        upgraded_ms: None,
    })
}

pub fn frame(conn: u64, seq: u64, from: Peer, opcode: Opcode, payload: &[u8], ms: i64) -> Record {
    Record::Frame(Frame::whole(conn, at(ms), seq, from, opcode, Bytes::copy_from_slice(payload)))
}

pub fn text(conn: u64, seq: u64, from: Peer, body: Value, ms: i64) -> Record {
    frame(conn, seq, from, Opcode::Text, body.to_string().as_bytes(), ms)
}

pub fn close_frame(conn: u64, seq: u64, from: Peer, code: u16, reason: &str, ms: i64) -> Record {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    frame(conn, seq, from, Opcode::Close, &payload, ms)
}

pub fn close(conn: u64, initiator: Peer, code: Option<u16>, reason: Option<&str>, ms: f64) -> Record {
    Record::Close(Close {
        conn,
        ts: at(ms as i64),
        initiator,
        initiator_unknown: false,
        code,
        reason: reason.map(str::to_owned),
        clean: code.is_some(),
        dropped_by: code.is_none().then_some(initiator),
        duration_ms: ms,
        detail: None,
    })
}

pub fn details(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// The story behind frametap: a custom chat UI's first frame has no `action`, and the server closes
/// with 1000 and no reason. Frame 1 is the culprit; a ping/pong pair and a typing event are noise.
pub fn publish_story(hub: &Hub, conn: u64) {
    publish(hub, open(conn, "/v1?deploymentId=11111111-2222-4333-8444-555555555555"));
    publish(hub, frame(conn, 1, Peer::Client, Opcode::Ping, b"hb", 200));
    publish(hub, frame(conn, 2, Peer::Server, Opcode::Pong, b"hb", 230));
    let typing = json!({"action": "onMessage", "token": "5b1f0c7e-7a43-4ad5-9d1a-0f2b7d7f1c11",
        "message": {"type": "Event", "events": [{"eventType": "Typing", "typing": {"type": "On"}}]}});
    publish(hub, text(conn, 3, Peer::Client, typing, 900));
    let broken = json!({"type": "message", "content": "Hello from custom UI", "timestamp": "2026-11-25T19:40:01.250Z"});
    publish(hub, text(conn, 4, Peer::Client, broken, 1250));
    publish_annotation(
        hub,
        conn,
        4,
        "request without action ⚠ no `action`, no `token`, sent before any `configureSession`",
    );
    publish(hub, close_frame(conn, 5, Peer::Server, 1000, "", 1430));
    publish(hub, close_frame(conn, 6, Peer::Client, 1000, "", 1436));
    publish(hub, close(conn, Peer::Server, Some(1000), None, 1436.0));
    publish(
        hub,
        Record::Diagnosis(Diagnosis {
            conn,
            ts: at(1436),
            details: details(json!({
                "initiator": "server", "code": 1000, "code_name": "Normal Closure",
                "code_meaning": "1000 Normal Closure: the endpoint ended the connection on purpose; the code alone says nothing about why",
                "reason": "", "clean": true, "how": "closed", "detail": null,
                "duration_ms": 1436.0, "handshake_ms": 42.0, "upstream_rtt_ms": 30.0, "upstream_rtt_source": "ping",
                "close_seq": 5, "profile": "genesys",
                "preceding": {"seq": 4, "from": "client", "opcode": "text", "len": 84,
                    "preview": "{\"type\":\"message\",\"content\":\"Hello from custom UI\",…}", "gap_ms": 180.0},
                "other_side_last": {"seq": 2, "from": "server", "opcode": "pong", "len": 2, "preview": "hb", "gap_ms": 1200.0},
                "summary": "server closed, no reason, after 1.4 s, 180 ms after client frame #4; likely protocol-lint",
                "causes": [
                    {"rule": "protocol-lint", "confidence": "likely", "seq": 4,
                     "message": "client frame #4 breaks the Genesys Guest API protocol (no `action`, no `token`, sent before any `configureSession`); the server likely closed because of it",
                     "evidence": ["frame #4 has no `action`: every Guest API request names one", "frame #4 has no `token`"]},
                    {"rule": "in-response", "confidence": "likely", "seq": 4,
                     "message": "the server closed 180 ms after client frame #4: likely in response to frame #4",
                     "evidence": ["gap 180 ms > round trip 30 ms", "round trip 30 ms from a Ping's Pong"]}
                ],
                "ruled_out": [
                    {"rule": "token-expired", "message": "no JWT with an `exp` was in force on this connection, so nothing here expired by the clock"}
                ],
                "findings": [
                    {"rule": "genesys-no-action", "severity": "error", "seq": 4, "message": "client frame has no `action`"},
                    {"rule": "genesys-before-configure", "severity": "error", "seq": 4, "message": "request before configureSession"}
                ]
            })),
        }),
    );
}

/// A healthy Guest API session with a JWT, still open.
pub fn publish_healthy(hub: &Hub, conn: u64) {
    let token = "5b1f0c7e-7a43-4ad5-9d1a-0f2b7d7f1c11";
    publish(hub, open(conn, "/v1?deploymentId=11111111-2222-4333-8444-555555555555&application=web-1.0"));
    let frames = [
        (
            Peer::Client,
            json!({"action": "configureSession", "deploymentId": "11111111-2222-4333-8444-555555555555", "token": token, "tracingId": "a1"}),
        ),
        (
            Peer::Server,
            json!({"type": "response", "class": "SessionResponse", "code": 200, "body": {"connected": true, "newSession": true, "durationSeconds": 259200}, "tracingId": "a1"}),
        ),
        (Peer::Client, json!({"action": "getJwt", "token": token, "tracingId": "a2"})),
        (
            Peer::Server,
            json!({"type": "response", "class": "JwtResponse", "code": 200, "body": {"jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJndWVzdCJ9.c2ln", "exp": 1795000000}, "tracingId": "a2"}),
        ),
        (
            Peer::Client,
            json!({"action": "onMessage", "token": token, "message": {"type": "Text", "text": "Hi, where is my order?"}, "tracingId": "a3"}),
        ),
        (
            Peer::Server,
            json!({"type": "message", "class": "StructuredMessage", "code": 200, "body": {"type": "Text", "text": "Hi, where is my order?", "direction": "Inbound"}}),
        ),
        (
            Peer::Server,
            json!({"type": "message", "class": "StructuredMessage", "code": 200, "body": {"type": "Event", "direction": "Outbound", "events": [{"eventType": "Typing", "typing": {"type": "On"}}]}}),
        ),
        (
            Peer::Server,
            json!({"type": "message", "class": "StructuredMessage", "code": 200, "body": {"type": "Text", "text": "Let me check that for you.", "direction": "Outbound"}}),
        ),
        (
            Peer::Client,
            json!({"action": "echo", "token": token, "message": {"type": "Text", "text": "ping"}, "tracingId": "a4"}),
        ),
        (
            Peer::Server,
            json!({"type": "response", "class": "StructuredMessage", "code": 200, "body": {"type": "Text", "text": "ping"}, "tracingId": "a4"}),
        ),
    ];
    let notes = [
        "configureSession",
        "SessionResponse 200 (a1, 61 ms)",
        "getJwt",
        "JwtResponse 200 (a2, 48 ms)",
        "onMessage Text",
        "StructuredMessage Inbound (echo of your message)",
        "typing (agent)",
        "StructuredMessage Outbound",
        "echo (heartbeat)",
        "echo reply (a4, 39 ms)",
    ];
    for (i, (from, body)) in frames.into_iter().enumerate() {
        let seq = i as u64 + 1;
        publish(hub, text(conn, seq, from, body, 100 + 400 * i as i64));
        publish_annotation(hub, conn, seq, notes[i]);
    }
    publish(hub, frame(conn, 11, Peer::Client, Opcode::Ping, b"", 5000));
    publish(hub, frame(conn, 12, Peer::Server, Opcode::Pong, b"", 5030));
    publish(hub, frame(conn, 13, Peer::Server, Opcode::Binary, &[0x00, 0x01, 0xfe, 0xff, b'h', b'i'], 5100));
    let exp = Utc::now() + ChronoDuration::seconds(95);
    let iat = Utc::now() - ChronoDuration::seconds(3505);
    publish(
        hub,
        Record::from(Token {
            conn,
            ts: at(1700),
            seq: Some(4),
            source: "frame:body.jwt".into(),
            details: details(json!({
                "token_kind": "jwt", "verified": false,
                "header": {"alg": "HS256", "typ": "JWT"},
                "claims": {"sub": "guest", "iss": "https://webmessaging.mypurecloud.com", "exp": exp.timestamp(), "iat": iat.timestamp(), "deploymentId": "11111111-2222-4333-8444-555555555555"},
                "times": {
                    "exp": {"utc": exp.to_rfc3339(), "relative": "in 95 s", "epoch": exp.timestamp()},
                    "iat": {"utc": iat.to_rfc3339(), "relative": "58 min 25 s before it was seen", "epoch": iat.timestamp()}
                },
                "flags": ["expiring-within-60s"], "fingerprint": "3f9a0c1d2e4b", "preview": "eyJhbG…",
            })),
        }),
    );
}

/// A refused handshake.
pub fn publish_refused(hub: &Hub, conn: u64) {
    let mut record = open(conn, "/api/v2/guest/sessions");
    if let Record::Open(o) = &mut record {
        o.upstream = Some("wss://api.mypurecloud.com/api/v2/guest/sessions".into());
        o.response =
            Some(HttpResponse { status: 403, headers: vec![], body: Some("access refused".into()), body_base64: None });
        // Refused 2.5 s after the request, on a 42 ms handshake round trip.
        o.failed_ms = Some(2500.0);
    }
    publish(hub, record);
    publish(
        hub,
        Record::Diagnosis(Diagnosis {
            conn,
            ts: at(80),
            details: details(json!({
                "initiator": "server", "opened": false, "status": 403, "code": null, "clean": true,
                "code_meaning": "no WebSocket: the upstream answered the upgrade with HTTP 403",
                "detail": "the upstream answered the upgrade with HTTP 403", "duration_ms": 80.0, "profile": "genesys",
                "summary": "the WebSocket never opened: the upstream answered the upgrade with HTTP 403",
                "causes": [{"rule": "upgrade-refused", "confidence": "certain",
                    "message": "the upstream refused the WebSocket upgrade with 403 (access refused)",
                    "evidence": ["HTTP 403", "body: access refused"]}],
                "ruled_out": [], "findings": []
            })),
        }),
    );
}

/// `frametap proxy --upstream URL --ui 127.0.0.1:0` as a user runs it, on ephemeral ports, with what it printed.
pub struct ProxyWithUi {
    pub child: tokio::process::Child,
    /// `ws://127.0.0.1:PORT`
    pub proxy: String,
    /// The web UI's URL, access token included.
    pub ui: String,
    _home: tempfile::TempDir,
}

pub async fn start_proxy_with_ui(upstream: &str) -> ProxyWithUi {
    use tokio::io::AsyncBufReadExt as _;
    let home = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::from(crate::common::binary::frametap_command())
        .args(["proxy", "--listen", "127.0.0.1:0", "--ui", "127.0.0.1:0", "--upstream", upstream])
        .env("FRAMETAP_HOME", home.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut proxy, mut ui, mut seen) = (None, None, Vec::new());
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while proxy.is_none() || ui.is_none() {
            let line = stderr.next_line().await.unwrap().unwrap_or_else(|| panic!("frametap exited: {seen:?}"));
            if let Some(rest) = line.split("ws://").nth(1) {
                proxy.get_or_insert_with(|| format!("ws://{}", rest.split('/').next().unwrap()));
            }
            if let Some(url) = line.split("web UI").nth(1) {
                ui = Some(url.trim().to_string());
            }
            seen.push(line);
        }
    })
    .await
    .expect("frametap printed its addresses in time");
    // Keep draining stderr so frametap never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    ProxyWithUi { child, proxy: proxy.unwrap(), ui: ui.unwrap(), _home: home }
}

/// Sends `n` text frames through the proxy at `proxy` (to an echo upstream) as fast as it takes them, while reading
/// the `n` echoes: 2 × `n` frames relayed. Returns when every echo is back; the connection is then closed.
pub async fn burst(proxy: &str, n: usize) {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("{}/burst", proxy.trim_end_matches('/'));
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    let (mut sink, mut stream) = ws.split();
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < n {
            match tokio::time::timeout(std::time::Duration::from_secs(30), stream.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => got += 1,
                Ok(Some(Ok(_))) => {}
                other => panic!("the echo of frame {got} of {n} did not come back: {other:?}"),
            }
        }
    });
    for i in 0..n {
        sink.feed(Message::Text(format!("{{\"n\":{i}}}").into())).await.unwrap();
    }
    sink.flush().await.unwrap();
    reader.await.unwrap();
    let _ = sink.send(Message::Close(None)).await;
}
