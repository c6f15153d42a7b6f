//! Where credentials travel: locates candidate values in a handshake or a text frame, cheaply.

use crate::event::{HttpRequest, Open};
use crate::inspect::jwt::is_jwt_candidate;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A value found where a credential may travel, before it is classified.
pub(crate) struct Candidate<'a> {
    pub source: String,
    pub value: Cow<'a, str>,
    /// Why it counts as a credential when it is not a JWT (the `note` of an opaque token).
    pub opaque_note: Option<String>,
    pub rest_only: bool,
}

const GENESYS_SESSION_NOTE: &str =
    "opaque credential: Genesys session token (a UUID the client generates; anyone holding it can resume the session)";

fn normalise(name: &str) -> String {
    name.chars().filter(|c| *c != '-' && *c != '_').flat_map(char::to_lowercase).collect()
}

/// True for a JSON field name that holds a secret (`token`, `jwt`, `code`, `refreshToken`, `resumeToken`,
/// `access_token`, `id_token`, `password`, `secret`, `apiKey`, …), case-insensitively. Names that only
/// describe a token (`tokenType`, `tokenExpiry`, `tokenUrl`) do not count.
pub fn is_secret_field(name: &str) -> bool {
    let n = normalise(name);
    let describes = ["type", "expir", "ttl", "url", "uri", "endpoint", "name", "count", "length"];
    if describes.iter().any(|d| n.contains(d)) {
        return false;
    }
    n.contains("token")
        || n.contains("jwt")
        || n.contains("password")
        || n.contains("secret")
        || matches!(n.as_str(), "code" | "apikey" | "passwd" | "pwd" | "credential" | "credentials")
}

/// True for a query parameter, cookie or header name that carries a credential: every secret field
/// name plus `auth`, `authorization`, `key`, `sig`, `signature`, `ticket`, session ids, `x-api-key`.
pub fn is_secret_param(name: &str) -> bool {
    if is_secret_field(name) {
        return true;
    }
    let n = normalise(name);
    matches!(
        n.as_str(),
        "auth"
            | "authorization"
            | "proxyauthorization"
            | "key"
            | "sig"
            | "signature"
            | "ticket"
            | "bearer"
            | "session"
            | "sessionid"
            | "sid"
            | "xapikey"
            | "accesskey"
    ) || n.ends_with("sessionid")
        || n.ends_with("sid")
        || n.starts_with("xauth")
}

/// Long enough and shaped like a credential rather than a word (`code` needs more: it is often a status).
fn credible_opaque(key: &str, value: &str) -> bool {
    let min = if normalise(key) == "code" { 16 } else { 8 };
    value.len() >= min && !value.chars().any(char::is_whitespace)
}

/// Minimal percent-decoding for query values and cookie values (invalid escapes are kept as they are).
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') && !s.contains('+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// `(name, raw value)` pairs of a path's or URL's query string.
pub(crate) fn query_pairs(url: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, "")))
}

fn push_value<'a>(out: &mut Vec<Candidate<'a>>, source: String, value: Cow<'a, str>, note: Option<String>) {
    let value = match value {
        Cow::Borrowed(v) => Cow::Borrowed(v.trim()),
        Cow::Owned(v) => Cow::Owned(v.trim().to_owned()),
    };
    if value.is_empty() {
        return;
    }
    if is_jwt_candidate(&value) || note.is_some() {
        out.push(Candidate { source, value, opaque_note: note, rest_only: false });
    }
}

fn in_query<'a>(url: &'a str, out: &mut Vec<Candidate<'a>>) {
    for (name, raw) in query_pairs(url) {
        let value = percent_decode(raw);
        let note = (is_secret_param(name) && value.len() >= 8).then(|| {
            format!(
                "opaque credential in the query parameter `{name}` (not a JWT; frametap cannot read what it grants)"
            )
        });
        push_value(out, format!("query:{name}"), value, note);
    }
}

fn in_authorization<'a>(header: &str, value: &'a str, out: &mut Vec<Candidate<'a>>) {
    let source = format!("header:{}", header.to_ascii_lowercase());
    let (scheme, credentials) = match value.trim().split_once(' ') {
        Some((scheme, rest)) => (scheme, rest.trim()),
        None => ("", value.trim()),
    };
    let note = if scheme.eq_ignore_ascii_case("basic") {
        "opaque credential: HTTP Basic user name and password (base64, not encrypted)".to_owned()
    } else if scheme.eq_ignore_ascii_case("bearer") {
        "opaque credential: Bearer token that is not a JWT (frametap cannot read what it grants)".to_owned()
    } else {
        format!("opaque credential in {header} (scheme {scheme:?})")
    };
    push_value(out, source, Cow::Borrowed(credentials), Some(note));
}

fn in_cookie_pair<'a>(prefix: &str, pair: &'a str, out: &mut Vec<Candidate<'a>>) {
    let Some((name, value)) = pair.trim().split_once('=') else {
        return;
    };
    let value = value.trim().trim_matches('"');
    let note = (is_secret_param(name) && value.len() >= 8).then(|| format!("opaque credential in the cookie `{name}`"));
    push_value(out, format!("{prefix}:{name}"), percent_decode(value), note);
}

fn in_protocols<'a>(value: &'a str, out: &mut Vec<Candidate<'a>>) {
    let mut after_secret_name = false;
    for item in value.split(',').map(str::trim) {
        let note = (after_secret_name && item.len() >= 8)
            .then(|| "opaque credential passed as a WebSocket subprotocol".to_owned());
        push_value(out, "header:sec-websocket-protocol".to_owned(), Cow::Borrowed(item), note);
        after_secret_name = is_secret_param(item);
    }
}

fn in_headers<'a>(headers: &'a [(String, String)], response: bool, out: &mut Vec<Candidate<'a>>) {
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "authorization" | "proxy-authorization" => in_authorization(name, value, out),
            "cookie" if !response => value.split(';').for_each(|pair| in_cookie_pair("cookie", pair, out)),
            "set-cookie" if response => {
                in_cookie_pair("set-cookie", value.split(';').next().unwrap_or(""), out);
            }
            "sec-websocket-protocol" => in_protocols(value, out),
            _ => {
                let note = (is_secret_param(&lower) && value.len() >= 8)
                    .then(|| format!("opaque credential in the header {lower}"));
                push_value(out, format!("header:{lower}"), Cow::Borrowed(value), note);
            }
        }
    }
}

fn in_request<'a>(request: &'a HttpRequest, out: &mut Vec<Candidate<'a>>) {
    in_query(&request.path, out);
    in_headers(&request.headers, false, out);
}

/// Candidates in a handshake: the client's request, the upstream URL and request, the response.
pub(crate) fn in_open(open: &Open) -> Vec<Candidate<'_>> {
    let mut out = Vec::new();
    in_request(&open.request, &mut out);
    if let Some(upstream) = &open.upstream {
        in_query(upstream, &mut out);
    }
    if let Some(request) = &open.upstream_request {
        in_request(request, &mut out);
    }
    if let Some(response) = &open.response {
        in_headers(&response.headers, true, &mut out);
    }
    out
}

/// What [`plausible`] looks for, in lowercase (matched in any case); the last, `"code"`, only with a string value.
const NEEDLES: [&[u8]; 12] = [
    b"\"eyj",
    b"token",
    b"jwt",
    b"password",
    b"passwd",
    b"pwd",
    b"secret",
    b"apikey",
    b"api_key",
    b"api-key",
    b"credential",
    b"\"code\"",
];
const CODE_NEEDLE: usize = NEEDLES.len() - 1;

/// For each byte (lowercase), the needles that start with it: a bit per index in [`NEEDLES`].
const NEEDLES_BY_FIRST_BYTE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut n = 0;
    while n < NEEDLES.len() {
        table[NEEDLES[n][0] as usize] |= 1 << n;
        n += 1;
    }
    table
};

/// Cheap pre-check before parsing: could this JSON text hold a credential at all? One pass over the
/// bytes, comparing only the needles that start with the byte at hand (a table lookup per byte: every text
/// frame passes here). `"code"` counts only with a string value (Genesys responses carry a numeric `code` in
/// every frame).
pub(crate) fn plausible(text: &str) -> bool {
    let bytes = text.as_bytes();
    for (i, byte) in bytes.iter().enumerate() {
        let mut candidates = NEEDLES_BY_FIRST_BYTE[byte.to_ascii_lowercase() as usize];
        while candidates != 0 {
            let n = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let needle = NEEDLES[n];
            let Some(here) = bytes.get(i..i + needle.len()) else { continue };
            if here.eq_ignore_ascii_case(needle)
                && (n != CODE_NEEDLE || string_value_follows(&bytes[i + needle.len()..]))
            {
                return true;
            }
        }
    }
    false
}

/// True when `rest` starts with optional spaces, a colon, optional spaces and a quote.
fn string_value_follows(rest: &[u8]) -> bool {
    let mut bytes = rest.iter().copied().skip_while(u8::is_ascii_whitespace);
    bytes.next() == Some(b':') && bytes.find(|b| !b.is_ascii_whitespace()) == Some(b'"')
}

/// The token a text frame is when the whole frame, spaces around it aside, is presented as a JWT (`frame:text`).
/// Redaction masks exactly these (src/redact/), so nothing reported here survives in a redacted copy.
pub(crate) fn bare_text_token(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    is_jwt_candidate(trimmed).then_some(trimmed)
}

/// Candidates in a text frame. Non-JSON text is skipped at its first byte (unless it is itself a JWT),
/// and JSON is parsed only when it could hold a credential; `parsed`, the text's JSON object when it was
/// already parsed, is read instead.
pub(crate) fn in_frame_text(text: &str, parsed: Option<Map<String, Value>>) -> Vec<Candidate<'static>> {
    let mut out = Vec::new();
    let trimmed = text.trim_start();
    match trimmed.as_bytes().first() {
        Some(b'{') | Some(b'[') => {}
        Some(b'e') if bare_text_token(trimmed).is_some() => {
            let value = Cow::Owned(trimmed.trim_end().to_owned());
            out.push(Candidate { source: "frame:text".into(), value, opaque_note: None, rest_only: false });
            return out;
        }
        _ => return out,
    }
    if !plausible(text) {
        return out;
    }
    let root = match parsed {
        Some(fields) => Value::Object(fields),
        None => match serde_json::from_str::<Value>(text) {
            Ok(root) => root,
            Err(_) => return out,
        },
    };
    let (rest_only, genesys_request) = match &root {
        Value::Object(map) => (
            map.get("class").and_then(Value::as_str) == Some("JwtResponse"),
            map.get("action").is_some_and(Value::is_string),
        ),
        _ => (false, false),
    };
    let mut walker = Walker { out: &mut out, rest_only, genesys_request, path: String::new() };
    walker.walk(&root, 0);
    out
}

struct Walker<'o> {
    out: &'o mut Vec<Candidate<'static>>,
    rest_only: bool,
    genesys_request: bool,
    path: String,
}

impl Walker<'_> {
    fn walk(&mut self, value: &Value, depth: usize) {
        let restore = self.path.len();
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if depth > 0 || !self.path.is_empty() {
                        self.path.push('.');
                    }
                    self.path.push_str(key);
                    match child {
                        Value::String(s) => self.consider(key, s, depth),
                        other => self.walk(other, depth + 1),
                    }
                    self.path.truncate(restore);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    self.path.push_str(&format!("[{index}]"));
                    match child {
                        Value::String(s) => self.consider("", s, depth),
                        other => self.walk(other, depth + 1),
                    }
                    self.path.truncate(restore);
                }
            }
            _ => {}
        }
    }

    fn consider(&mut self, key: &str, value: &str, depth: usize) {
        let note = if is_jwt_candidate(value) {
            None
        } else if !key.is_empty() && is_secret_field(key) && credible_opaque(key, value) {
            Some(if depth == 0 && key == "token" && self.genesys_request {
                GENESYS_SESSION_NOTE.to_owned()
            } else {
                format!("opaque credential in the field `{key}` (not a JWT; frametap cannot read what it grants)")
            })
        } else {
            return;
        };
        self.out.push(Candidate {
            source: format!("frame:{}", self.path),
            value: Cow::Owned(value.to_owned()),
            opaque_note: note,
            rest_only: self.rest_only,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pre-check as plainly as it can be written: lowercase the text, look for each needle.
    fn plausible_plainly(text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        NEEDLES[..CODE_NEEDLE].iter().any(|needle| lower.contains(std::str::from_utf8(needle).unwrap()))
            || lower.match_indices("\"code\"").any(|(at, _)| string_value_follows(&lower.as_bytes()[at + 6..]))
    }

    #[test]
    fn plausible_finds_what_a_plain_search_finds() {
        let mut texts: Vec<String> = [
            r#"{"action":"onMessage","token":"00000000-0000-4000-8000-000000000001","message":{"type":"Text","text":"hi"}}"#,
            r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"text":"hi"}}"#,
            r#"{"code" :  "abc"}"#,
            r#"{"code": 4006, "x": "tok"}"#,
            r#"{"CODE":"x"}"#,
            r#"{"a":"EYJhbGciOi"}"#,
            r#"{"Api-Key":1}"#,
            r#"{"pass":"wd","PassWD":true}"#,
            "credentia",
            "tokeN",
            "\"cod",
            "",
            "ééé jwt",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus");
        for kind in ["genesys", "redact", "jwt", "har_import"] {
            for entry in std::fs::read_dir(corpus.join(kind)).unwrap() {
                texts.push(String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap()).into_owned());
            }
        }
        let mut found = 0;
        for text in &texts {
            assert_eq!(plausible(text), plausible_plainly(text), "{text:?}");
            found += usize::from(plausible(text));
        }
        // Both answers occur, so the comparison says something either way.
        assert!(found > 5 && found < texts.len() - 5, "{found} of {}", texts.len());
    }
}
