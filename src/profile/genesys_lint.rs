//! Genesys lint: the rules a client request or the upstream URL breaks, read from the Guest API schema.
//!
//! What the server does with a broken request is not documented (unconfirmed), so every message that
//! predicts the server's reaction says "likely".

use super::genesys_codes::{
    is_genesys_cloud_host, is_webmessaging_host, ACTIONS, CONFIGURE_ACTIONS, CUSTOM_ATTRIBUTES_LIMIT,
};
use super::{host_and_path, Finding, Severity};
use crate::inspect::jwt::decode_unverified;
use serde_json::{Map, Value};

/// A client frame read as a Guest API request, with an `Unknown` fallback for anything else.
#[derive(Debug)]
pub enum Request {
    /// A JSON object with a string `action`.
    Action { action: String, fields: Map<String, Value> },
    /// A JSON object without a string `action`.
    NoAction { fields: Map<String, Value> },
    /// JSON, but not an object.
    NotObject,
    /// Not JSON at all (or a binary frame).
    NotJson { why: String },
}

impl Request {
    pub fn parse(text: Option<&str>) -> Request {
        let Some(text) = text else {
            return Request::NotJson { why: "it is a binary frame".into() };
        };
        // Only something that starts like a JSON object is parsed; anything else cannot be a request.
        if !text.trim_start().starts_with('{') {
            return match text.trim_start().chars().next() {
                Some('[' | '"' | '0'..='9' | '-' | 't' | 'f' | 'n') if serde_json::from_str::<Value>(text).is_ok() => {
                    Request::NotObject
                }
                _ => Request::NotJson { why: "it does not start like a JSON object".into() },
            };
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(fields)) => match fields.get("action").and_then(Value::as_str) {
                Some(action) => Request::Action { action: action.to_string(), fields },
                None => Request::NoAction { fields },
            },
            Ok(_) => Request::NotObject,
            Err(e) => Request::NotJson { why: format!("it does not parse as JSON ({e})") },
        }
    }

    pub fn action(&self) -> Option<&str> {
        match self {
            Request::Action { action, .. } => Some(action),
            _ => None,
        }
    }
}

/// A few words for a lint rule, for one-line lists (`no `action``).
pub fn rule_words(rule: &str) -> Option<&'static str> {
    Some(match rule {
        "genesys-no-action" => "no `action`",
        "genesys-no-token" => "no `token`",
        "genesys-before-configure" => "sent before any `configureSession`",
        "genesys-no-session" => "sent when the connection had no session",
        "genesys-token-mismatch" => "not this session's `token`",
        "genesys-token-not-uuid" => "`token` is not a UUID",
        "genesys-deployment-mismatch" => "`deploymentId` differs from the URL's",
        "genesys-not-json" => "not a JSON object",
        "genesys-unknown-action" => "unknown action",
        "genesys-no-deployment-id" => "no `deploymentId`",
        "genesys-no-auth-code" => "no `data.code`",
        "genesys-auth-code-not-jwt" => "`data.code` is not a JWT",
        "genesys-downgrade" => "downgrades an authenticated session",
        "genesys-unusable-message" => "no usable `message`",
        "genesys-custom-attributes-too-large" => "customAttributes over 2048 bytes",
        "genesys-upstream-not-webmessaging" => "upstream is not the Guest API",
        _ => return None,
    })
}

/// What the frames so far say about this connection's Guest API session, as far as the lint needs it.
#[derive(Clone, Debug, Default)]
pub enum Session {
    /// No configure request has been sent on this connection.
    #[default]
    NotConfigured,
    /// A configure request was sent (frame `seq`, with `token` when it had one), or the server answered
    /// one frametap could not read with a SessionResponse (frame `seq`); `answered`: a SessionResponse came.
    Configured { seq: u64, token: Option<String>, answered: bool },
    /// A session was configured, then ended or refused while the socket stayed open: why, in words.
    Ended { why: String },
}

fn finding(rule: &str, severity: Severity, seq: u64, message: String) -> Finding {
    Finding { rule: rule.to_string(), severity, seq: Some(seq), message }
}

/// Lints one client request, sent when the connection's session was `session`, on a connection whose URL
/// named `url_deployment`.
pub fn lint_request(request: &Request, seq: u64, session: &Session, url_deployment: Option<&str>) -> Vec<Finding> {
    let mut out = Vec::new();
    let fields = match request {
        Request::NotJson { why } => {
            out.push(finding(
                "genesys-not-json",
                Severity::Error,
                seq,
                format!("frame #{seq} is not a Guest API request: {why}; every request is a JSON text frame, and the server likely rejects anything else or closes"),
            ));
            None
        }
        Request::NotObject => {
            out.push(finding(
                "genesys-not-json",
                Severity::Error,
                seq,
                format!(
                    "frame #{seq} is JSON but not an object; every Guest API request is an object with an `action`"
                ),
            ));
            None
        }
        Request::NoAction { fields } => {
            let foreign: Vec<&str> = fields
                .keys()
                .map(String::as_str)
                .filter(|k| !matches!(*k, "token" | "tracingId" | "deploymentId" | "message"))
                .collect();
            let mut message = format!(
                "frame #{seq} has no `action`: every Guest API request names one (configureSession first, then onMessage, echo, …)"
            );
            if !foreign.is_empty() {
                message.push_str(&format!(
                    "; its fields ({}) are not Guest API request fields — a chat message is {{\"action\":\"onMessage\",\"token\":…,\"message\":{{\"type\":\"Text\",\"text\":…}}}}",
                    foreign.join(", ")
                ));
            }
            out.push(finding("genesys-no-action", Severity::Error, seq, message));
            Some(fields)
        }
        Request::Action { action, fields } => {
            if !ACTIONS.contains(&action.as_str()) {
                out.push(finding(
                    "genesys-unknown-action",
                    Severity::Error,
                    seq,
                    format!("frame #{seq} has action {action:?}, which is not a Guest API action (known: {}); the server likely rejects it", ACTIONS.join(", ")),
                ));
            }
            Some(fields)
        }
    };
    let action = request.action();
    if let Some(fields) = fields {
        if !fields.get("token").is_some_and(Value::is_string) {
            out.push(finding(
                "genesys-no-token",
                Severity::Error,
                seq,
                format!("frame #{seq} has no `token`: every request carries the session token (a UUID the client generates, not an OAuth token)"),
            ));
        }
        let needs_deployment = action.is_some_and(|a| CONFIGURE_ACTIONS.contains(&a) || a == "getConfiguration");
        if needs_deployment && !fields.get("deploymentId").is_some_and(Value::is_string) {
            out.push(finding(
                "genesys-no-deployment-id",
                Severity::Error,
                seq,
                format!("frame #{seq} ({}) has no `deploymentId`", action.unwrap_or_default()),
            ));
        }
        if action == Some("configureAuthenticatedSession") {
            out.extend(auth_code_finding(fields, seq));
        }
        if action == Some("onMessage") {
            if let Some(problem) = unusable_message(fields.get("message")) {
                out.push(finding(
                    "genesys-unusable-message",
                    Severity::Error,
                    seq,
                    format!("frame #{seq} (onMessage) {problem}"),
                ));
            }
        }
        if let Some(size) = custom_attributes_size(fields) {
            if size > CUSTOM_ATTRIBUTES_LIMIT {
                out.push(finding(
                    "genesys-custom-attributes-too-large",
                    Severity::Error,
                    seq,
                    format!("frame #{seq} carries {size} bytes of customAttributes, over the {CUSTOM_ATTRIBUTES_LIMIT}-byte limit (the server answers code 4013)"),
                ));
            }
        }
    }
    let configures = action.is_some_and(|a| CONFIGURE_ACTIONS.contains(&a));
    if !configures {
        out.extend(session_finding(request, seq, session));
    } else if let Some(fields) = fields {
        out.extend(configure_findings(fields, seq, url_deployment));
    }
    out
}

/// The `genesys-token-not-uuid` finding's message; `shape` says what the token is instead (`empty`, `12
/// characters`) and never quotes it.
pub(crate) fn token_not_uuid_message(seq: u64, shape: &str) -> String {
    format!("frame #{seq}'s `token` is not a UUID ({shape}): the Guest API's session token is a UUID the client generates (crypto.randomUUID()) and keeps to resume the session; what the server does with another shape is unconfirmed")
}

/// What a configure request's values break that the schema cannot say: a token that is not a UUID, a
/// deploymentId other than the URL's. Warnings: the server's reaction to either is unconfirmed.
fn configure_findings(fields: &Map<String, Value>, seq: u64, url_deployment: Option<&str>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(token) = fields.get("token").and_then(Value::as_str).filter(|t| !crate::redact::is_uuid(t)) {
        let shape = match token.chars().count() {
            0 => "empty".to_owned(),
            n => crate::words::count(n as u64, "character"),
        };
        out.push(finding("genesys-token-not-uuid", Severity::Warn, seq, token_not_uuid_message(seq, &shape)));
    }
    let configured = fields.get("deploymentId").and_then(Value::as_str);
    if let (Some(configured), Some(url)) = (configured, url_deployment) {
        // UUIDs: the same deployment whatever the case of its hex digits.
        if !configured.eq_ignore_ascii_case(url) {
            out.push(finding(
                "genesys-deployment-mismatch",
                Severity::Warn,
                seq,
                format!("frame #{seq}'s `deploymentId` ({configured}) is not the one in the URL ({url}); both should name the same deployment; what the server does when they differ is unconfirmed"),
            ));
        }
    }
    out
}

/// What is wrong with `configureAuthenticatedSession`'s `data.code`, which must be the JWT the OAuth code exchange
/// returns: missing, or not a JWT. Its value is never quoted. A redaction placeholder is not judged (redaction
/// keeps a JWT readable, but the placeholder says nothing sure about what it replaced).
fn auth_code_finding(fields: &Map<String, Value>, seq: u64) -> Option<Finding> {
    let code = fields.get("data").and_then(|d| d.get("code")).and_then(Value::as_str).filter(|c| !c.is_empty());
    let Some(code) = code else {
        return Some(finding(
            "genesys-no-auth-code",
            Severity::Error,
            seq,
            format!("frame #{seq} (configureAuthenticatedSession) has no `data.code`: the authenticated variant carries data: {{code: <JWT from the OAuth code exchange>}}; the server likely answers 4020 (missing parameter)"),
        ));
    };
    if crate::redact::is_placeholder(code) {
        return None;
    }
    let why = decode_unverified(code).err()?;
    Some(finding(
        "genesys-auth-code-not-jwt",
        Severity::Error,
        seq,
        format!("frame #{seq}'s `data.code` is not a JWT ({why}): configureAuthenticatedSession carries the JWT the OAuth code exchange returns (POST /api/v2/webdeployments/token/oauthcodegrantjwtexchange), not the OIDC authorization code itself; the server likely refuses it (401, re-authenticate)"),
    ))
}

/// A plain `configureSession` (frame `seq`) for the token frame #`signed_in` configured with
/// `configureAuthenticatedSession` on this connection.
pub fn downgrade_finding(seq: u64, signed_in: u64) -> Finding {
    finding(
        "genesys-downgrade",
        Severity::Error,
        seq,
        format!("frame #{seq} resumes with a plain configureSession the session token frame #{signed_in} configured with configureAuthenticatedSession: an authenticated session cannot be downgraded, and the server likely answers 4017 (cannot downgrade to unauthenticated); resume it with configureAuthenticatedSession and a current data.code"),
    )
}

/// What is wrong with sending a request other than a configure in this session state, if anything.
fn session_finding(request: &Request, seq: u64, session: &Session) -> Option<Finding> {
    match session {
        Session::NotConfigured => Some(finding(
            "genesys-before-configure",
            Severity::Error,
            seq,
            format!("frame #{seq} was sent before any `configureSession`: configureSession (or configureAuthenticatedSession) must be the first frame, and the Genesys SDKs send nothing else until its SessionResponse arrives"),
        )),
        Session::Ended { why } => Some(finding(
            "genesys-no-session",
            Severity::Error,
            seq,
            format!("frame #{seq} was sent after {why}: the connection has no session until a new configureSession, and the server likely rejects the request or closes"),
        )),
        Session::Configured { seq: configured_by, token: Some(configured), .. } => {
            let (Request::Action { fields, .. } | Request::NoAction { fields }) = request else {
                return None;
            };
            fields.get("token").and_then(Value::as_str).filter(|t| t != configured)?;
            Some(finding(
                "genesys-token-mismatch",
                Severity::Error,
                seq,
                format!("frame #{seq}'s `token` is not the one frame #{configured_by} configured the session with: the server knows this connection's session by that token and likely answers 4007 (session not found)"),
            ))
        }
        Session::Configured { token: None, .. } => None,
    }
}

/// Why an onMessage `message` cannot be used, if it cannot.
fn unusable_message(message: Option<&Value>) -> Option<String> {
    let Some(Value::Object(message)) = message else {
        return Some("has no `message` object".into());
    };
    let kind = message.get("type").and_then(Value::as_str);
    match kind {
        None => Some("has a `message` without a `type` (Text, Structured, Event or Receipt)".into()),
        Some("Text") => {
            let has_text = message.get("text").and_then(Value::as_str).is_some_and(|t| !t.is_empty());
            let has_content = message.get("content").and_then(Value::as_array).is_some_and(|c| !c.is_empty());
            (!has_text && !has_content).then(|| "has a Text `message` with no `text` and no `content`".into())
        }
        Some("Event") => {
            let has_events = message.get("events").is_some_and(Value::is_array);
            (!has_events).then(|| "has an Event `message` with no `events`".into())
        }
        Some("Structured" | "Receipt") => None,
        Some(other) => {
            Some(format!("has a `message` of type {other:?}; the Guest API knows Text, Structured, Event and Receipt"))
        }
    }
}

/// The size in bytes of `message.channel.metadata.customAttributes`, serialised, when present.
fn custom_attributes_size(fields: &Map<String, Value>) -> Option<usize> {
    let attributes = fields.get("message")?.get("channel")?.get("metadata")?.get("customAttributes")?;
    serde_json::to_string(attributes).ok().map(|s| s.len())
}

/// Lints the upstream frametap dialled: the Guest API lives at `wss://webmessaging.<region domain>/v1`.
pub fn lint_upstream(upstream: &str) -> Option<Finding> {
    // The simulator, and a replay of a recording (whatever its upstream was), are not endpoints to judge.
    if upstream.starts_with("sim:") || upstream.starts_with("replay:") {
        return None;
    }
    let (host, path) = host_and_path(upstream);
    if is_webmessaging_host(&host) && path.trim_end_matches('/') == "/v1" {
        return None;
    }
    let loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
    let mut message = format!(
        "the upstream {upstream} is not a Guest API endpoint, which is wss://webmessaging.<region domain>/v1?deploymentId=…"
    );
    if is_genesys_cloud_host(&host) && !host.starts_with("webmessaging.") {
        message.push_str(&format!(
            "; {host}{path} is not the Web Messaging host (the Guest API is on webmessaging.<domain>, not api.<domain>)"
        ));
    }
    message.push_str(
        ". Guests use no OAuth token, and no `guest:write` scope exists in any Genesys SDK or schema, so advice about tokens or scopes does not apply here",
    );
    let severity = if loopback { Severity::Info } else { Severity::Error };
    if loopback {
        message.push_str(" (a local upstream: fine for a test server or a replay)");
    }
    Some(Finding { rule: "genesys-upstream-not-webmessaging".into(), severity, seq: None, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str, configured: bool) -> Vec<String> {
        let session = match configured {
            true => Session::Configured { seq: 1, token: Some("t".into()), answered: true },
            false => Session::NotConfigured,
        };
        lint_request(&Request::parse(Some(text)), 1, &session, None).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn the_seed_frame_breaks_action_token_and_order() {
        let r = rules(r#"{"type":"message","content":"Hello from custom UI","timestamp":1}"#, false);
        assert_eq!(r, ["genesys-no-action", "genesys-no-token", "genesys-before-configure"]);
    }

    #[test]
    fn a_good_session_is_clean() {
        let configure =
            r#"{"action":"configureSession","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","deploymentId":"d"}"#;
        assert!(rules(configure, false).is_empty());
        let message = r#"{"action":"onMessage","token":"t","message":{"type":"Text","text":"hi"}}"#;
        assert!(rules(message, true).is_empty());
        // What the simulator accepts, the lint does not call an error: blank text, an empty event list.
        let blank = r#"{"action":"onMessage","token":"t","message":{"type":"Text","text":"   "}}"#;
        assert!(rules(blank, true).is_empty());
        let no_events = r#"{"action":"onMessage","token":"t","message":{"type":"Event","events":[]}}"#;
        assert!(rules(no_events, true).is_empty());
    }

    #[test]
    fn a_configure_warns_of_a_token_that_is_not_a_uuid_and_a_deployment_other_than_the_urls() {
        let configure = Request::parse(Some(r#"{"action":"configureSession","token":"abc","deploymentId":"d2"}"#));
        let findings = lint_request(&configure, 1, &Session::NotConfigured, Some("d1"));
        let rules: Vec<(&str, Severity)> = findings.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
        assert_eq!(
            rules,
            [("genesys-token-not-uuid", Severity::Warn), ("genesys-deployment-mismatch", Severity::Warn)]
        );
        assert!(findings[0].message.contains("(3 characters)") && !findings[0].message.contains("abc"), "{findings:?}");
        let one = Request::parse(Some(r#"{"action":"configureSession","token":"x","deploymentId":"d1"}"#));
        assert!(lint_request(&one, 1, &Session::NotConfigured, None)[0].message.contains("(1 character)"));
        assert!(findings[1].message.contains("(d2) is not the one in the URL (d1); both should name"), "{findings:?}");
        // The same deployment, and a URL without one, say nothing.
        let good = Request::parse(Some(
            r#"{"action":"configureSession","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","deploymentId":"d1"}"#,
        ));
        assert!(lint_request(&good, 1, &Session::NotConfigured, Some("d1")).is_empty());
        assert!(lint_request(&good, 1, &Session::NotConfigured, None).is_empty());
        assert!(lint_request(&good, 1, &Session::NotConfigured, Some("D1")).is_empty(), "hex digits in either case");
    }

    #[test]
    fn each_request_rule_fires() {
        assert_eq!(rules("hello", true), ["genesys-not-json"]);
        assert_eq!(rules(r#"{"action":"sendMessage","token":"t"}"#, true), ["genesys-unknown-action"]);
        assert_eq!(
            rules(r#"{"action":"configureSession","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11"}"#, false),
            ["genesys-no-deployment-id"]
        );
        let authenticated = |data: &str| {
            format!(
                r#"{{"action":"configureAuthenticatedSession","token":"3f1c1a52-7a0e-4c0b-9d7e-2b1f9c1e0a11","deploymentId":"d"{data}}}"#
            )
        };
        assert_eq!(rules(&authenticated(""), false), ["genesys-no-auth-code"]);
        assert_eq!(rules(&authenticated(r#","data":{"code":""}"#), false), ["genesys-no-auth-code"]);
        let raw_oidc_code = rules(&authenticated(r#","data":{"code":"4/0AeaYSHB-oidc"}"#), false);
        assert_eq!(raw_oidc_code, ["genesys-auth-code-not-jwt"]);
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln";
        assert!(rules(&authenticated(&format!(r#","data":{{"code":"{jwt}"}}"#)), false).is_empty());
        let redacted = r#","data":{"code":"redacted-0123456789ab"}"#;
        assert!(rules(&authenticated(redacted), false).is_empty(), "a placeholder is not judged");
        assert_eq!(rules(r#"{"action":"onMessage","token":"t"}"#, true), ["genesys-unusable-message"]);
        assert_eq!(
            rules(r#"{"action":"onMessage","token":"t","message":{"type":"Text"}}"#, true),
            ["genesys-unusable-message"]
        );
        let big = format!(
            r#"{{"action":"onMessage","token":"t","message":{{"type":"Text","text":"x","channel":{{"metadata":{{"customAttributes":{{"a":"{}"}}}}}}}}}}"#,
            "x".repeat(2100)
        );
        assert_eq!(rules(&big, true), ["genesys-custom-attributes-too-large"]);
    }

    #[test]
    fn upstream_rule_names_the_rest_host_and_the_scope_myth() {
        let f = lint_upstream("wss://api.mypurecloud.com/api/v2/guest/sessions").unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert!(f.message.contains("guest:write"), "{}", f.message);
        assert!(f.message.contains("api.mypurecloud.com/api/v2/guest/sessions"), "{}", f.message);
        assert!(lint_upstream("wss://webmessaging.mypurecloud.com/v1?deploymentId=x").is_none());
        assert!(lint_upstream("sim:genesys/v1?deploymentId=x").is_none());
        assert!(lint_upstream("replay:session.jsonl#1").is_none());
        assert_eq!(lint_upstream("ws://127.0.0.1:9/v1").unwrap().severity, Severity::Info);
    }
}
