//! One accepted TCP connection: the WebSocket handshake, then the loop that feeds the session and
//! carries out what it says (send, close, drop), with the expiry timer, kicks and shutdown.

use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, timeout, timeout_at, Instant};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::config::SimConfig;
use super::handshake::{self, Accepted};
use super::plain_http::{self, Prefixed};
use super::registry::Registry;
use super::session::{ClientFrame, Output, Session};

type Ws = WebSocketStream<Prefixed<TcpStream>>;

/// Serves one client until it leaves, the session ends it, or the simulator shuts down.
pub async fn handle(
    mut stream: TcpStream,
    conn: u64,
    config: SimConfig,
    registry: Arc<Registry>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let deadline = Instant::now() + config.timeouts.handshake;
    let head = match timeout_at(deadline, plain_http::read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(e)) => {
            tracing::debug!("no request: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("no request within {:?}", config.timeouts.handshake);
            return;
        }
    };
    if !plain_http::is_websocket_upgrade(&head) {
        tracing::info!("plain HTTP request (no WebSocket upgrade): answered 426");
        if let Ok(local) = stream.local_addr() {
            let _ = timeout_at(deadline, plain_http::answer_plain_request(&mut stream, local)).await;
        }
        return;
    }
    let stream = Prefixed::new(head, stream);
    let mut accepted: Option<Accepted> = None;
    // The error type is tungstenite's `ErrorResponse`; its size is not ours to choose.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        tracing::debug!(uri = %request.uri(), "upgrade request");
        match handshake::check_request(request, &config.defaults) {
            Ok(ok) => {
                accepted = Some(ok);
                Ok(response)
            }
            Err(refused) => {
                tracing::info!(status = %refused.status, why = %refused.body, "handshake refused");
                Err(refused.into_response())
            }
        }
    };
    let upgrade = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, None);
    let ws = match timeout_at(deadline, upgrade).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!("handshake ended: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("handshake timed out after {:?}", config.timeouts.handshake);
            return;
        }
    };
    let Some(Accepted { scenario, deployment_id }) = accepted else {
        return;
    };
    tracing::info!(%deployment_id, "session opened");
    tracing::debug!(?scenario, "scenario");
    let (kick_tx, kick_rx) = mpsc::unbounded_channel();
    let close_wait = config.timeouts.close;
    let mut session = Session::new(conn, scenario, deployment_id, config, registry, kick_tx);
    let ending = run(ws, &mut session, kick_rx, &mut stop, close_wait).await;
    session.finish();
    tracing::info!("session ended: {ending}");
}

async fn run(
    mut ws: Ws,
    session: &mut Session,
    mut kicked: mpsc::UnboundedReceiver<super::registry::Kicked>,
    stop: &mut watch::Receiver<bool>,
    close_wait: std::time::Duration,
) -> &'static str {
    let mut deadline: Option<Instant> = None;
    loop {
        if *stop.borrow_and_update() {
            close(&mut ws, CloseCode::Away, "simulator shutting down", close_wait).await;
            return "simulator shut down (1001)";
        }
        let expiry = async {
            match deadline {
                Some(at) => sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let outputs = tokio::select! {
            incoming = ws.next() => match incoming {
                None => return "client closed",
                Some(Err(e)) => {
                    tracing::debug!("read failed: {e}");
                    return "connection lost";
                }
                Some(Ok(message)) => {
                    tracing::trace!(?message, "received");
                    let is_data = matches!(message, Message::Text(_) | Message::Binary(_));
                    let outputs = match &message {
                        Message::Text(text) => session.on_frame(ClientFrame::Text(text.as_str())),
                        Message::Binary(_) => session.on_frame(ClientFrame::Binary),
                        _ => session.on_frame(ClientFrame::Control),
                    };
                    if is_data {
                        deadline = session
                            .is_configured()
                            .then(|| Instant::now() + session.scenario().expire_after);
                    }
                    outputs
                }
            },
            _ = expiry => {
                deadline = None;
                session.on_expired()
            }
            Some(_) = kicked.recv() => session.on_kicked(),
            changed = stop.changed() => {
                if changed.is_err() {
                    close(&mut ws, CloseCode::Away, "simulator shutting down", close_wait).await;
                    return "simulator gone (1001)";
                }
                continue;
            }
        };
        for output in outputs {
            match output {
                Output::Send(text) => {
                    tracing::trace!(frame = %text, "send");
                    if let Err(e) = ws.send(Message::text(text)).await {
                        tracing::debug!("send failed: {e}");
                        return "connection lost";
                    }
                }
                Output::Close => {
                    close(&mut ws, CloseCode::Normal, "", close_wait).await;
                    return "closed by the simulator (1000)";
                }
                Output::Drop => {
                    drop(ws);
                    return "TCP dropped without a close frame (drop-after)";
                }
            }
        }
        if !session.is_configured() {
            deadline = None;
        }
    }
}

/// Sends a Close and waits (bounded) for the client's Close, so the close handshake completes.
async fn close(ws: &mut Ws, code: CloseCode, reason: &str, wait: std::time::Duration) {
    let frame = CloseFrame { code, reason: reason.into() };
    if ws.close(Some(frame)).await.is_err() {
        return;
    }
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = timeout(wait, drain).await;
}
