//! A HAR's plain HTTP entries as recorded answers, so `replay serve --forward` can answer a page's REST and config
//! calls to the hosts it intercepts as the recording did, in recorded order, without the network.

use super::document::{Entry, Har};
use super::import::{headers, is_websocket, split_url};
use crate::event::Headers;
use base64::Engine as _;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// What a request is matched on: method, scheme (`http`/`https`), host (lower case, without the scheme's default
/// port) and path with query. The body is not compared (a token refresh sends a new one each time).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    pub method: String,
    pub scheme: &'static str,
    pub host: String,
    pub path: String,
}

impl AnswerKey {
    /// The key of a request; `host` as in a `Host` header (a port only when not the scheme's default).
    pub fn new(method: &str, tls: bool, host: &str, path: &str) -> AnswerKey {
        let scheme = if tls { "https" } else { "http" };
        AnswerKey {
            method: method.to_ascii_uppercase(),
            scheme,
            host: normal_host(host, scheme),
            path: path.to_owned(),
        }
    }

    /// `METHOD scheme://host/path?query`, as the error pages show a request.
    pub fn describe(&self) -> String {
        format!("{} {}://{}{}", self.method, self.scheme, self.host, self.path)
    }

    /// [`Self::describe`] with the query shown as `?…`, for the log: a query may carry a token, and these lines do
    /// not pass through `--redact`.
    pub fn describe_for_log(&self) -> String {
        match self.path.split_once('?') {
            Some((path, _)) => format!("{} {}://{}{path}?…", self.method, self.scheme, self.host),
            None => self.describe(),
        }
    }
}

/// One recorded answer: what the HAR says the host answered, ready to send again.
#[derive(Clone, Debug)]
pub struct RecordedAnswer {
    /// The entry's number in the HAR (from 1), for the log.
    pub entry: usize,
    pub status: u16,
    /// The recorded headers without those that belonged to the recorded connection (hop by hop, the length) or
    /// that no longer hold (`Content-Encoding`: a HAR keeps the decoded body).
    pub headers: Headers,
    pub body: Bytes,
    /// True when the HAR had no body for an answer that had one (Chrome leaves large or unfetched bodies out).
    pub body_missing: bool,
}

/// Every plain HTTP answer of a HAR, by request; each served in recorded order, the last one again once all were
/// served.
#[derive(Debug, Default)]
pub struct RecordedAnswers {
    by_key: HashMap<AnswerKey, Vec<RecordedAnswer>>,
    /// How many of each key's answers were served.
    served: Mutex<HashMap<AnswerKey, usize>>,
}

impl RecordedAnswers {
    /// The plain HTTP entries of `har` that have an answer (a status); the WebSocket entries and the requests that
    /// failed without one are left out.
    pub fn from_har(har: &serde_json::Value) -> RecordedAnswers {
        let json = serde_json::to_vec(har).unwrap_or_default();
        Har::parse(&json, std::path::Path::new("the HAR")).map(|har| Self::of(&har)).unwrap_or_default()
    }

    /// [`Self::from_har`] of a parsed HAR.
    pub(super) fn of(har: &Har) -> RecordedAnswers {
        let mut by_key: HashMap<AnswerKey, Vec<RecordedAnswer>> = HashMap::new();
        for (index, entry) in har.log.entries.items().iter().enumerate() {
            if let Some((key, answer)) = (!is_websocket(entry)).then(|| recorded(index + 1, entry)).flatten() {
                by_key.entry(key).or_default().push(answer);
            }
        }
        RecordedAnswers { by_key, served: Mutex::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The next recorded answer to `key`: the first not yet served, else the last.
    pub fn take(&self, key: &AnswerKey) -> Option<RecordedAnswer> {
        self.next(key, true)
    }

    /// The answer [`Self::take`] would give next, without counting it as served.
    pub fn peek(&self, key: &AnswerKey) -> Option<RecordedAnswer> {
        self.next(key, false)
    }

    fn next(&self, key: &AnswerKey, serve: bool) -> Option<RecordedAnswer> {
        let answers = self.by_key.get(key)?;
        let mut served = self.served.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = served.entry(key.clone()).or_insert(0);
        let answer = answers[(*count).min(answers.len() - 1)].clone();
        *count += usize::from(serve);
        Some(answer)
    }

    /// How many answers are recorded per origin, as (scheme, host\[:port\], count), in origin order.
    pub fn origins(&self) -> Vec<(&'static str, String, usize)> {
        let mut origins: Vec<(&'static str, String, usize)> = Vec::new();
        for (key, answers) in &self.by_key {
            match origins.iter_mut().find(|(scheme, host, _)| *scheme == key.scheme && *host == key.host) {
                Some((_, _, count)) => *count += answers.len(),
                None => origins.push((key.scheme, key.host.clone(), answers.len())),
            }
        }
        origins.sort();
        origins
    }

    /// The recorded requests to the same host and path as `key` but another method or query: what the user may
    /// have meant, for the error page.
    pub fn near(&self, key: &AnswerKey) -> Vec<String> {
        let path = key.path.split('?').next().unwrap_or("");
        let mut near: Vec<String> = (self.by_key.keys())
            .filter(|k| k.scheme == key.scheme && k.host == key.host && k.path.split('?').next() == Some(path))
            .map(AnswerKey::describe)
            .collect();
        near.sort();
        near
    }

    /// How many answers are recorded for the host of `key`.
    pub fn count_for_host(&self, key: &AnswerKey) -> usize {
        (self.by_key.iter())
            .filter(|(k, _)| k.scheme == key.scheme && k.host == key.host)
            .map(|(_, answers)| answers.len())
            .sum()
    }
}

/// The key and answer of one plain HTTP entry, or `None` when it has no usable URL or no answer (status 0: the
/// request failed or was blocked in the browser).
fn recorded(entry_number: usize, entry: &Entry) -> Option<(AnswerKey, RecordedAnswer)> {
    let (scheme, authority, path) = split_url(entry.request.url.as_str()?)?;
    let method = entry.request.method.as_str().unwrap_or("GET");
    let tls = match scheme.as_str() {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let status = entry.response.status.as_u64().filter(|s| (100..=999).contains(s))? as u16;
    let content = &entry.response.content;
    let text = content.text.as_str();
    let body = match (text, content.encoding.as_str()) {
        (Some(text), Some("base64")) => {
            Bytes::from(base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap_or_default())
        }
        (Some(text), _) => Bytes::from(text.to_owned()),
        (None, _) => Bytes::new(),
    };
    let recorded_size = content.size.as_i64().unwrap_or(0);
    let answer = RecordedAnswer {
        entry: entry_number,
        status,
        headers: answer_headers(&headers(&entry.response.headers)),
        body_missing: text.is_none() && recorded_size > 0,
        body,
    };
    Some((AnswerKey::new(method, tls, &authority, &path), answer))
}

/// The recorded headers that still hold for the answer sent again: the end-to-end ones, without HTTP/2 pseudo
/// headers and without `Content-Encoding` (the HAR's body is decoded; the length is set anew for it).
fn answer_headers(recorded: &Headers) -> Headers {
    crate::proxy::headers::client_response_headers(recorded)
        .into_iter()
        .filter(|(name, _)| !name.starts_with(':') && !name.eq_ignore_ascii_case("content-encoding"))
        .collect()
}

/// `host[:port]` in lower case, without the scheme's default port.
fn normal_host(host: &str, scheme: &str) -> String {
    let host = host.to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    host.strip_suffix(default).map(str::to_owned).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn entry(method: &str, url: &str, status: u64, content: Value) -> Value {
        json!({
            "request": {"method": method, "url": url, "headers": []},
            "response": {"status": status, "headers": [
                {"name": "Content-Type", "value": "application/json"},
                {"name": "content-encoding", "value": "gzip"},
                {"name": "Content-Length", "value": "20"},
                {"name": "Connection", "value": "keep-alive"},
            ], "content": content},
        })
    }

    fn har(entries: Vec<Value>) -> Value {
        json!({"log": {"creator": {"name": "WebInspector"}, "entries": entries}})
    }

    #[test]
    fn answers_come_in_recorded_order_then_the_last_again() {
        let answers = RecordedAnswers::from_har(&har(vec![
            entry("GET", "https://API.example.com:443/v1/me?x=1", 200, json!({"size": 3, "text": "one"})),
            entry("GET", "https://api.example.com/v1/me?x=1", 401, json!({"size": 3, "text": "two"})),
            entry("GET", "wss://api.example.com/v1/socket", 101, json!({})),
        ]));
        let key = AnswerKey::new("get", true, "api.example.com", "/v1/me?x=1");
        let bodies: Vec<(u16, Bytes)> =
            (0..3).map(|_| answers.take(&key).map(|a| (a.status, a.body)).unwrap()).collect();
        assert_eq!(bodies, [(200, "one".into()), (401, "two".into()), (401, "two".into())]);
        assert_eq!(answers.origins(), [("https", "api.example.com".to_owned(), 2)], "the WebSocket entry is no answer");
        assert!(answers.take(&AnswerKey::new("GET", false, "api.example.com", "/v1/me?x=1")).is_none(), "http ≠ https");
        assert_eq!(
            answers.near(&AnswerKey::new("POST", true, "api.example.com", "/v1/me")),
            ["GET https://api.example.com/v1/me?x=1"]
        );
    }

    #[test]
    fn bodies_are_decoded_and_headers_fit_the_body_sent() {
        let answers = RecordedAnswers::from_har(&har(vec![
            entry(
                "GET",
                "https://cdn.example.com/logo.png",
                200,
                json!({"size": 3, "text": "AAEC", "encoding": "base64"}),
            ),
            entry("GET", "https://cdn.example.com/big.js", 200, json!({"size": 90000})),
            entry("GET", "https://cdn.example.com/blocked.js", 0, json!({})),
        ]));
        let logo = answers.take(&AnswerKey::new("GET", true, "cdn.example.com", "/logo.png")).unwrap();
        assert_eq!(logo.body.as_ref(), [0, 1, 2]);
        assert_eq!(logo.headers, [("Content-Type".to_owned(), "application/json".to_owned())]);
        let big = answers.take(&AnswerKey::new("GET", true, "cdn.example.com", "/big.js")).unwrap();
        assert!(big.body_missing && big.body.is_empty());
        assert!(answers.take(&AnswerKey::new("GET", true, "cdn.example.com", "/blocked.js")).is_none());
    }
}
