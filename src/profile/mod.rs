//! Protocol profiles: what frametap knows about one application protocol (annotations, lint, close signals).
//!
//! The relay never sees a profile: the analyzer ([`crate::inspect::Analyzer`]) picks one per connection and
//! feeds it the connection's `open` and data frames. A second protocol is one more [`Profile`] implementation
//! plus one arm in [`detect`] / [`for_choice`].

pub mod generic;
pub mod genesys;
mod genesys_codes;
mod genesys_lint;
mod genesys_signals;

pub(crate) use genesys_lint::token_not_uuid_message;

use crate::event::{Frame, Open};
use crate::inspect::close::{Cause, Confidence};
use serde::{Deserialize, Serialize};

pub use genesys_codes::{genesys_code_meaning, CUSTOM_ATTRIBUTES_LIMIT};

/// `--profile`: which protocol to read the frames as.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileChoice {
    /// Genesys when the upstream, the URL or the frames look like the Guest API; generic otherwise.
    #[default]
    Auto,
    /// Genesys Cloud Web Messaging Guest API.
    Genesys,
    /// Plain WebSocket: no annotations, no lint.
    Generic,
}

/// How bad a lint finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warn,
    Error,
}

/// A protocol rule a frame (or the connection's handshake) breaks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// A stable, short identifier (`genesys-no-action`).
    pub rule: String,
    pub severity: Severity,
    /// The frame it is about; none for findings about the handshake or upstream.
    pub seq: Option<u64>,
    pub message: String,
}

/// Something a server frame says about the connection's end.
#[derive(Clone, Debug, PartialEq)]
pub enum Signal {
    /// The server said the session or connection is ending (`SessionExpiredEvent`, agent `Disconnect`, …).
    /// `session_over`: nothing is left for the client to do on this connection (the session expired, was not
    /// found, ended), so a client that closes right after is reacting to it; `false` for news the session
    /// outlives (the agent left: the conversation stays readable on the open connection).
    Announced { what: String, message: String, session_over: bool },
    /// The server said the client sends too fast.
    RateLimited { message: String },
    /// The server answered a request with an error code.
    ErrorResponse { code: i64, message: String },
}

/// A profile's reading of one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// One short line for the frame table (`configureSession`, `SessionResponse 200`).
    pub text: String,
    /// Extra fields for the `annotation` record (action, class, code, paired_seq, latency_ms, …).
    pub details: serde_json::Map<String, serde_json::Value>,
    pub findings: Vec<Finding>,
    pub signal: Option<Signal>,
    /// The message's JSON object as the profile parsed it, if it did: the token search reads it instead of
    /// parsing the same text again.
    pub json: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What frametap knows about one application protocol, for one connection.
pub trait Profile: Send {
    /// The name written in `annotation.profile` (`genesys`).
    fn name(&self) -> &'static str;
    /// Reads the handshake; `upstream` is where frametap dialled (`wss://…`, `sim:genesys/v1?…`).
    fn open(&mut self, open: &Open, upstream: Option<&str>) -> Vec<Finding>;
    /// Reads one data message (text/binary, either direction; a fragmented one put back together, dated and
    /// numbered as its last fragment). `None`: nothing to say about it.
    fn frame(&mut self, frame: &Frame) -> Option<Reading>;
    /// Causes only this protocol can name, asked once when the connection closes.
    fn close_causes(&self) -> Vec<Cause> {
        Vec::new()
    }
    /// The protocol's name in sentences (`Genesys Guest API`).
    fn protocol(&self) -> &'static str {
        self.name()
    }
    /// What to check when this protocol's server refuses the upgrade with `status`, as a parenthesis.
    fn refused_hint(&self, _status: u16) -> Option<&'static str> {
        None
    }
    /// What this protocol says about idle connections, appended to the `idle` cause (`; sessions expire …`).
    fn idle_note(&self) -> Option<String> {
        None
    }
    /// What an application close code (3000–4999) means in this protocol, and how sure that reading is.
    fn app_close_code(&self, _code: u16) -> Option<(Confidence, String)> {
        None
    }
    /// What to do about a JWT from `source` (`frame:data.code`, …) that had expired when it was sent: an evidence
    /// line for the `token-expired` cause.
    fn stale_token_hint(&self, _source: &str) -> Option<String> {
        None
    }
    /// When `code` is this protocol's rate-limit code used as a close code: the words for the `rate-limit` cause.
    fn rate_limit_close_code(&self, _code: u16) -> Option<String> {
        None
    }
}

/// The profile `--profile genesys|generic` names (`Auto` starts generic; see [`detect`]).
pub fn for_choice(choice: ProfileChoice) -> Box<dyn Profile> {
    match choice {
        ProfileChoice::Genesys => Box::new(genesys::Genesys::default()),
        ProfileChoice::Auto | ProfileChoice::Generic => Box::new(generic::Generic),
    }
}

/// For `--profile auto`: the profile the handshake points to, if any.
pub fn detect(open: &Open, upstream: Option<&str>) -> Option<Box<dyn Profile>> {
    if genesys::handshake_looks_like_genesys(open, upstream) {
        return Some(Box::new(genesys::Genesys::default()));
    }
    None
}

/// For `--profile auto` when the handshake said nothing: the profile a data frame points to, if any.
/// Cheap for frames of other protocols: a substring test before any JSON parse.
pub fn detect_from_frame(frame: &Frame) -> Option<Box<dyn Profile>> {
    if genesys::frame_looks_like_genesys(frame) {
        return Some(Box::new(genesys::Genesys::default()));
    }
    None
}

/// Lint rules in a few words, comma-separated (`no `action`, sent before any `configureSession``); a rule no
/// profile knows is shown by its name.
pub fn rule_words(rules: &[&str]) -> String {
    rules.iter().map(|rule| genesys_lint::rule_words(rule).unwrap_or(rule)).collect::<Vec<_>>().join(", ")
}

/// A URL's host and path: `wss://h:443/p?q` → (`h`, `/p`). Accepts `sim:name/p` too (host `sim:name`).
pub fn host_and_path(url: &str) -> (String, String) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = if host.starts_with("sim:") { host } else { host.split(':').next().unwrap_or(host) };
    (host.to_ascii_lowercase(), path.to_string())
}

/// The value of a query parameter in a path or URL (`/v1?deploymentId=x` → `x`), undecoded.
pub fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_path_handles_urls_and_the_simulator() {
        assert_eq!(
            host_and_path("wss://webmessaging.mypurecloud.com:443/v1?deploymentId=x"),
            ("webmessaging.mypurecloud.com".into(), "/v1".into())
        );
        assert_eq!(host_and_path("sim:genesys/v1?x=1"), ("sim:genesys".into(), "/v1".into()));
        assert_eq!(host_and_path("ws://127.0.0.1:9"), ("127.0.0.1".into(), "".into()));
    }

    #[test]
    fn query_param_finds_values() {
        assert_eq!(query_param("/v1?a=1&deploymentId=abc", "deploymentId"), Some("abc"));
        assert_eq!(query_param("/v1?a=1", "deploymentId"), None);
        assert_eq!(query_param("/v1", "a"), None);
    }
}
