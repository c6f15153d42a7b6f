//! Redaction of text: URLs and their query strings, header values, JSON frames, and free text.

use super::Redactor;
use crate::inspect::jwt::{decode_unverified, is_jwt_candidate};
use crate::inspect::tokens::{is_secret_field, is_secret_param};
use serde_json::Value;
use std::borrow::Cow;

fn is_b64url_or_dot(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

impl Redactor {
    /// JWT signatures anywhere in the text, then `"secretField":"…"` values, then every known secret, whole or
    /// cut off by a preview's `…`.
    pub(crate) fn free_text<'t>(&mut self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        if text.contains("eyJ") {
            if let Some(replaced) = self.jwts_in_text(&out) {
                out = Cow::Owned(replaced);
            }
        }
        if text.contains('"') {
            if let Some(replaced) = self.secret_fields_in_raw_json(&out) {
                out = Cow::Owned(replaced);
            }
        }
        for (secret, placeholder) in self.known_here() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), placeholder));
            }
        }
        if let Some(replaced) = self.cut_off_secrets(&out) {
            out = Cow::Owned(replaced);
        }
        out
    }

    /// Replaces every token inside `text` that the token finder would take for a JWT (`is_jwt_candidate`: a
    /// `eyJ…` run with a dot, whether it decodes or not): a JWT loses its signature, a malformed or encrypted one
    /// its body. A run is base64url characters and dots, trailing dots (a sentence's) left out; a JWT followed by
    /// `.more` is the JWT alone.
    fn jwts_in_text(&mut self, text: &str) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut changed = false;
        while let Some(at) = rest.find("eyJ") {
            out.push_str(&rest[..at]);
            let candidate = &rest[at..];
            let run = candidate.bytes().take_while(|b| is_b64url_or_dot(*b)).count();
            let mut token = candidate[..run].trim_end_matches('.');
            if let Some(third_dot) = token.match_indices('.').nth(2).map(|(i, _)| i) {
                if decode_unverified(&token[..third_dot]).is_ok() {
                    token = &token[..third_dot];
                }
            }
            if is_jwt_candidate(token) {
                out.push_str(&self.placeholder_for(token));
                changed = true;
            } else {
                out.push_str(token);
            }
            rest = &candidate[token.len().max(3)..];
        }
        out.push_str(rest);
        changed.then_some(out)
    }

    /// In raw (possibly cut-off or nested) JSON text: the string value after every secret field name.
    fn secret_fields_in_raw_json(&mut self, text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let (mut copied, mut i, mut changed) = (0, 0, false);
        while i < bytes.len() {
            if bytes[i] != b'"' {
                i += 1;
                continue;
            }
            let Some(key_len) = text[i + 1..].find('"') else {
                break;
            };
            let key = &text[i + 1..i + 1 + key_len];
            let mut j = i + 2 + key_len;
            if key.is_empty() || key.len() > 64 || !is_secret_field(key) {
                i = j;
                continue;
            }
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if bytes.get(j) != Some(&b':') {
                i = j;
                continue;
            }
            j += 1;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if bytes.get(j) != Some(&b'"') {
                i = j;
                continue;
            }
            let start = j + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let end = end.min(bytes.len());
            let value = &text[start..end];
            if !value.is_empty() && !value.contains('\\') {
                out.push_str(&text[copied..start]);
                out.push_str(&self.placeholder_for(value));
                copied = end;
                changed = true;
            }
            i = end + 1;
        }
        if !changed {
            return None;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }

    /// A path or URL with its query string masked: secret-named parameters and JWT values get placeholders.
    pub(crate) fn url(&mut self, url: &str) -> String {
        let url = self.userinfo(url);
        let (base, fragment) = match url.split_once('#') {
            Some((base, fragment)) => (base, Some(fragment)),
            None => (url.as_ref(), None),
        };
        let mut out = match base.split_once('?') {
            None => self.free_text(base).into_owned(),
            Some((path, query)) => {
                let mut out = self.free_text(path).into_owned();
                out.push('?');
                let pairs: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((name, raw)) if !raw.is_empty() => {
                            let value = crate::inspect::tokens::percent_decode(raw);
                            if is_secret_param(name) || is_jwt_candidate(value.trim()) {
                                format!("{name}={}", self.placeholder_for(&value))
                            } else {
                                format!("{name}={}", self.free_text(raw))
                            }
                        }
                        _ => pair.to_owned(),
                    })
                    .collect();
                out.push_str(&pairs.join("&"));
                out
            }
        };
        if let Some(fragment) = fragment {
            out.push('#');
            out.push_str(&self.free_text(fragment));
        }
        out
    }

    /// `scheme://user:password@host…` with the password replaced (the user name stays).
    fn userinfo<'u>(&mut self, url: &'u str) -> Cow<'u, str> {
        let Some(scheme_end) = url.find("://") else { return Cow::Borrowed(url) };
        let authority_start = scheme_end + 3;
        let rest = &url[authority_start..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let Some((userinfo, _host)) = authority.rsplit_once('@') else { return Cow::Borrowed(url) };
        let Some((user, password)) = userinfo.split_once(':') else { return Cow::Borrowed(url) };
        if password.is_empty() {
            return Cow::Borrowed(url);
        }
        let placeholder = self.placeholder_for(&crate::inspect::tokens::percent_decode(password));
        let password_start = authority_start + user.len() + 1;
        Cow::Owned(format!("{}{placeholder}{}", &url[..password_start], &url[password_start + password.len()..]))
    }

    /// A header value masked according to its name (the name itself never changes).
    pub(crate) fn header_value(&mut self, name: &str, value: &str) -> String {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "authorization" | "proxy-authorization" => match value.trim().split_once(' ') {
                Some((scheme, credentials)) => {
                    format!("{scheme} {}", self.placeholder_for(credentials.trim()))
                }
                None => self.placeholder_for(value.trim()),
            },
            "cookie" => {
                let pairs: Vec<String> = value.split(';').map(|pair| self.cookie_pair(pair)).collect();
                pairs.join(";")
            }
            "set-cookie" => {
                let (first, attributes) = value.split_once(';').unwrap_or((value, ""));
                let mut out = self.cookie_pair(first);
                if !attributes.is_empty() || value.contains(';') {
                    out.push(';');
                    out.push_str(attributes);
                }
                out
            }
            "sec-websocket-protocol" => {
                let mut after_secret_name = false;
                let items: Vec<String> = value
                    .split(',')
                    .map(|item| {
                        let trimmed = item.trim();
                        let masked = if (after_secret_name && !trimmed.is_empty()) || is_jwt_candidate(trimmed) {
                            item.replace(trimmed, &self.placeholder_for(trimmed))
                        } else {
                            self.free_text(item).into_owned()
                        };
                        after_secret_name = is_secret_param(trimmed);
                        masked
                    })
                    .collect();
                items.join(",")
            }
            "referer" | "origin" | "location" => self.url(value),
            _ if is_secret_param(&lower) && !value.trim().is_empty() => self.placeholder_for(value.trim()),
            // A value the token finder reports as a JWT (`jwt` or `malformed`), whatever the header's name.
            _ if is_jwt_candidate(value.trim()) => self.placeholder_for(value.trim()),
            _ => self.free_text(value).into_owned(),
        }
    }

    /// `name=value` with the value replaced (surrounding spaces and quotes kept).
    fn cookie_pair(&mut self, pair: &str) -> String {
        let Some((name, value)) = pair.split_once('=') else {
            return pair.to_owned();
        };
        let quoted = value.trim().starts_with('"') && value.trim().ends_with('"') && value.trim().len() >= 2;
        let bare = value.trim().trim_matches('"');
        if bare.is_empty() {
            return pair.to_owned();
        }
        let placeholder = self.placeholder_for(bare);
        if quoted {
            format!("{name}=\"{placeholder}\"")
        } else {
            format!("{name}={placeholder}")
        }
    }

    /// A JSON text frame with secret fields and JWT signatures masked, or `None` when it is not JSON
    /// (the caller falls back to free text). Key order and, where possible, the exact text are kept.
    pub(crate) fn json_text(&mut self, text: &str) -> Option<Option<String>> {
        let mut value: Value = serde_json::from_str(text).ok()?;
        // Pass 1 learns every secret, so pass 2 can also mask mentions of it in ordinary fields.
        self.learn_secrets(&value, None);
        let mut pairs = Vec::new();
        self.mask_value(&mut value, None, &mut pairs);
        if pairs.is_empty() {
            return Some(None);
        }
        // Prefer the original text with only the secrets swapped, so spacing and number formats stay.
        let mut raw = text.to_owned();
        for (old, new) in &pairs {
            let (old, new) = (json_escaped(old), json_escaped(new));
            raw = raw.replace(&old, &new);
        }
        if serde_json::from_str::<Value>(&raw).ok().as_ref() == Some(&value) {
            return Some(Some(raw));
        }
        Some(Some(serde_json::to_string(&value).unwrap_or(raw)))
    }

    fn learn_secrets(&mut self, value: &Value, key: Option<&str>) {
        match value {
            Value::String(s) if (key.is_some_and(is_secret_field) && !s.is_empty()) || is_jwt_candidate(s) => {
                self.placeholder_for(s);
            }
            Value::Object(map) => map.iter().for_each(|(k, v)| self.learn_secrets(v, Some(k))),
            Value::Array(items) => items.iter().for_each(|v| self.learn_secrets(v, None)),
            _ => {}
        }
    }

    fn mask_value(&mut self, value: &mut Value, key: Option<&str>, pairs: &mut Vec<(String, String)>) {
        match value {
            Value::String(s) => {
                let masked = if (key.is_some_and(is_secret_field) && !s.is_empty()) || is_jwt_candidate(s) {
                    self.placeholder_for(s)
                } else {
                    self.free_text(s).into_owned()
                };
                if masked != *s {
                    pairs.push((std::mem::replace(s, masked.clone()), masked));
                }
            }
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    self.mask_value(v, Some(k), pairs);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_value(v, None, pairs)),
            _ => {}
        }
    }
}

/// A string as it appears between the quotes of serde_json's output.
fn json_escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
}
