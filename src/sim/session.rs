//! One connection's Guest API state machine: frames in, frames (or a close, or a dropped socket) out.
//!
//! No sockets here: `connection.rs` feeds frames and timer events in and carries the outputs out,
//! so every rule can be unit-tested.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::config::{OnInvalid, Scenario, SimConfig};
use super::protocol::{self, Action, Direction, Invalid, Kind, Request, Structured};
use super::registry::{Downgrade, Guest, Kicked, Registry};
use super::scenarios::{self, RateWindow};
use super::{auth, jwt};

/// The body of the 4017 error frame.
const DOWNGRADE: &str = "cannot downgrade to unauthenticated: this session token was configured with configureAuthenticatedSession; resume it with configureAuthenticatedSession (and a current data.code), or start a new session with a new token";

/// What the connection must do next, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send this text frame.
    Send(String),
    /// Send Close 1000 with no reason, then end the connection.
    Close,
    /// Drop the TCP connection at once, without a close frame.
    Drop,
}

/// A frame from the client, as the session needs to see it.
#[derive(Clone, Copy, Debug)]
pub enum ClientFrame<'a> {
    Text(&'a str),
    Binary,
    /// Ping, Pong or Close: counted for `drop-after`, otherwise handled by the WebSocket layer.
    Control,
}

pub struct Session {
    pub(super) conn: u64,
    pub(super) scenario: Scenario,
    pub(super) deployment_id: String,
    pub(super) config: SimConfig,
    pub(super) registry: Arc<Registry>,
    kick: mpsc::UnboundedSender<Kicked>,
    /// The configured session token; `None` until configureSession succeeds.
    pub(super) token: Option<String>,
    pub(super) rate: Option<RateWindow>,
    frames_in: u32,
}

impl Session {
    pub fn new(
        conn: u64,
        scenario: Scenario,
        deployment_id: String,
        config: SimConfig,
        registry: Arc<Registry>,
        kick: mpsc::UnboundedSender<Kicked>,
    ) -> Session {
        Session {
            conn,
            rate: scenario.rate_limit.map(RateWindow::new),
            scenario,
            deployment_id,
            config,
            registry,
            kick,
            token: None,
            frames_in: 0,
        }
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn is_configured(&self) -> bool {
        self.token.is_some()
    }

    /// Handles one frame from the client.
    pub fn on_frame(&mut self, frame: ClientFrame<'_>) -> Vec<Output> {
        self.frames_in = self.frames_in.saturating_add(1);
        if self.scenario.drop_after.is_some_and(|n| self.frames_in >= n) {
            tracing::debug!(frames = self.frames_in, "drop-after reached: dropping TCP");
            return vec![Output::Drop];
        }
        match frame {
            ClientFrame::Text(text) => self.on_text(text),
            ClientFrame::Binary => self.invalid(Invalid::Binary.to_string(), 400, None),
            ClientFrame::Control => Vec::new(),
        }
    }

    /// No request came in for `expire_after`.
    pub fn on_expired(&mut self) -> Vec<Output> {
        let Some(token) = self.token.take() else {
            return Vec::new();
        };
        self.registry.forget(&token);
        let expired = protocol::frame(Kind::Response, "SessionExpiredEvent", 200, json!({}), None);
        vec![Output::Send(expired), Output::Close]
    }

    /// Another connection configured this session's token.
    pub fn on_kicked(&mut self) -> Vec<Output> {
        // The token now belongs to the other connection: do not release it on the way out.
        self.token = None;
        let closed = protocol::frame(Kind::Message, "ConnectionClosedEvent", 200, json!({}), None);
        vec![Output::Send(closed), Output::Close]
    }

    /// The connection ended: give the token back (the conversation stays for a reconnect).
    pub fn finish(&mut self) {
        if let Some(token) = self.token.take() {
            self.registry.release(&token, self.conn);
        }
    }

    fn on_text(&mut self, text: &str) -> Vec<Output> {
        let request = match protocol::parse_request(text) {
            Ok(request) => request,
            Err((why, tracing_id)) => {
                let code = if why == Invalid::NoAction { 4020 } else { 400 };
                return self.invalid(why.to_string(), code, tracing_id.as_deref());
            }
        };
        if !self.is_configured() && !request.action.is_configure() {
            let action = request.raw["action"].as_str().unwrap_or_default();
            let why = format!("configureSession must be the first request; got {action:?} first");
            return self.invalid(why, 400, request.tracing_id.as_deref());
        }
        if request.action.is_configure() {
            return self.configure(&request);
        }
        let tracing = request.tracing_id.as_deref();
        match request.token.as_deref() {
            None => return error(4020, "missing parameter: token", tracing),
            Some(token) if Some(token) != self.token.as_deref() => {
                return error(4007, "session not found: the token is not this connection's session", tracing)
            }
            Some(_) => {}
        }
        match request.action {
            Action::OnMessage => self.on_message(&request),
            Action::Echo => self.echo(&request),
            Action::GetJwt => self.get_jwt(&request),
            Action::CloseSession => self.close_session(&request),
            Action::GetConfiguration => self.get_configuration(&request),
            _ => {
                let action = request.raw["action"].as_str().unwrap_or_default();
                error(4000, &format!("feature unavailable: the simulator does not implement {action}"), tracing)
            }
        }
    }

    /// A request the simulator cannot accept: close silently, or answer with an error frame.
    fn invalid(&self, why: String, code: u32, tracing_id: Option<&str>) -> Vec<Output> {
        tracing::debug!(%why, on_invalid = ?self.scenario.on_invalid, "invalid request");
        match self.scenario.on_invalid {
            OnInvalid::Close => vec![Output::Close],
            OnInvalid::Error => error(code, &why, tracing_id),
        }
    }

    fn configure(&mut self, request: &Request) -> Vec<Output> {
        let tracing = request.tracing_id.as_deref();
        let Some(token) = request.token.clone() else {
            return error(4020, "missing parameter: token", tracing);
        };
        if request.str_field("deploymentId").is_none() {
            return error(4020, "missing parameter: deploymentId", tracing);
        }
        let guest = if request.action == Action::ConfigureAuthenticatedSession {
            let code = request.raw.get("data").and_then(|d| d.get("code")).and_then(Value::as_str);
            let Some(code) = code.filter(|c| !c.is_empty()) else {
                return error(4020, "missing parameter: data.code", tracing);
            };
            match auth::check_code(code, chrono::Utc::now().timestamp(), self.scenario.auth_code_margin) {
                Ok(accepted) => Guest::Authenticated { subject: accepted.subject },
                Err(why) => return self.refuse(401, &why, tracing),
            }
        } else {
            Guest::Anonymous
        };
        let start_new = request.raw.get("startNew") == Some(&Value::Bool(true));
        // Checked before this connection lets go of a session it holds: a refused configure changes nothing.
        let previous = self.token.clone().filter(|held| *held != token);
        let claim = match self.registry.claim(&token, self.conn, self.kick.clone(), start_new, guest) {
            Ok(claim) => claim,
            Err(Downgrade) => return self.refuse(4017, DOWNGRADE, tracing),
        };
        if let Some(previous) = previous {
            self.registry.release(&previous, self.conn);
        }
        self.token = Some(token);
        let body = json!({
            "connected": true,
            "newSession": claim.new_session,
            "readOnly": claim.read_only,
            "durationSeconds": scenarios::duration_seconds(self.scenario.expire_after),
            "expirationDate": self.expiration_date(),
            "maxCustomDataBytes": crate::profile::CUSTOM_ATTRIBUTES_LIMIT,
        });
        respond("SessionResponse", body, tracing)
    }

    /// A configure request refused with `code`: the error frame, then, with `--on-invalid close`, the close.
    fn refuse(&self, code: u32, why: &str, tracing_id: Option<&str>) -> Vec<Output> {
        let mut out = error(code, why, tracing_id);
        if self.scenario.on_invalid == OnInvalid::Close {
            out.push(Output::Close);
        }
        out
    }

    pub(super) fn expiration_date(&self) -> i64 {
        scenarios::expiration_date(chrono::Utc::now().timestamp(), self.scenario.expire_after)
    }

    fn echo(&self, request: &Request) -> Vec<Output> {
        let message = request.message();
        let text = message.and_then(|m| m.get("text")).and_then(Value::as_str).unwrap_or("ping");
        let mut metadata =
            message.and_then(|m| m.get("metadata")).and_then(Value::as_object).cloned().unwrap_or_default();
        let seconds = scenarios::duration_seconds(self.scenario.expire_after);
        metadata.insert("durationSeconds".into(), seconds.to_string().into());
        metadata.insert("expirationDate".into(), self.expiration_date().to_string().into());
        let body = Structured { metadata: Some(metadata), ..Structured::text(text) }.body(Direction::Inbound);
        respond("StructuredMessage", body, request.tracing_id.as_deref())
    }

    fn get_jwt(&self, request: &Request) -> Vec<Output> {
        let token = self.token.as_deref().unwrap_or_default();
        let subject = self.registry.with(token, |c| c.subject.clone()).unwrap_or_else(|| "guest-unknown".to_owned());
        let now = chrono::Utc::now().timestamp();
        let claims = jwt::guest_claims(&subject, &self.deployment_id, now, self.scenario.jwt_ttl);
        let signed = jwt::sign_hs256(&claims, &self.config.jwt_secret);
        let body = json!({"jwt": signed, "exp": claims["exp"]});
        respond("JwtResponse", body, request.tracing_id.as_deref())
    }

    /// Ends the conversation; the SDKs then expect `SessionResponse` with `connected: false`.
    fn close_session(&mut self, request: &Request) -> Vec<Output> {
        if let Some(token) = self.token.take() {
            self.registry.forget(&token);
        }
        let body = json!({"connected": false, "newSession": false});
        respond("SessionResponse", body, request.tracing_id.as_deref())
    }

    fn get_configuration(&self, request: &Request) -> Vec<Output> {
        let tracing = request.tracing_id.as_deref();
        let Some(deployment_id) = request.str_field("deploymentId") else {
            return error(4020, "missing parameter: deploymentId", tracing);
        };
        let body = json!({
            "id": deployment_id,
            "version": "1",
            "languages": ["en-us"],
            "defaultLanguage": "en-us",
            "status": "Active",
            "messenger": {
                "enabled": true,
                "apps": {"conversations": {
                    "enabled": true,
                    "showUserTypingIndicator": true,
                    "conversationDisconnect": {"enabled": true, "type": "ReadOnly"}
                }}
            }
        });
        respond("GetConfigurationResponse", body, tracing)
    }
}

/// A `response` frame answering a request.
pub(super) fn respond(class: &str, body: Value, tracing_id: Option<&str>) -> Vec<Output> {
    vec![Output::Send(protocol::frame(Kind::Response, class, 200, body, tracing_id))]
}

/// An error frame (class `string`).
pub(super) fn error(code: u32, text: &str, tracing_id: Option<&str>) -> Vec<Output> {
    vec![Output::Send(protocol::error(code, text, tracing_id))]
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
