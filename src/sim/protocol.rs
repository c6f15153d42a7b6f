//! Guest API message models: parsing client requests and building server frames in the documented envelope.

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// The `action` of a client request, as the Guest API schema names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    ConfigureSession,
    ConfigureAuthenticatedSession,
    OnMessage,
    Echo,
    GetJwt,
    OnAttachment,
    GetAttachment,
    DeleteAttachment,
    CloseSession,
    GetConfiguration,
    DisconnectCustomer,
    ResumeToken,
}

impl Action {
    fn from_name(name: &str) -> Option<Action> {
        Some(match name {
            "configureSession" => Action::ConfigureSession,
            "configureAuthenticatedSession" => Action::ConfigureAuthenticatedSession,
            "onMessage" => Action::OnMessage,
            "echo" => Action::Echo,
            "getJwt" => Action::GetJwt,
            "onAttachment" => Action::OnAttachment,
            "getAttachment" => Action::GetAttachment,
            "deleteAttachment" => Action::DeleteAttachment,
            "closeSession" => Action::CloseSession,
            "getConfiguration" => Action::GetConfiguration,
            "disconnectCustomer" => Action::DisconnectCustomer,
            "resumeToken" => Action::ResumeToken,
            _ => return None,
        })
    }

    pub fn is_configure(self) -> bool {
        matches!(self, Action::ConfigureSession | Action::ConfigureAuthenticatedSession)
    }
}

/// One parsed client request. Fields other than `action`, `token` and `tracingId` stay in `raw`.
#[derive(Clone, Debug)]
pub struct Request {
    pub action: Action,
    pub token: Option<String>,
    pub tracing_id: Option<String>,
    pub raw: Map<String, Value>,
}

/// Why a frame is not a request the simulator can accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("the frame is not JSON")]
    NotJson,
    #[error("the frame is not a JSON object")]
    NotObject,
    #[error("the request has no \"action\"")]
    NoAction,
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    #[error("binary frames are not Guest API requests")]
    Binary,
}

/// Parses a text frame. On failure also returns the `tracingId`, when one could be read.
pub fn parse_request(text: &str) -> Result<Request, (Invalid, Option<String>)> {
    let value: Value = serde_json::from_str(text).map_err(|_| (Invalid::NotJson, None))?;
    let Value::Object(raw) = value else {
        return Err((Invalid::NotObject, None));
    };
    let tracing_id = raw.get("tracingId").and_then(string_of);
    let name = match raw.get("action") {
        Some(Value::String(name)) if !name.is_empty() => name,
        _ => return Err((Invalid::NoAction, tracing_id)),
    };
    let Some(action) = Action::from_name(name) else {
        return Err((Invalid::UnknownAction(name.clone()), tracing_id));
    };
    let token = raw.get("token").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned);
    Ok(Request { action, token, tracing_id, raw })
}

fn string_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Request {
    /// A non-empty string field of the request.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.raw.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// The `message` object of onMessage/echo.
    pub fn message(&self) -> Option<&Map<String, Value>> {
        self.raw.get("message").and_then(Value::as_object)
    }
}

/// Whether a frame answers a request (`response`) or is pushed by the server (`message`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Response,
    Message,
}

/// The envelope every server frame uses: `{type, class, code, body, tracingId?}`.
pub fn frame(kind: Kind, class: &str, code: u32, body: Value, tracing_id: Option<&str>) -> String {
    let mut out = Map::new();
    let kind = match kind {
        Kind::Response => "response",
        Kind::Message => "message",
    };
    out.insert("type".into(), kind.into());
    out.insert("class".into(), class.into());
    out.insert("code".into(), code.into());
    out.insert("body".into(), body);
    if let Some(id) = tracing_id {
        out.insert("tracingId".into(), id.into());
    }
    Value::Object(out).to_string()
}

/// An error answer: class `string`, the code in `code`, plain text in `body`.
pub fn error(code: u32, text: &str, tracing_id: Option<&str>) -> String {
    frame(Kind::Response, "string", code, text.into(), tracing_id)
}

/// The rate-limit answer, shaped as in Genesys's own fixtures.
pub fn too_many_requests(retry_after_secs: u64, tracing_id: Option<&str>) -> String {
    let body = json!({
        "retryAfter": retry_after_secs,
        "errorCode": 4029,
        "errorMessage": "Message rate too high for this session",
    });
    frame(Kind::Response, "TooManyRequestsErrorMessage", 429, body, tracing_id)
}

/// Who sent a StructuredMessage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the guest, echoed back to it.
    Inbound,
    /// To the guest (the agent).
    Outbound,
}

/// The body of a StructuredMessage; absent fields are left out.
#[derive(Clone, Debug, Default)]
pub struct Structured {
    pub msg_type: &'static str,
    pub text: Option<String>,
    pub events: Option<Value>,
    pub content: Option<Value>,
    pub metadata: Option<Map<String, Value>>,
    pub originating_entity: Option<&'static str>,
}

impl Structured {
    pub fn text(text: impl Into<String>) -> Structured {
        Structured { msg_type: "Text", text: Some(text.into()), ..Structured::default() }
    }

    pub fn event(event: Value) -> Structured {
        Structured { msg_type: "Event", events: Some(Value::Array(vec![event])), ..Structured::default() }
    }

    pub fn body(self, direction: Direction) -> Value {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut body = Map::new();
        body.insert("id".into(), id.clone().into());
        body.insert("type".into(), self.msg_type.into());
        if let Some(text) = self.text {
            body.insert("text".into(), text.into());
        }
        let direction = match direction {
            Direction::Inbound => "Inbound",
            Direction::Outbound => "Outbound",
        };
        body.insert("direction".into(), direction.into());
        let time = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        body.insert("channel".into(), json!({"time": time, "messageId": id}));
        for (name, value) in [("events", self.events), ("content", self.content)] {
            if let Some(value) = value {
                body.insert(name.into(), value);
            }
        }
        if let Some(metadata) = self.metadata {
            body.insert("metadata".into(), Value::Object(metadata));
        }
        if let Some(entity) = self.originating_entity {
            body.insert("originatingEntity".into(), entity.into());
        }
        Value::Object(body)
    }
}

/// `{"eventType":"Presence","presence":{"type":…}}`
pub fn presence_event(kind: &str) -> Value {
    json!({"eventType": "Presence", "presence": {"type": kind}})
}

/// `{"eventType":"Typing","typing":{"type":"On","duration":…}}`
pub fn typing_on_event() -> Value {
    json!({"eventType": "Typing", "typing": {"type": "On", "duration": 5000}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests_and_classifies_bad_ones() {
        let r =
            parse_request(r#"{"action":"echo","token":"t","tracingId":"x1","message":{"type":"Text","text":"ping"}}"#)
                .unwrap();
        assert_eq!(r.action, Action::Echo);
        assert_eq!(r.token.as_deref(), Some("t"));
        assert_eq!(r.tracing_id.as_deref(), Some("x1"));
        assert_eq!(r.message().unwrap()["text"], "ping");
        assert_eq!(parse_request("hello").unwrap_err().0, Invalid::NotJson);
        assert_eq!(parse_request("[1]").unwrap_err().0, Invalid::NotObject);
        let (why, tracing) = parse_request(r#"{"token":"t","tracingId":"x2"}"#).unwrap_err();
        assert_eq!((why, tracing.as_deref()), (Invalid::NoAction, Some("x2")));
        assert_eq!(parse_request(r#"{"action":"dance"}"#).unwrap_err().0, Invalid::UnknownAction("dance".into()));
    }

    #[test]
    fn envelope_has_the_documented_fields_in_order() {
        let text = error(4020, "missing token", Some("abc"));
        assert_eq!(
            text,
            r#"{"type":"response","class":"string","code":4020,"body":"missing token","tracingId":"abc"}"#
        );
        let v: Value = serde_json::from_str(&too_many_requests(1, None)).unwrap();
        assert_eq!(v["class"], "TooManyRequestsErrorMessage");
        assert_eq!(v["code"], 429);
        assert_eq!(v["body"]["errorCode"], 4029);
        assert_eq!(v["body"]["retryAfter"], 1);
        assert!(v.get("tracingId").is_none());
    }

    #[test]
    fn structured_body_carries_direction_and_events() {
        let body = Structured::event(presence_event("Disconnect")).body(Direction::Outbound);
        assert_eq!(body["type"], "Event");
        assert_eq!(body["direction"], "Outbound");
        assert_eq!(body["events"][0]["presence"]["type"], "Disconnect");
        assert!(body["channel"]["time"].as_str().unwrap().ends_with('Z'));
    }
}
