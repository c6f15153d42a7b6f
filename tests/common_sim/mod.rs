//! Test helpers for the simulator: start it on 127.0.0.1:0, connect real WebSocket clients, read frames.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use frametap::sim::{serve, SimArgs, SimConfig, Timeouts};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for any one frame before failing (never a readiness wait).
pub const FRAME_WAIT: Duration = Duration::from_secs(5);

pub const DEPLOYMENT: &str = "11111111-2222-4333-8444-555555555555";

pub struct Sim {
    pub addr: SocketAddr,
    pub config: SimConfig,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Starts a simulator with these flags and short timeouts.
pub async fn start(args: SimArgs) -> Sim {
    start_config(SimConfig::from_args(&args).expect("valid simulator flags")).await
}

/// Starts a simulator with this configuration, its timeouts replaced by short ones.
pub async fn start_config(mut config: SimConfig) -> Sim {
    config.timeouts = Timeouts { handshake: Duration::from_secs(2), close: Duration::from_millis(200) };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, config.clone(), async {
        let _ = stopped.await;
    }));
    Sim { addr, config, stop: Some(stop), task }
}

impl Sim {
    /// `ws://addr/v1?deploymentId=…` plus `extra` query parameters (`&`-joined, no leading `&`).
    pub fn url(&self, extra: &str) -> String {
        let mut url = format!("ws://{}/v1?deploymentId={DEPLOYMENT}", self.addr);
        if !extra.is_empty() {
            url.push('&');
            url.push_str(extra);
        }
        url
    }

    pub async fn connect(&self, extra: &str) -> Ws {
        connect(&self.url(extra), None).await.expect("handshake accepted")
    }

    /// Stops the simulator and waits for `serve` to return.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(FRAME_WAIT, &mut self.task).await.expect("serve returns after shutdown").unwrap().unwrap();
    }
}

pub async fn connect(url: &str, origin: Option<&str>) -> Result<Ws, WsError> {
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", origin.parse().unwrap());
    }
    let (ws, _) = tokio::time::timeout(FRAME_WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake within the wait")?;
    Ok(ws)
}

/// The status and body of a refused handshake.
pub async fn refused(url: &str, origin: Option<&str>) -> (u16, String) {
    match connect(url, origin).await {
        Err(WsError::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (response.status().as_u16(), String::from_utf8(body).unwrap())
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, the handshake was accepted"),
    }
}

pub async fn send(ws: &mut Ws, value: Value) {
    ws.send(Message::text(value.to_string())).await.unwrap();
}

pub async fn next_message(ws: &mut Ws) -> Message {
    tokio::time::timeout(FRAME_WAIT, ws.next())
        .await
        .expect("a frame within the wait")
        .expect("the connection is still open")
        .expect("a frame, not an error")
}

/// The next frame, which must be a JSON text frame.
pub async fn next_json(ws: &mut Ws) -> Value {
    match next_message(ws).await {
        Message::Text(text) => serde_json::from_str(text.as_str()).expect("JSON"),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// The next frame, which must be a Close; returns its code and reason.
pub async fn next_close(ws: &mut Ws) -> (u16, String) {
    match next_message(ws).await {
        Message::Close(Some(CloseFrame { code, reason })) => (code.into(), reason.to_string()),
        other => panic!("expected a Close frame, got {other:?}"),
    }
}

pub fn configure_request(token: &str) -> Value {
    json!({"action": "configureSession", "deploymentId": DEPLOYMENT, "token": token, "tracingId": "cfg-1"})
}

/// Sends configureSession and returns the SessionResponse.
pub async fn configure(ws: &mut Ws, token: &str) -> Value {
    send(ws, configure_request(token)).await;
    let response = next_json(ws).await;
    assert_eq!(response["class"], "SessionResponse", "{response}");
    response
}

pub fn message_request(token: &str, text: &str) -> Value {
    json!({"action": "onMessage", "token": token, "tracingId": format!("m-{text}"),
           "message": {"type": "Text", "text": text}})
}

/// A JWT as the OAuth code exchange hands one out (unsigned for the simulator, which never verifies it): `sub`
/// and an `exp` `exp_in` seconds from now (negative: already expired).
pub fn auth_code(sub: &str, exp_in: i64) -> String {
    auth_code_expiring_at(sub, chrono::Utc::now().timestamp() + exp_in)
}

/// [`auth_code`] with its `exp` given in epoch seconds.
pub fn auth_code_expiring_at(sub: &str, exp: i64) -> String {
    use frametap::inspect::jwt::encode_part;
    let claims = json!({"sub": sub, "exp": exp});
    format!(
        "{}.{}.{}",
        encode_part(br#"{"alg":"RS256","typ":"JWT"}"#),
        encode_part(claims.to_string().as_bytes()),
        encode_part(b"signature")
    )
}

pub fn configure_authenticated_request(token: &str, code: &str) -> Value {
    json!({"action": "configureAuthenticatedSession", "deploymentId": DEPLOYMENT, "token": token,
           "tracingId": "auth-1", "data": {"code": code}})
}

pub fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Sends `request` and expects an error frame with `code` whose body contains `text`.
pub async fn expect_error(ws: &mut Ws, request: Value, code: i64, text: &str) {
    let tracing = request["tracingId"].clone();
    send(ws, request).await;
    let response = next_json(ws).await;
    assert_eq!(response["type"], "response", "{response}");
    assert_eq!(response["class"], "string", "{response}");
    assert_eq!(response["code"], code, "{response}");
    assert!(response["body"].as_str().unwrap().contains(text), "{response}");
    assert_eq!(response["tracingId"], tracing, "{response}");
}
