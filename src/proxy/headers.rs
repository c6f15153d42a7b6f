//! Which handshake headers cross frametap, on each leg: end-to-end ones pass, per-leg and hop-by-hop ones do not.

use crate::event::Headers;

/// Headers that belong to one TCP connection (RFC 9110 §7.6.1) or to one WebSocket leg, never forwarded.
const PER_LEG: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
    "sec-websocket-key",
    "sec-websocket-accept",
    "sec-websocket-version",
    "sec-websocket-extensions",
];

/// The name frametap's own web UI cookie starts with (`frametap_ui_PORT`, ui/security.rs).
pub const UI_COOKIE_PREFIX: &str = "frametap_ui_";

/// A client's upgrade request headers without frametap's own UI cookie. Browsers send a host's cookies to every port
/// of it, so a page on 127.0.0.1 (the UI's Try page, an app on another port) sends the UI's access token along with
/// its WebSocket upgrade to frametap: frametap's secret, not the client's, so it is neither recorded nor forwarded.
/// A Cookie header without it is kept as it came; one that held only it is dropped.
pub fn without_ui_cookie(headers: Headers) -> Headers {
    let is_ui_cookie = |pair: &str| {
        let name = pair.trim().split('=').next().unwrap_or("");
        name.strip_prefix(UI_COOKIE_PREFIX)
            .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
    };
    headers
        .into_iter()
        .filter_map(|(name, value)| {
            if !name.eq_ignore_ascii_case("cookie") || !value.split(';').any(is_ui_cookie) {
                return Some((name, value));
            }
            let rest: Vec<&str> = value.split(';').filter(|pair| !is_ui_cookie(pair)).map(str::trim).collect();
            (!rest.iter().all(|pair| pair.is_empty())).then(|| (name, rest.join("; ")))
        })
        .collect()
}

/// What the request-side rules changed, for the log.
#[derive(Debug, Default, PartialEq)]
pub struct RequestChanges {
    /// The client offered extensions (permessage-deflate): dropped, so frames stay readable.
    pub extensions_dropped: Option<String>,
    /// Cookie headers dropped (the browser's cookies for 127.0.0.1 belong to other local apps).
    pub cookies_dropped: usize,
}

fn listed_in_connection(headers: &Headers) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .filter(|t| !t.is_empty() && t != "upgrade")
        .collect()
}

fn is_per_leg(name: &str, extra: &[String]) -> bool {
    let lower = name.to_ascii_lowercase();
    PER_LEG.contains(&lower.as_str()) || extra.contains(&lower)
}

/// The client's end-to-end headers to send upstream (Origin, Authorization, User-Agent, subprotocols, custom ones),
/// then `set` applied (adds or replaces by name; [`parse_header_arg`] keeps per-leg headers out of it). The
/// dialler adds the upgrade headers, the WebSocket key and version, and Host unless `set` gave one.
pub fn upstream_request_headers(client: &Headers, forward_cookies: bool, set: &Headers) -> (Headers, RequestChanges) {
    let extra = listed_in_connection(client);
    let mut changes = RequestChanges::default();
    let mut out = Headers::new();
    for (name, value) in client {
        if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            changes.extensions_dropped = Some(value.clone());
            continue;
        }
        if is_per_leg(name, &extra) {
            continue;
        }
        if name.eq_ignore_ascii_case("cookie") && !forward_cookies {
            changes.cookies_dropped += 1;
            continue;
        }
        out.push((name.clone(), value.clone()));
    }
    for (name, value) in set {
        out.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        out.push((name.clone(), value.clone()));
    }
    (out, changes)
}

/// The upstream response's end-to-end headers to pass back to the client (subprotocol, Set-Cookie, …).
pub fn client_response_headers(upstream: &Headers) -> Headers {
    let extra = listed_in_connection(upstream);
    upstream.iter().filter(|(n, _)| !is_per_leg(n, &extra)).cloned().collect()
}

/// Why `--set-header` cannot set a per-leg header, or `None` when it can. Host can be set: it replaces the
/// upstream's own (for a virtual host reached by address).
fn not_settable(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "host" => return None,
        "connection" | "upgrade" => "frametap sets it on each leg to ask for the WebSocket upgrade",
        "sec-websocket-key" | "sec-websocket-version" | "sec-websocket-accept" => {
            "frametap makes its own WebSocket handshake on each leg (the upstream's answer must match the key frametap sent)"
        }
        "sec-websocket-extensions" => {
            "compression stays off on both legs so that every frame can be read and relayed unchanged"
        }
        _ if PER_LEG.contains(&lower.as_str()) => "it belongs to one HTTP connection (hop by hop), not to the upgrade request",
        _ => return None,
    })
}

/// Parses `--set-header 'Name: value'`, refusing the headers frametap sets on each leg ([`not_settable`]).
pub fn parse_header_arg(arg: &str) -> Result<(String, String), String> {
    let (name, value) =
        arg.split_once(':').ok_or_else(|| format!("{arg:?} is not a header: write it as 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("{name:?} is not a valid header name (in {arg:?})"));
    }
    if let Some(why) = not_settable(name) {
        return Err(format!("{name} cannot be set: {why}"));
    }
    let value = value.trim();
    if value.is_empty() && name.eq_ignore_ascii_case("host") {
        return Err(format!(
            "Host needs a value (the upstream would get an empty Host): write it as 'Host: vhost.example' (in {arg:?})"
        ));
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err(format!("the value of {name} contains characters a header cannot carry"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn frametaps_own_ui_cookie_is_taken_out_and_nothing_else() {
        let cookies = h(&[
            ("cookie", "frametap_ui_9001=secret"),
            ("Cookie", "a=1; frametap_ui_9101=other; b=2"),
            ("cookie", "frametap_ui_x=keep;frametap_ui_=keep"),
            ("x-note", "frametap_ui_9001=not a cookie header"),
        ]);
        assert_eq!(
            without_ui_cookie(cookies),
            h(&[
                ("Cookie", "a=1; b=2"),
                ("cookie", "frametap_ui_x=keep;frametap_ui_=keep"),
                ("x-note", "frametap_ui_9001=not a cookie header"),
            ])
        );
    }

    #[test]
    fn end_to_end_headers_pass_and_per_leg_ones_do_not() {
        let client = h(&[
            ("host", "127.0.0.1:9000"),
            ("origin", "https://app.example"),
            ("authorization", "Bearer x"),
            ("connection", "Upgrade, x-hop"),
            ("x-hop", "1"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "k"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "chat, v2"),
            ("sec-websocket-extensions", "permessage-deflate"),
            ("cookie", "a=1"),
            ("x-custom", "y"),
            ("x-custom", "z"),
        ]);
        let (out, changes) = upstream_request_headers(&client, false, &h(&[("X-Custom", "set")]));
        assert_eq!(
            out,
            h(&[
                ("origin", "https://app.example"),
                ("authorization", "Bearer x"),
                ("sec-websocket-protocol", "chat, v2"),
                ("X-Custom", "set"),
            ])
        );
        assert_eq!(changes.cookies_dropped, 1);
        assert_eq!(changes.extensions_dropped.as_deref(), Some("permessage-deflate"));
        let (kept, _) = upstream_request_headers(&client, true, &Headers::new());
        assert!(kept.contains(&("cookie".into(), "a=1".into())));
    }

    #[test]
    fn header_args_are_checked() {
        assert_eq!(parse_header_arg("X-A:  b c ").unwrap(), ("X-A".into(), "b c".into()));
        assert!(parse_header_arg("nocolon").unwrap_err().contains("Name: value"));
        assert!(parse_header_arg("bad name: x").is_err());
    }

    /// These used to be sent twice (or re-enable compression the relay cannot read).
    #[test]
    fn per_leg_headers_cannot_be_set_but_host_can() {
        for name in
            ["Sec-WebSocket-Key", "sec-websocket-version", "Connection", "Upgrade", "Sec-WebSocket-Extensions", "TE"]
        {
            let err = parse_header_arg(&format!("{name}: x")).unwrap_err();
            assert!(err.starts_with(&format!("{name} cannot be set: ")), "{err}");
        }
        assert!(parse_header_arg("Sec-WebSocket-Extensions: permessage-deflate").unwrap_err().contains("compression"));
        assert_eq!(parse_header_arg("Host: vhost.example").unwrap(), ("Host".into(), "vhost.example".into()));
    }
}
