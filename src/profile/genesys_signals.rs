//! What a Guest API server frame says about the connection's end: announcements (SessionExpiredEvent,
//! ConnectionClosedEvent, Presence Disconnect, …), rate limits and error answers, as close signals.

use super::genesys_codes::genesys_code_meaning;
use super::Signal;
use serde_json::Value;

/// How a client gets a current `data.code` (reference, "Lifecycle facts": the REST token endpoints).
pub(super) const REAUTHENTICATE: &str = "exchange a fresh OAuth code for a JWT (POST /api/v2/webdeployments/token/oauthcodegrantjwtexchange), or refresh the JWT (POST /api/v2/webdeployments/token/refresh), before configuring";

/// What a server frame says about the connection's end, if anything.
pub(super) fn signal_for(
    class: &str,
    code: Option<i64>,
    body: &Value,
    answered: Option<&(u64, String)>,
) -> Option<Signal> {
    let ended =
        |what: &str, message: String| Some(Signal::Announced { what: what.into(), message, session_over: true });
    let error_code = body.get("errorCode").and_then(Value::as_i64);
    if class == "TooManyRequestsErrorMessage" || matches!(code, Some(429 | 4029)) || error_code == Some(4029) {
        let retry =
            body.get("retryAfter").and_then(Value::as_i64).map(|s| format!(", retryAfter {s} s")).unwrap_or_default();
        let text = body.get("errorMessage").and_then(Value::as_str).map(|m| format!(": {m}")).unwrap_or_default();
        let code = code.map(|c| c.to_string()).unwrap_or_else(|| "4029".into());
        return Some(Signal::RateLimited { message: format!("{class} code {code}{retry}{text}") });
    }
    match class {
        "SessionExpiredEvent" => {
            return ended(class, "the server said the session expired (SessionExpiredEvent); sessions expire after `durationSeconds` without activity, and `echo` refreshes them".into())
        }
        "ConnectionClosedEvent" => {
            let reason = body.get("reason").and_then(Value::as_str);
            let message = match reason {
                Some("signedIn") => "the server closed this connection because the guest signed in (ConnectionClosedEvent, reason signedIn)".to_string(),
                Some(other) => format!("the server announced the close (ConnectionClosedEvent, reason {other:?})"),
                None => "the server announced the close (ConnectionClosedEvent) with no reason, which the Genesys SDKs read as too many connections for this session token: likely the same token is open in another tab or device".to_string(),
            };
            return ended(class, message);
        }
        "LogoutEvent" => return ended(class, "the server logged the guest out (LogoutEvent)".into()),
        "SessionClearedEvent" => return ended(class, "the conversation was cleared (SessionClearedEvent)".into()),
        _ => {}
    }
    if class == "StructuredMessage" && presence_type(body) == Some("Disconnect") {
        let read_only = body.pointer("/metadata/readOnly").and_then(Value::as_str) == Some("true");
        let tail = if read_only { ", and the session is now read-only" } else { "" };
        // The session outlives the agent: the conversation stays readable on the open connection.
        return Some(Signal::Announced {
            what: "Presence Disconnect".into(),
            message: format!("the agent ended the conversation (Presence Disconnect){tail}"),
            session_over: false,
        });
    }
    let code = code?;
    let text = match body {
        Value::String(s) if !s.is_empty() => format!(": {s:?}"),
        _ => String::new(),
    };
    match code {
        4006 => ended("code 4006", format!("the server said the session expired (code 4006{text})")),
        4007 => ended(
            "code 4007",
            format!("the server said the session was not found (code 4007{text}): the token names no session it knows"),
        ),
        400.. if code != 200 => {
            let request =
                answered.map(|(seq, action)| format!("frame #{seq} ({action})")).unwrap_or_else(|| "a request".into());
            let action = answered.map(|(_, action)| action.as_str());
            Some(Signal::ErrorResponse {
                code,
                message: format!(
                    "the server answered {request} with code {code} ({}){text}{}",
                    genesys_code_meaning(code),
                    refused_configure_words(code, action)
                ),
            })
        }
        _ => None,
    }
}

/// What a refused configure means for the client: a 401 to `configureAuthenticatedSession` refused its
/// `data.code`; a 4017 refused resuming an authenticated session's token with a plain `configureSession`.
fn refused_configure_words(code: i64, action: Option<&str>) -> String {
    match (code, action) {
        (401, Some("configureAuthenticatedSession")) => format!(
            "; the data.code JWT was refused (expired, or not the JWT the OAuth code exchange returns): {REAUTHENTICATE}"
        ),
        (4017, _) => "; the session token was configured with configureAuthenticatedSession before (on this connection or an earlier one), and a plain configureSession cannot resume it: resume it with configureAuthenticatedSession and a current data.code, or start over with a new token".to_owned(),
        _ => String::new(),
    }
}

fn presence_type(body: &Value) -> Option<&str> {
    body.get("events")?.as_array()?.iter().find_map(|event| {
        (event.get("eventType")?.as_str()? == "Presence").then(|| event.get("presence")?.get("type")?.as_str())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifecycle_events_become_signals() {
        let s = signal_for("ConnectionClosedEvent", Some(200), &json!({}), None);
        assert!(matches!(s, Some(Signal::Announced { message, .. }) if message.contains("another tab")));
        let body = json!({"direction":"Outbound","type":"Event","events":[{"eventType":"Presence","presence":{"type":"Disconnect"}}],"metadata":{"readOnly":"true"}});
        assert!(
            matches!(signal_for("StructuredMessage", Some(200), &body, None), Some(Signal::Announced { what, session_over: false, .. }) if what == "Presence Disconnect"),
            "the session outlives the agent leaving"
        );
        let expired = signal_for("SessionExpiredEvent", Some(200), &json!({}), None);
        assert!(matches!(expired, Some(Signal::Announced { session_over: true, .. })));
        let limit = json!({"retryAfter":3,"errorCode":4029,"errorMessage":"Message rate too high for this session"});
        assert!(
            matches!(signal_for("TooManyRequestsErrorMessage", Some(429), &limit, None), Some(Signal::RateLimited { message }) if message.contains("retryAfter 3"))
        );
        assert!(signal_for("SessionResponse", Some(200), &json!({"connected":true}), None).is_none());
    }

    #[test]
    fn refused_configures_say_what_to_do() {
        let refused = |code, action: &str| {
            let answered = (1, action.to_owned());
            match signal_for("string", Some(code), &json!("refused"), Some(&answered)) {
                Some(Signal::ErrorResponse { message, .. }) => message,
                other => panic!("{other:?}"),
            }
        };
        assert!(refused(401, "configureAuthenticatedSession").contains("data.code JWT was refused"));
        assert!(!refused(401, "getJwt").contains("data.code"), "only a configure's 401 is about its code");
        assert!(refused(4017, "configureSession").contains("a plain configureSession cannot resume it"));
    }
}
