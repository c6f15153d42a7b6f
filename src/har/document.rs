//! The parts of a HAR that frametap reads, as typed fields borrowing their text from the file; every other field
//! (Chrome's `_initiator` stacks, cookies, timings beyond those read, …) is skipped unread.
//!
//! Each field is [`Json`], [`Obj`] or [`List`], so a HAR whose tool wrote a field with another type reads as
//! `serde_json::Value` would read it (the import then says what was odd); only a document that is not JSON, or an
//! object that names a field frametap reads twice, fails to parse.

use super::json::{Json, List, Obj, Present};
use anyhow::{anyhow, Result};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::path::Path;

/// A whole HAR.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Har<'a> {
    #[serde(borrow)]
    pub(super) log: Obj<Log<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Log<'a> {
    #[serde(borrow)]
    pub(super) creator: Obj<Creator<'a>>,
    #[serde(borrow)]
    pub(super) entries: List<Obj<Entry<'a>>>,
    /// frametap's `format`, `version` and the records of no connection.
    #[serde(borrow, rename = "_frametap")]
    pub(super) frametap: Obj<Extension<'a>>,
}

/// frametap's `_frametap` fields on the log and on each entry: the records kept whole, as their JSON text, read
/// one at a time when they are restored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Extension<'a> {
    #[serde(borrow)]
    pub(super) format: Json<'a>,
    #[serde(borrow)]
    pub(super) version: Json<'a>,
    #[serde(borrow)]
    pub(super) conn: Json<'a>,
    #[serde(borrow)]
    pub(super) records: List<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Creator<'a> {
    #[serde(borrow)]
    pub(super) name: Json<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Entry<'a> {
    #[serde(borrow, rename = "_resourceType")]
    pub(super) resource_type: Json<'a>,
    #[serde(borrow, rename = "startedDateTime")]
    pub(super) started: Json<'a>,
    /// The entry's duration in milliseconds.
    #[serde(borrow)]
    pub(super) time: Json<'a>,
    #[serde(borrow)]
    pub(super) request: Obj<Request<'a>>,
    #[serde(borrow)]
    pub(super) response: Obj<Response<'a>>,
    #[serde(borrow)]
    pub(super) timings: Json<'a>,
    #[serde(borrow, rename = "_webSocketMessages")]
    pub(super) messages: List<Obj<Message<'a>>>,
    /// HTTP Toolkit's close: `{code, reason, timestamp}`, or `"aborted"`.
    #[serde(borrow, rename = "_webSocketClose")]
    pub(super) close: Json<'a>,
    /// frametap's `conn` and the connection's records that are no message.
    #[serde(borrow, rename = "_frametap")]
    pub(super) frametap: Present<Obj<Extension<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Request<'a> {
    #[serde(borrow)]
    pub(super) method: Json<'a>,
    #[serde(borrow)]
    pub(super) url: Json<'a>,
    #[serde(borrow, rename = "httpVersion")]
    pub(super) http_version: Json<'a>,
    #[serde(borrow)]
    pub(super) headers: Json<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Response<'a> {
    #[serde(borrow)]
    pub(super) status: Json<'a>,
    #[serde(borrow, rename = "httpVersion")]
    pub(super) http_version: Json<'a>,
    #[serde(borrow)]
    pub(super) headers: Json<'a>,
    #[serde(borrow)]
    pub(super) content: Obj<Content<'a>>,
    /// Chrome's reason a request failed (`net::ERR_…`).
    #[serde(borrow, rename = "_error")]
    pub(super) error: Json<'a>,
    /// Playwright's reason a request or WebSocket failed.
    #[serde(borrow, rename = "_failureText")]
    pub(super) failure_text: Json<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Content<'a> {
    #[serde(borrow)]
    pub(super) size: Json<'a>,
    #[serde(borrow)]
    pub(super) text: Json<'a>,
    #[serde(borrow)]
    pub(super) encoding: Json<'a>,
    /// Playwright's attached file holding the body (or a WebSocket's messages) outside the HAR.
    #[serde(borrow, rename = "_file")]
    pub(super) file: Json<'a>,
}

/// One of Chrome's `_webSocketMessages`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Message<'a> {
    /// `send`, `receive` or `error`.
    #[serde(borrow, rename = "type")]
    pub(super) kind: Json<'a>,
    /// Epoch seconds (Playwright: epoch milliseconds; an old Chrome: monotonic seconds).
    #[serde(borrow)]
    pub(super) time: Json<'a>,
    #[serde(borrow)]
    pub(super) opcode: Json<'a>,
    #[serde(borrow)]
    pub(super) data: Json<'a>,
    /// A close message's code, as some tools save it.
    #[serde(borrow)]
    pub(super) code: Json<'a>,
    /// frametap's `frames` the message came in, as its JSON text, read when the message is restored.
    #[serde(borrow, rename = "_frametap")]
    pub(super) frametap: Option<&'a RawValue>,
}

impl<'a> Har<'a> {
    /// Parses a HAR's JSON text, borrowing from it; `path` names the file in the error.
    pub(super) fn parse(json: &'a [u8], path: &Path) -> Result<Har<'a>> {
        serde_json::from_slice::<Obj<Har>>(json).map(|har| har.0).map_err(|e| parse_error(path, json, &e))
    }
}

/// What is wrong with a HAR (`json`, the file's text) that does not parse, and where: a frametap capture given a HAR's
/// name, JSON cut off or broken, or (`Category::Data`) a field frametap reads named twice in one object.
pub(super) fn parse_error(path: &Path, json: &[u8], e: &serde_json::Error) -> anyhow::Error {
    let (line, column) = (e.line(), e.column());
    if json.trim_ascii_start().starts_with(br#"{"kind":"#) {
        return anyhow!(
            "{}: this is a frametap capture, not a HAR (its first line is a capture record): name it .jsonl and \
             frametap reads it as a capture",
            path.display()
        );
    }
    match e.classify() {
        serde_json::error::Category::Data => anyhow!(
            "{}: not a HAR frametap can read at line {line}, column {column} ({e}): save it again from the tool \
             that recorded it",
            path.display()
        ),
        _ => anyhow!(
            "{}: not valid JSON at line {line}, column {column} ({e}): the HAR is corrupt or was cut off; save it again",
            path.display()
        ),
    }
}
