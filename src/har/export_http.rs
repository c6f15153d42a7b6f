//! The upgrade of a connection as a HAR entry's `request` and `response`, as Chrome writes them for a WebSocket.

use crate::event::{header, Headers, Open};
use serde::Serialize;
use std::borrow::Cow;

#[derive(Serialize)]
struct NameValue<'a> {
    name: Cow<'a, str>,
    value: Cow<'a, str>,
}

fn name_values(headers: &Headers) -> Vec<NameValue<'_>> {
    headers.iter().map(|(name, value)| NameValue { name: name.into(), value: value.into() }).collect()
}

/// The URL a HAR viewer shows: the upstream frametap dialled when it is a ws(s) URL, else the client's Host and path.
fn request_url(open: &Open) -> String {
    match &open.upstream {
        Some(up) if up.starts_with("ws://") || up.starts_with("wss://") => up.clone(),
        _ => {
            let host = header(&open.request.headers, "host").unwrap_or("localhost");
            format!("ws://{host}{}", open.request.path)
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RequestJson<'a> {
    method: &'a str,
    url: String,
    http_version: &'static str,
    cookies: Vec<NameValue<'a>>,
    headers: Vec<NameValue<'a>>,
    query_string: Vec<NameValue<'a>>,
    headers_size: i8,
    body_size: i8,
}

pub(super) fn request_json(open: Option<&Open>) -> RequestJson<'_> {
    let Some(open) = open else {
        return RequestJson {
            method: "GET",
            url: "ws://unknown/".into(),
            http_version: "HTTP/1.1",
            cookies: Vec::new(),
            headers: Vec::new(),
            query_string: Vec::new(),
            headers_size: -1,
            body_size: 0,
        };
    };
    let query = open.request.path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query_string = (query.split('&'))
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            NameValue { name: percent_decode(name).into(), value: percent_decode(value).into() }
        })
        .collect();
    let cookies = (open.request.headers.iter())
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .map(|(n, v)| NameValue { name: n.into(), value: v.into() })
        .collect();
    RequestJson {
        method: &open.request.method,
        url: request_url(open),
        http_version: "HTTP/1.1",
        cookies,
        headers: name_values(&open.request.headers),
        query_string,
        headers_size: -1,
        body_size: 0,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResponseJson<'a> {
    status: u16,
    status_text: &'static str,
    http_version: &'static str,
    cookies: Vec<NameValue<'a>>,
    headers: Vec<NameValue<'a>>,
    content: ContentJson<'a>,
    #[serde(rename = "redirectURL")]
    redirect_url: &'a str,
    headers_size: i8,
    body_size: i8,
    /// Always there (`null` when none) for an upgrade with no answer; only when there is one otherwise.
    #[serde(rename = "_error", skip_serializing_if = "Option::is_none")]
    error: Option<Option<&'a str>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContentJson<'a> {
    size: usize,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
}

/// The upgrade's answer as received: the relayed one, or a 101 that opened no WebSocket (kept next to the `error`
/// saying why), shown as Chrome shows a failed request that got an answer: its status and headers, with `_error`.
/// An upgrade that got no answer at all is Chrome's failed request: status 0 and `_error`.
pub(super) fn response_json(open: Option<&Open>) -> ResponseJson<'_> {
    let error = open.and_then(|o| o.error.as_deref());
    let Some(response) = open.and_then(|o| o.response.as_ref()) else {
        return ResponseJson {
            status: 0,
            status_text: "",
            http_version: "",
            cookies: Vec::new(),
            headers: Vec::new(),
            content: ContentJson { size: 0, mime_type: "x-unknown", text: None, encoding: None },
            redirect_url: "",
            headers_size: -1,
            body_size: -1,
            error: Some(error),
        };
    };
    let status_text = http::StatusCode::from_u16(response.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let mime_type = header(&response.headers, "content-type").unwrap_or("x-unknown");
    let content = match (&response.body, &response.body_base64) {
        (Some(body), _) => ContentJson { size: body.len(), mime_type, text: Some(body), encoding: None },
        (None, Some(b64)) => ContentJson { size: 0, mime_type, text: Some(b64), encoding: Some("base64") },
        (None, None) => ContentJson { size: 0, mime_type, text: None, encoding: None },
    };
    ResponseJson {
        status: response.status,
        status_text,
        http_version: "HTTP/1.1",
        cookies: Vec::new(),
        headers: name_values(&response.headers),
        content,
        redirect_url: header(&response.headers, "location").unwrap_or(""),
        headers_size: -1,
        body_size: 0,
        error: error.map(Some),
    }
}

/// Decodes `%XX` escapes and `+` (as HAR viewers show query values); bad escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
