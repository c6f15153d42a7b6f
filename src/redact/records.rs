//! Redaction of each kind of capture record: what is masked where, and what is left as it was.

use super::Redactor;
use crate::event::{Frame, HttpRequest, HttpResponse, Meta, Opcode, Open, Record};
use bytes::Bytes;
use serde_json::{Map, Value};

pub(super) fn redact_record(r: &mut Redactor, record: Record) -> Record {
    r.current = record.conn();
    match record {
        Record::Meta(meta) => Record::from(redact_meta(r, *meta)),
        Record::Open(open) => Record::from(redact_open(r, *open)),
        Record::Frame(frame) => Record::Frame(redact_frame(r, frame)),
        Record::Token(mut token) => {
            redact_token_details(r, &mut token.details);
            token.source = r.free_text(&token.source).into_owned();
            redact_details(r, &mut token.details);
            Record::Token(token)
        }
        Record::Annotation(mut annotation) => {
            annotation.text = r.free_text(&annotation.text).into_owned();
            redact_details(r, &mut annotation.details);
            Record::Annotation(annotation)
        }
        Record::Diagnosis(mut diagnosis) => {
            redact_details(r, &mut diagnosis.details);
            Record::Diagnosis(diagnosis)
        }
        Record::Close(mut close) => {
            close.reason = close.reason.map(|s| r.free_text(&s).into_owned());
            close.detail = close.detail.map(|s| r.free_text(&s).into_owned());
            Record::Close(close)
        }
        Record::Note(mut note) => {
            note.message = r.free_text(&note.message).into_owned();
            Record::Note(note)
        }
        Record::End(mut end) => {
            end.errors = end.errors.iter().map(|e| r.free_text(e).into_owned()).collect();
            Record::End(end)
        }
    }
}

fn redact_meta(r: &mut Redactor, mut meta: Meta) -> Meta {
    meta.redacted = true;
    meta.upstream = meta.upstream.map(|u| r.url(&u));
    meta.command = meta.command.iter().map(|arg| redact_argument(r, arg)).collect();
    meta
}

/// A command-line argument: URLs lose their query secrets, `Name: value` header arguments their value, `NAME=VALUE`
/// arguments naming a secret field (`--set token=…`) theirs.
fn redact_argument(r: &mut Redactor, arg: &str) -> String {
    // `--option=value`: mask the value as an argument of its own.
    if let Some((option, value)) = arg.strip_prefix("--").and_then(|a| a.split_once('=')) {
        return format!("--{option}={}", redact_argument(r, value));
    }
    if let Some((name, value)) = arg.split_once(':') {
        let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if name_ok && value.starts_with(' ') && !value.starts_with("//") {
            return format!("{name}: {}", r.header_value(name, value.trim()));
        }
    }
    if arg.contains('?') && (arg.contains("://") || arg.starts_with('/') || arg.starts_with("sim:")) {
        return r.url(arg);
    }
    // `NAME=VALUE` (`replay send --set token=…`): the value of a secret-named field, masked as in a frame.
    if let Some((name, value)) = arg.split_once('=') {
        let field = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if field && !value.is_empty() && crate::inspect::tokens::is_secret_field(name) {
            return format!("{name}={}", r.placeholder_for(value));
        }
    }
    r.free_text(arg).into_owned()
}

fn redact_request(r: &mut Redactor, mut request: HttpRequest) -> HttpRequest {
    request.path = r.url(&request.path);
    for (name, value) in &mut request.headers {
        *value = r.header_value(name, value);
    }
    request
}

fn redact_response(r: &mut Redactor, mut response: HttpResponse) -> HttpResponse {
    for (name, value) in &mut response.headers {
        *value = r.header_value(name, value);
    }
    response.body = response.body.map(|body| redact_text_payload(r, &body));
    response
}

pub(super) fn redact_open(r: &mut Redactor, mut open: Open) -> Open {
    open.request = redact_request(r, open.request);
    open.upstream = open.upstream.map(|u| r.url(&u));
    open.upstream_request = open.upstream_request.map(|q| redact_request(r, q));
    open.response = open.response.map(|p| redact_response(r, p));
    open.error = open.error.map(|e| r.free_text(&e).into_owned());
    open
}

/// A text payload: JSON with its secret fields masked, or free text (a fragment, a plain message).
pub(super) fn redact_text_payload(r: &mut Redactor, text: &str) -> String {
    let first = text.trim_start().as_bytes().first().copied();
    if matches!(first, Some(b'{') | Some(b'[')) {
        // Most frames hold no secret: skip parsing unless a secret name, a JWT or a known secret is in it.
        if !crate::inspect::tokens::plausible(text) && !r.mentions_known_secret(text) {
            return text.to_owned();
        }
        if let Some(result) = r.json_text(text) {
            return result.unwrap_or_else(|| text.to_owned());
        }
    }
    // A frame that is a bare JWT (or a malformed or encrypted one) is masked whole, as the token finder reports it.
    if let Some(token) = crate::inspect::tokens::bare_text_token(text) {
        let placeholder = r.placeholder_for(token);
        return text.replacen(token, &placeholder, 1);
    }
    r.free_text(text).into_owned()
}

pub(super) fn redact_frame(r: &mut Redactor, mut frame: Frame) -> Frame {
    let new_payload = if frame.opcode == Opcode::Close {
        match frame.close_parts() {
            (Some(code), Some(reason)) if !reason.is_empty() => {
                let masked = r.free_text(&reason);
                (masked != reason).then(|| {
                    let mut payload = code.to_be_bytes().to_vec();
                    payload.extend_from_slice(masked.as_bytes());
                    payload
                })
            }
            _ => None,
        }
    } else {
        frame.text().and_then(|text| {
            let masked = redact_text_payload(r, text);
            (masked != text).then(|| masked.into_bytes())
        })
    };
    if let Some(payload) = new_payload {
        tracing::trace!(conn = frame.conn, seq = frame.seq, "frame redacted");
        frame.len = payload.len() as u64;
        frame.payload = Bytes::from(payload);
    }
    frame
}

/// What a `token` record says about the secret itself. An opaque token's preview shows the start of the secret
/// (a JWT's shows its header). Its fingerprint is a plain hash of the secret, so anyone could confirm a guess with
/// it: it becomes the fingerprint of the secret's placeholder, or goes. A JWT's fingerprint hashes its header and
/// claims, which stay readable, and is kept.
fn redact_token_details(r: &Redactor, details: &mut Map<String, Value>) {
    if details.get("token_kind").and_then(Value::as_str) == Some("jwt") {
        return;
    }
    if let Some(preview) = details.get_mut("preview") {
        *preview = "…".into();
    }
    let keyed = details.get("fingerprint").and_then(Value::as_str).map(|plain| r.redacted_fingerprint(plain));
    match keyed {
        Some(Some(keyed)) => {
            details.insert("fingerprint".into(), keyed.into());
        }
        Some(None) => {
            details.shift_remove("fingerprint");
        }
        None => {}
    }
}

/// An analysis record's details: frametap's own fields (`token_kind`, `preview`, `tracing_id`, …) are never taken
/// for secrets by their names, but every string in them is scanned (previews quote frames), and nested data taken
/// from the traffic (a JWT's claims) is masked as in a frame.
fn redact_details(r: &mut Redactor, details: &mut Map<String, Value>) {
    for value in details.values_mut() {
        redact_value(r, None, value);
    }
}

/// Every string inside a JSON object, secret-named fields by name.
fn redact_map(r: &mut Redactor, map: &mut Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        redact_value(r, Some(key), value);
    }
}

fn redact_value(r: &mut Redactor, key: Option<&str>, value: &mut Value) {
    match value {
        Value::String(s) => {
            let secret_named = key.is_some_and(crate::inspect::tokens::is_secret_field) && !s.is_empty();
            let masked = if secret_named || crate::inspect::jwt::is_jwt_candidate(s) {
                r.placeholder_for(s)
            } else {
                r.free_text(s).into_owned()
            };
            *s = masked;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(r, None, v)),
        Value::Object(map) => redact_map(r, map),
        _ => {}
    }
}
