//! `replay serve`: a fake upstream. Every WebSocket client it accepts gets the recorded handshake answer, then
//! the recorded server side of one connection, played against the client's frames by [`super::player`]. The
//! replay is a [`Backend`] behind the proxy's own listeners, so clients reach it as `ws://`, as `wss://`
//! (`--tls`), or through forward mode (`--forward`), exactly as they reach `frametap proxy`.

use super::player::{play, PlayOptions, PlayReport};
use super::script::Script;
use crate::event::{ConnId, Headers, HttpRequest, HttpResponse, Note, Open, Peer, Record, Ts};
use crate::forward::{ForwardOptions, Target, UpstreamProxies};
use crate::pipeline::EventSink;
use crate::proxy::headers::client_response_headers;
use crate::proxy::relay::RelayOptions;
use crate::proxy::server::client_headers;
use crate::proxy::stream::RelayStream;
use crate::proxy::upstream::UpstreamBase;
use crate::proxy::{Backend, ProxyConfig, ProxyContext};
use crate::redact::SharedRedactor;
use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How `replay serve` treats each client.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub play: PlayOptions,
    /// How long a client may take to send its upgrade request (and, with TLS, its handshake).
    pub handshake_timeout: Duration,
}

/// How clients reach the replay: the listeners `frametap proxy` has.
pub enum Front {
    /// `ws://` on the listener.
    Plain,
    /// `wss://` with this server config (`--tls`: the local CA's localhost leaf).
    Tls(Arc<rustls::ServerConfig>),
    /// The browser's HTTP proxy (`--forward`): WebSocket upgrades to the intercepted hosts get the replay; other
    /// hosts are tunnelled untouched, reached directly or through `proxies`.
    Forward { options: ForwardOptions, proxies: UpstreamProxies },
}

impl Front {
    /// The scheme of the listener's URL: `ws`, `wss`, or `http` for the HTTP proxy.
    pub fn scheme(&self) -> &'static str {
        match self {
            Front::Plain => "ws",
            Front::Tls(_) => "wss",
            Front::Forward { .. } => "http",
        }
    }
}

/// What `replay serve` did with one client, for its summary on stderr.
#[derive(Debug)]
pub enum Served {
    /// The recorded 101, then the recorded server side, played.
    Played(PlayReport),
    /// The recorded refusal (`status`, no WebSocket); `recorded_error` when the recording holds no answer because
    /// frametap could not reach the upstream, so the replay answered a 502 naming that error.
    Answered { conn: ConnId, status: u16, recorded_error: Option<String> },
}

impl Served {
    /// The play report, for a client that got the WebSocket.
    pub fn played(self) -> Option<PlayReport> {
        match self {
            Served::Played(report) => Some(report),
            Served::Answered { .. } => None,
        }
    }
}

/// One replay: the backend behind the listener.
struct Replay {
    script: Script,
    play: PlayOptions,
    reports: Option<mpsc::UnboundedSender<Served>>,
}

/// Serves `script` to every client on `listener`, reached through `front`, until `shutdown` resolves; then closes
/// open connections with 1001 and waits (up to the close timeout) for them. What each client got (a played
/// connection's report, or the recorded refusal) goes to `reports`.
pub async fn serve(
    listener: TcpListener,
    front: Front,
    script: Script,
    options: ServeOptions,
    sink: EventSink,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reports: Option<mpsc::UnboundedSender<Served>>,
) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    let config = ProxyConfig {
        upstream: UpstreamBase::named(format!("replay:{}", script.label())),
        // Forward mode's requests to hosts it does not intercept are verified as `proxy --forward` verifies them.
        tls: crate::tls::upstream::client_config(None, false)?,
        upstream_proxies: match &front {
            Front::Forward { proxies, .. } => proxies.clone(),
            _ => UpstreamProxies::direct(),
        },
        set_headers: Vec::new(),
        forward_cookies: false,
        relay: RelayOptions { max_message: options.play.max_message, close_timeout: options.play.close_timeout },
        handshake_timeout: options.handshake_timeout,
        public_url: format!("{}://{}", front.scheme(), crate::cli::dialable(local)),
        ui_address: None,
    };
    let replay = Arc::new(Replay { script, play: options.play, reports });
    match front {
        Front::Plain => crate::proxy::serve_backend(listener, None, replay, config, sink, shutdown).await,
        Front::Tls(tls) => crate::proxy::serve_backend(listener, Some(tls), replay, config, sink, shutdown).await,
        Front::Forward { options, .. } => {
            crate::forward::serve_backend(listener, options, replay, config, sink, shutdown).await
        }
    }
}

impl Backend for Replay {
    fn upgrade<IO: RelayStream>(
        &self,
        req: Request<Incoming>,
        client_addr: SocketAddr,
        _host: Option<Target>,
        ctx: Arc<ProxyContext>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send {
        self.answer::<IO>(req, client_addr, ctx)
    }

    fn not_an_upgrade(&self, _ctx: &ProxyContext) -> String {
        format!(
            "frametap replay serve: this address replays {} to WebSocket clients; connect with one.\n",
            self.script.label()
        )
    }

    /// A HAR's recorded answer to this request ([`super::http_answers`]); otherwise a 502 that says there is
    /// none, rather than reach the real host behind the replay's back.
    fn other_request(&self, req: &Request<Incoming>, target: &Target) -> Option<Response<Full<Bytes>>> {
        Some(super::http_answers::answer(req, target, &self.script))
    }
}

pub(super) fn response(status: u16, headers: &Headers, body: Bytes) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(body)).unwrap_or_else(|e| {
        let mut fallback = Response::new(Full::new(Bytes::from(format!("the recorded answer cannot be sent: {e}\n"))));
        *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

pub(super) fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let headers = vec![("content-type".to_owned(), "text/plain; charset=utf-8".to_owned())];
    response(status.as_u16(), &headers, Bytes::from(body))
}

/// The recorded answer to the upgrade: status, end-to-end headers, body (a 502 naming the error when the
/// recorded upstream could not be reached).
fn recorded_answer(script: &Script) -> (u16, Headers, Bytes) {
    match script.open.relayed_response() {
        Some(recorded) => {
            let body = match (&recorded.body, &recorded.body_base64) {
                (Some(text), _) => Bytes::from(text.clone()),
                (None, Some(b64)) => base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default().into(),
                (None, None) => Bytes::new(),
            };
            (recorded.status, client_response_headers(&recorded.headers), body)
        }
        None => {
            let error = script.open.error.as_deref().unwrap_or("the capture records no answer");
            let upstream = script.open.upstream.as_deref().unwrap_or("the upstream");
            let headers = vec![("content-type".to_owned(), "text/plain; charset=utf-8".to_owned())];
            (502, headers, Bytes::from(format!("frametap could not open {upstream}: {error}\n")))
        }
    }
}

/// Takes the recorded subprotocol out of a 101 when this client did not offer it (a client fails a handshake
/// that names a subprotocol it did not ask for); says so.
fn unoffered_subprotocol(headers: &mut Headers, request: &Headers) -> Option<String> {
    let recorded = crate::event::header(headers, "sec-websocket-protocol")?.trim().to_owned();
    let offered = crate::inspect::handshake::values(request, "sec-websocket-protocol");
    if offered.contains(&recorded) {
        return None;
    }
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("sec-websocket-protocol"));
    let offered = if offered.is_empty() { "none".to_owned() } else { offered.join(", ") };
    Some(format!(
        "the recorded upstream chose the subprotocol {recorded:?}, which this client did not offer (it offered {offered}): the replay answers without one"
    ))
}

/// `open` as frametap may quote it (its request path, its upstream URL): with `--redact`, redacted as the capture
/// has it, credential query values masked (the recorded ones are secrets the live traffic never shows the
/// pipeline's redactor).
pub fn shown_open(open: &Open, redactor: Option<&SharedRedactor>) -> Open {
    match redactor {
        Some(redactor) => redactor.redact_open(open.clone()),
        None => open.clone(),
    }
}

impl Replay {
    fn shown_path(&self, open: &Open) -> String {
        shown_open(open, self.play.redactor.as_ref()).request.path
    }

    /// Answers one upgrade request with the recorded answer; on 101, plays the recorded server side on the
    /// upgraded `IO` stream in a task of its own.
    async fn answer<IO: RelayStream>(
        &self,
        req: Request<Incoming>,
        client_addr: SocketAddr,
        ctx: Arc<ProxyContext>,
    ) -> Response<Full<Bytes>> {
        let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
            return text(
                StatusCode::BAD_REQUEST,
                "frametap: the upgrade request has no Sec-WebSocket-Key header\n".into(),
            );
        };
        let sink = ctx.sink.connection();
        let conn = sink.conn();
        let path = req.uri().path_and_query().map_or("/".to_owned(), |pq| pq.as_str().to_owned());
        let request_headers = client_headers(req.headers());
        let (status, mut headers, body) = recorded_answer(&self.script);
        let subprotocol_note = (status == 101).then(|| unoffered_subprotocol(&mut headers, &request_headers)).flatten();
        if status == 101 {
            let mut upgrade = crate::proxy::server::switching_protocols_headers(key.as_bytes());
            upgrade.append(&mut headers);
            headers = upgrade;
        }
        let open = Open {
            client_addr: Some(client_addr.to_string()),
            upstream: Some(format!("replay:{}", self.script.label())),
            response: Some(HttpResponse {
                status,
                headers: headers.clone(),
                body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
                body_base64: None,
            }),
            ..Open::new(
                conn,
                Ts::now(),
                HttpRequest { method: req.method().to_string(), path: path.clone(), headers: request_headers },
            )
        };
        let recorded_path = &self.script.open.request.path;
        let path_note = (&path != recorded_path).then(|| {
            format!(
                "the client asked for {}; the recording was of {}",
                self.shown_path(&open),
                self.shown_path(&self.script.open)
            )
        });
        // One batch: the diagnosis of an answer other than 101 follows the notes about its handshake.
        let mut records = vec![Record::from(open)];
        for (code, message) in [("replay-path", path_note), ("replay-subprotocol", subprotocol_note)] {
            if let Some(message) = message {
                let note = Note::info(code, Some(conn), Ts::now(), message);
                records.push(Record::Note(note));
            }
        }
        sink.emit_all(&mut records).await;
        if status != 101 {
            if let Some(reports) = &self.reports {
                let recorded_error = self
                    .script
                    .open
                    .relayed_response()
                    .is_none()
                    .then(|| String::from_utf8_lossy(&body).trim().to_owned());
                let _ = reports.send(Served::Answered { conn, status, recorded_error });
            }
            return response(status, &headers, body);
        }
        let guard = ctx.track_relay();
        let (steps, end) = (self.script.steps(Peer::Server), self.script.end());
        let (options, reports) = (self.play.clone(), self.reports.clone());
        tokio::spawn(async move {
            let _guard = guard;
            let Some((stream, prefix)) = crate::proxy::server::upgraded_client::<IO>(req, conn).await else {
                return;
            };
            let report = play(stream, prefix, steps, end, Peer::Server, sink, options, ctx.shutdown.clone()).await;
            if let Some(reports) = reports {
                let _ = reports.send(Served::Played(report));
            }
        });
        response(101, &headers, Bytes::new())
    }
}
