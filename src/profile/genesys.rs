//! The Genesys Cloud Web Messaging Guest API profile: annotates each frame, pairs requests and responses by
//! `tracingId`, lints client requests, and turns the server's lifecycle events into close signals.

use super::genesys_codes::{genesys_code_meaning, is_genesys_cloud_host, ACTIONS, CLASSES, CONFIGURE_ACTIONS};
use super::genesys_lint::{downgrade_finding, lint_request, lint_upstream, Request, Session};
use super::genesys_signals::{signal_for, REAUTHENTICATE};
use super::{host_and_path, query_param, Finding, Profile, Reading, Severity};
use crate::event::{Frame, Opcode, Open, Peer, Ts};
use crate::inspect::close::{Cause, Confidence};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A server frame read as a Guest API envelope, with an `Unknown` fallback.
#[derive(Debug)]
pub enum ServerMessage {
    /// `{"type": "response"|"message", "class": …, "code": …, "body": …, "tracingId"?: …}`.
    Envelope { kind: String, class: String, code: Option<i64>, body: Value, tracing_id: Option<String> },
    /// Anything else (not JSON, no class).
    Unknown,
}

impl ServerMessage {
    pub fn parse(text: &str) -> ServerMessage {
        if !text.trim_start().starts_with('{') {
            return ServerMessage::Unknown;
        }
        let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(text) else {
            return ServerMessage::Unknown;
        };
        let (Some(kind), Some(class)) = (string(&fields, "type"), string(&fields, "class")) else {
            return ServerMessage::Unknown;
        };
        ServerMessage::Envelope {
            kind,
            class,
            code: fields.get("code").and_then(Value::as_i64),
            body: fields.remove("body").unwrap_or(Value::Null),
            tracing_id: tracing_id(&fields),
        }
    }
}

fn string(fields: &Map<String, Value>, key: &str) -> Option<String> {
    fields.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn tracing_id(fields: &Map<String, Value>) -> Option<String> {
    match fields.get("tracingId")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Where the token tracker says it found `configureAuthenticatedSession`'s `data.code`.
const AUTH_CODE_SOURCE: &str = "frame:data.code";

/// Requests awaiting a response that are remembered for pairing (past this the map starts over), and authenticated
/// session tokens remembered for the downgrade lint (past this no new one is).
const MAX_PENDING: usize = 4096;

/// A request waiting for its response.
struct Pending {
    seq: u64,
    ts: Ts,
    action: String,
}

/// Per-connection Guest API state.
#[derive(Default)]
pub struct Genesys {
    /// The connection's session as the frames show it: none yet, configured, or ended while open.
    session: Session,
    /// Requests by tracingId, until their response arrives.
    pending: HashMap<String, Pending>,
    /// `echo` requests sent without a tracingId, oldest first, with their `message.text`, until answered: the
    /// answer to an echo is a `response`/`StructuredMessage` with that text (reference, "Server → client frames").
    untraced_echoes: std::collections::VecDeque<(Pending, String)>,
    /// The upstream lint finding, kept for the close analysis.
    upstream_finding: Option<Finding>,
    /// The upgrade failed without an answer to relay (DNS, refused, timeout, or an answer that opens no WebSocket):
    /// the `open` record has an error.
    unreachable: bool,
    /// `durationSeconds` from the last SessionResponse: the inactivity before the session expires.
    duration_seconds: Option<i64>,
    /// The `deploymentId` in the URL the client asked for, which its configure request must repeat.
    url_deployment: Option<String>,
    /// Every session token this connection configured with `configureAuthenticatedSession`, with the frame that
    /// did: a plain `configureSession` for any of them is a downgrade the server refuses (4017). A token stays
    /// until its session ends (`connected: false`) or the server refuses the configure that brought it, when no
    /// earlier one of it had been accepted.
    signed_in: HashMap<String, u64>,
    /// The last `configureAuthenticatedSession` until its answer: its frame, its token, and the frame that had
    /// signed that token in before (kept if the server refuses this one: a refused configure changes nothing).
    signing_in: Option<(u64, String, Option<u64>)>,
    /// The last configure request, until a response answers it. An error response that names no tracingId
    /// answers it: the SDKs send nothing else while a configure awaits its answer (as `follow_session` reads it).
    unanswered_configure: Option<Pending>,
}

/// True when the handshake points to the Guest API: a `webmessaging.`/Genesys Cloud host, a `deploymentId`
/// query parameter, or the built-in simulator.
pub fn handshake_looks_like_genesys(open: &Open, upstream: Option<&str>) -> bool {
    if query_param(&open.request.path, "deploymentId").is_some() {
        return true;
    }
    let Some(upstream) = upstream else {
        return false;
    };
    if upstream.starts_with("sim:genesys") || query_param(upstream, "deploymentId").is_some() {
        return true;
    }
    let (host, _) = host_and_path(upstream);
    host.starts_with("webmessaging.") || is_genesys_cloud_host(&host)
}

/// True when a frame is a Guest API request (a known `action`) or response (a known `class`).
/// A substring test runs first, so frames of other protocols are not parsed.
pub fn frame_looks_like_genesys(frame: &Frame) -> bool {
    let Some(text) = frame.text() else {
        return false;
    };
    if !text.trim_start().starts_with('{') {
        return false;
    }
    let (has_action, has_class) = (text.contains("\"action\""), text.contains("\"class\""));
    if !has_action && !has_class {
        return false;
    }
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let action_known = fields.get("action").and_then(Value::as_str).is_some_and(|a| ACTIONS.contains(&a));
    let class_known = fields.get("class").and_then(Value::as_str).is_some_and(|c| CLASSES.contains(&c))
        && matches!(fields.get("type").and_then(Value::as_str), Some("response" | "message"));
    action_known || class_known
}

impl Profile for Genesys {
    fn name(&self) -> &'static str {
        "genesys"
    }

    fn open(&mut self, open: &Open, upstream: Option<&str>) -> Vec<Finding> {
        self.url_deployment = query_param(&open.request.path, "deploymentId").map(str::to_owned);
        self.upstream_finding = upstream.and_then(lint_upstream);
        self.unreachable = open.error.is_some();
        self.upstream_finding.iter().cloned().collect()
    }

    fn frame(&mut self, frame: &Frame) -> Option<Reading> {
        // The analysis hands over whole messages (fragmented ones put back together); nothing else is read.
        if !frame.fin || !matches!(frame.opcode, Opcode::Text | Opcode::Binary) {
            return None;
        }
        match frame.from {
            Peer::Client => Some(self.client_frame(frame)),
            Peer::Server => frame.text().map(|text| self.server_frame(frame, text)),
            Peer::Proxy => None,
        }
    }

    fn close_causes(&self) -> Vec<Cause> {
        let Some(finding) = &self.upstream_finding else {
            return Vec::new();
        };
        if finding.severity != Severity::Error {
            return Vec::new();
        }
        // An upgrade that failed without an answer explains the failure by itself (`upgrade-refused`); that the
        // upstream is not the Guest API either matters once it answers. Not "could not be reached": the error may
        // come after the upstream answered (a 101 that opens no WebSocket).
        let (confidence, message) = if self.unreachable {
            (Confidence::Possible, "the connection to the upstream failed, and it is not the Guest API either: once it opens, Guest API requests would likely fail there whatever the token")
        } else {
            (Confidence::Likely, "the connection went to an endpoint that is not the Guest API, so Guest API requests likely fail there whatever the token")
        };
        vec![Cause {
            rule: "genesys-upstream-not-webmessaging".into(),
            confidence,
            message: message.into(),
            evidence: vec![finding.message.clone()],
            seq: None,
        }]
    }

    fn protocol(&self) -> &'static str {
        "Genesys Guest API"
    }

    fn refused_hint(&self, status: u16) -> Option<&'static str> {
        (status == 403).then_some(
            " (for Genesys: check the deploymentId, the deployment's allowed domains against the Origin header, and its feature toggles)",
        )
    }

    fn idle_note(&self) -> Option<String> {
        let limit = match self.duration_seconds {
            Some(secs) => format!(
                "this session's SessionResponse said it expires after {secs} s without activity (`durationSeconds`)"
            ),
            None => "Guest API sessions expire after `durationSeconds` without activity".to_string(),
        };
        Some(format!("{limit}, and an `echo` at most every 30 s keeps them alive"))
    }

    fn app_close_code(&self, code: u16) -> Option<(Confidence, String)> {
        if !(4000..=4999).contains(&code) {
            return None;
        }
        let meaning = genesys_code_meaning(code.into());
        Some(if meaning.starts_with("not a documented") {
            (Confidence::Possible, format!("private code {code}, which the Guest API does not document"))
        } else {
            (
                Confidence::Likely,
                format!("{code}: likely the Guest API's \"{meaning}\" (Genesys documents {code} inside frames; as a close code it is unconfirmed)"),
            )
        })
    }

    fn stale_token_hint(&self, source: &str) -> Option<String> {
        (source == AUTH_CODE_SOURCE).then(|| format!("configureAuthenticatedSession's data.code must be a JWT still valid when it is sent (the Genesys SDKs treat a JWT as valid only while exp > now + 5 s), and the server answers a stale one with 401 (re-authenticate): {REAUTHENTICATE}"))
    }

    fn rate_limit_close_code(&self, code: u16) -> Option<String> {
        (code == 4029).then(|| "close code 4029 is the Guest API's \"request rate too high\" code: likely a rate limit (Genesys documents 4029 inside frames; as a close code it is unconfirmed)".to_string())
    }
}

impl Genesys {
    fn client_frame(&mut self, frame: &Frame) -> Reading {
        let request = match frame.text() {
            None if frame.opcode == Opcode::Text => Request::NotJson { why: "its text is not valid UTF-8".into() },
            text => Request::parse(text),
        };
        let mut findings = lint_request(&request, frame.seq, &self.session, self.url_deployment.as_deref());
        let mut details = Map::new();
        let text = match &request {
            Request::Action { action, fields } => {
                details.insert("action".into(), json!(action));
                if let Some(id) = tracing_id(fields) {
                    details.insert("tracing_id".into(), json!(id));
                    // Unanswered requests must not pile up without bound on a long session.
                    if self.pending.len() >= MAX_PENDING {
                        self.pending.clear();
                    }
                    self.pending.insert(id, Pending { seq: frame.seq, ts: frame.ts, action: action.clone() });
                } else if action == "echo" {
                    if self.untraced_echoes.len() >= MAX_PENDING {
                        self.untraced_echoes.pop_front();
                    }
                    let text = fields.get("message").and_then(|m| m.get("text")).and_then(Value::as_str);
                    let pending = Pending { seq: frame.seq, ts: frame.ts, action: action.clone() };
                    self.untraced_echoes.push_back((pending, text.unwrap_or("ping").to_owned()));
                }
                if CONFIGURE_ACTIONS.contains(&action.as_str()) {
                    let token = fields.get("token").and_then(Value::as_str).map(str::to_owned);
                    match token.as_ref() {
                        Some(token) if action == "configureSession" => {
                            if let Some(signed_in) = self.signed_in.get(token) {
                                findings.push(downgrade_finding(frame.seq, *signed_in));
                            }
                        }
                        // Past MAX_PENDING tokens (a capture made to grow this), new ones are not remembered.
                        Some(token)
                            if action == "configureAuthenticatedSession"
                                && (self.signed_in.len() < MAX_PENDING || self.signed_in.contains_key(token)) =>
                        {
                            let before = self.signed_in.insert(token.clone(), frame.seq);
                            self.signing_in = Some((frame.seq, token.clone(), before));
                        }
                        _ => {}
                    }
                    self.session = Session::Configured { seq: frame.seq, token, answered: false };
                    self.unanswered_configure = Some(Pending { seq: frame.seq, ts: frame.ts, action: action.clone() });
                }
                action.clone()
            }
            Request::NoAction { .. } => "request without action".into(),
            Request::NotObject | Request::NotJson { .. } => "not a Guest API request".into(),
        };
        let mut text = text;
        if !findings.is_empty() {
            details.insert("findings".into(), serde_json::to_value(&findings).unwrap_or_default());
            let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
            text.push_str(&format!(" ⚠ {}", super::rule_words(&rules)));
        }
        let json = match request {
            Request::Action { fields, .. } | Request::NoAction { fields } => Some(fields),
            Request::NotObject | Request::NotJson { .. } => None,
        };
        Reading { text, details, findings, signal: None, json }
    }

    fn server_frame(&mut self, frame: &Frame, text: &str) -> Reading {
        let ServerMessage::Envelope { kind, class, code, body, tracing_id } = ServerMessage::parse(text) else {
            return Reading { text: "unknown server frame".into(), ..Reading::default() };
        };
        let mut details = Map::new();
        details.insert("type".into(), json!(kind));
        details.insert("class".into(), json!(class));
        let mut line = class.clone();
        if let Some(code) = code {
            details.insert("code".into(), json!(code));
            details.insert("code_meaning".into(), json!(genesys_code_meaning(code)));
            line.push_str(&format!(" {code}"));
            if code != 200 {
                line.push_str(&format!(" ({})", genesys_code_meaning(code)));
            }
        }
        if !CLASSES.contains(&class.as_str()) {
            line.push_str(" (unknown class)");
        }
        let request = match &tracing_id {
            Some(id) => {
                details.insert("tracing_id".into(), json!(id));
                self.pending.remove(id)
            }
            None if kind == "response" && class == "StructuredMessage" => self.untraced_echo_answered_by(&body),
            None if kind == "response" && code.is_some_and(|c| c >= 400) => self.unanswered_configure.take(),
            None => None,
        };
        if class == "SessionResponse"
            || request.as_ref().map(|r| r.seq) == self.unanswered_configure.as_ref().map(|c| c.seq)
        {
            self.unanswered_configure = None;
        }
        let mut answered = None;
        if let Some(request) = request {
            let latency_ms = frame.ts.secs_since(request.ts) * 1000.0;
            details.insert("paired_seq".into(), json!(request.seq));
            details.insert("paired_action".into(), json!(request.action));
            details.insert("latency_ms".into(), json!((latency_ms * 10.0).round() / 10.0));
            line.push_str(&format!(" ← #{} {} in {latency_ms:.0} ms", request.seq, request.action));
            answered = Some((request.seq, request.action));
        }
        self.follow_session(frame.seq, &kind, &class, code, &body, answered.as_ref());
        if class == "SessionResponse" {
            if let Some(secs) = body.get("durationSeconds").and_then(Value::as_i64) {
                self.duration_seconds = Some(secs);
            }
        }
        if class == "StructuredMessage" {
            if let Some(summary) = structured_summary(&body) {
                line.push_str(&format!(" {summary}"));
            }
        }
        let signal = signal_for(&class, code, &body, answered.as_ref());
        Reading { text: line, details, findings: Vec::new(), signal, json: None }
    }

    /// The oldest `echo` sent without a tracingId that a `response`/`StructuredMessage` carrying no tracingId
    /// answers: the first whose `message.text` is the answer's `text` (an echo's answer repeats it, normally "ping").
    fn untraced_echo_answered_by(&mut self, body: &Value) -> Option<Pending> {
        let text = body.get("text").and_then(Value::as_str)?;
        let at = self.untraced_echoes.iter().position(|(_, sent)| sent == text)?;
        self.untraced_echoes.remove(at).map(|(request, _)| request)
    }

    /// Follows the session through a server response (frame `seq`): a SessionResponse confirms it (whatever
    /// frames frametap could read) or, with `connected: false`, says it ended (closeSession's answer); an
    /// error answering the configure request refuses it. Either way the socket may stay open.
    fn follow_session(
        &mut self,
        seq: u64,
        kind: &str,
        class: &str,
        code: Option<i64>,
        body: &Value,
        answered: Option<&(u64, String)>,
    ) {
        let answered_by = answered.map(|(seq, action)| format!("frame #{seq}'s {action}"));
        if class == "SessionResponse" {
            if body.get("connected").and_then(Value::as_bool) == Some(false) {
                let request = answered_by.map(|r| format!(" to {r}")).unwrap_or_default();
                // The session that ended is the one this connection had configured last; a token it had left
                // before keeps its session (and the server its authentication).
                if let Session::Configured { token: Some(token), .. } = &self.session {
                    self.signed_in.remove(token);
                }
                self.session = Session::Ended {
                    why: format!("the server's SessionResponse (frame #{seq}){request} said `connected: false`"),
                };
            } else if let Session::Configured { answered, .. } = &mut self.session {
                *answered = true;
            } else {
                self.session = Session::Configured { seq, token: None, answered: true };
            }
            return;
        }
        let Some(code) = code.filter(|&c| c >= 400 && kind == "response") else {
            return;
        };
        let Session::Configured { seq: configure, answered: false, .. } = self.session else {
            return;
        };
        // The error answers the configure when its tracingId says so, or when it pairs with no other request
        // while the configure still awaits its answer (the SDKs send nothing else meanwhile).
        let answers_configure = match answered {
            Some((request, action)) => *request == configure && CONFIGURE_ACTIONS.contains(&action.as_str()),
            None => true,
        };
        if answers_configure {
            self.configure_refused(configure);
            self.session = Session::Ended {
                why: format!(
                    "the server refused frame #{configure}'s configure request (frame #{seq}: {code} {})",
                    genesys_code_meaning(code)
                ),
            };
        }
    }

    /// The server refused configure frame `configure`: when it was a `configureAuthenticatedSession`, its token is
    /// signed in as it was before (by an earlier accepted one), or not at all.
    fn configure_refused(&mut self, configure: u64) {
        let Some((seq, token, before)) = self.signing_in.take() else {
            return;
        };
        if seq != configure {
            self.signing_in = Some((seq, token, before));
            return;
        }
        match before {
            Some(before) => self.signed_in.insert(token, before),
            None => self.signed_in.remove(&token),
        };
    }
}

/// `Outbound Text`, `Outbound Event Presence Disconnect`, `Outbound Event Typing On`: the direction and type
/// of a StructuredMessage, and of its first event.
fn structured_summary(body: &Value) -> Option<String> {
    let direction = body.get("direction").and_then(Value::as_str)?;
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("?");
    let mut s = format!("{direction} {kind}");
    if let Some(event) = event_summary(body) {
        s.push_str(&format!(" {event}"));
    }
    Some(s)
}

/// The first event's type and subtype: `Presence Join` (`presence.type`), `Typing On` (`typing.type`).
fn event_summary(body: &Value) -> Option<String> {
    let event = body.get("events")?.as_array()?.first()?;
    let event_type = event.get("eventType")?.as_str()?;
    let subtype = event
        .get(event_type.to_ascii_lowercase())
        .and_then(|detail| detail.get("type"))
        .and_then(Value::as_str)
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    Some(format!("{event_type}{subtype}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_have_an_unknown_fallback() {
        assert!(matches!(ServerMessage::parse("nope"), ServerMessage::Unknown));
        assert!(matches!(ServerMessage::parse(r#"{"a":1}"#), ServerMessage::Unknown));
        let m = ServerMessage::parse(r#"{"type":"response","class":"string","code":4006,"body":"session expired"}"#);
        assert!(matches!(m, ServerMessage::Envelope { code: Some(4006), .. }));
    }
}
