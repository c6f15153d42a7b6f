//! Why an upgrade did not succeed, in words: the upstream's error, or its answer other than 101 with what that
//! status usually means (a redirect with where it points and what to connect to instead).

use crate::event::Open;
use crate::profile::Profile;

/// Why `open`'s upgrade did not succeed, or `None` when it did (a 101, or no answer recorded yet).
pub(super) fn why_refused(open: &Open, profile: &dyn Profile) -> Option<String> {
    if let Some(error) = &open.error {
        // Not "could not be reached": the error may come after the upstream answered (a 101 with a wrong
        // Sec-WebSocket-Accept, an answer cut off or too large), and the error itself says which step failed.
        return Some(format!("the connection to the upstream failed: {error}"));
    }
    let response = open.response.as_ref().filter(|response| response.status != 101)?;
    let status = response.status;
    let hint = match profile.refused_hint(status) {
        Some(hint) => hint.to_owned(),
        None => match status {
            403 => " (the server refused this client: an Origin it does not allow, or missing credentials, are the usual reasons)".to_owned(),
            401 => " (the upstream wants credentials on the upgrade request)".to_owned(),
            429 => " (rate limited before the WebSocket even opened)".to_owned(),
            200..=299 => " (the URL answers plain HTTP but is not a WebSocket endpoint, as a web page or a REST URL answers: check the host and path of the upstream URL)".to_owned(),
            301 | 302 | 303 | 307 | 308 => redirect_hint(crate::event::header(&response.headers, "location")),
            _ => String::new(),
        },
    };
    Some(format!("the upstream refused the upgrade with HTTP {status}{hint}"))
}

/// What the terminal log and `inspect`'s timeline both say of an upgrade that failed after the upstream answered 101
/// (an `open` keeping that 101 next to its `error`: a wrong or missing `Sec-WebSocket-Accept`): that the 101 came,
/// why it opened no WebSocket, and what to do. `None` for any other `open`.
pub fn failed_after_101(open: &Open) -> Option<String> {
    let error = open.error.as_deref()?;
    open.response.as_ref().filter(|response| response.status == 101)?;
    // The proxy's error names the request first ("the upgrade request to URL failed: "); what failed is the 101.
    let why = match error.split_once(" failed: ") {
        Some((request, why)) if request.starts_with("the upgrade request to ") => why,
        _ => error,
    };
    let why = match why.strip_prefix("the upstream answered 101 ") {
        Some(rest) => format!("the 101 came {rest}"),
        None => why.to_owned(),
    };
    Some(format!(
        "the upstream answered 101, but the upgrade failed: {why}. A browser fails this upgrade too: check that the \
         upstream URL is the WebSocket endpoint, and that nothing between frametap and it (a proxy, a load balancer) \
         answers the upgrade itself or rewrites its headers"
    ))
}

/// A redirect answering the upgrade: where it points, that browsers do not follow it (the WebSocket standard
/// has the handshake fail on any redirect), and the WebSocket URL to connect to instead when it names a host.
fn redirect_hint(location: Option<&str>) -> String {
    let Some(location) = location.map(str::trim).filter(|l| !l.is_empty()) else {
        return " (a redirect, without a Location saying where to: browsers do not follow a redirect on a WebSocket \
                 upgrade, so the page's WebSocket fails with 1006; check the host and path of the upstream URL)"
            .to_owned();
    };
    let instead = match websocket_origin(location) {
        Some(origin) => format!("; connect to {origin} instead, through frametap with --upstream {origin}"),
        None => "; use the path it names in the URL instead".to_owned(),
    };
    format!(
        " (a redirect to {location}: browsers do not follow a redirect on a WebSocket upgrade, so the page's \
         WebSocket fails with 1006{instead})"
    )
}

/// The WebSocket scheme and host of an absolute `location` (`https://h/p` → `wss://h`, `http://` → `ws://`); `None`
/// for a relative one, or a scheme that is not HTTP or WebSocket.
fn websocket_origin(location: &str) -> Option<String> {
    let (scheme, rest) = location.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty())?;
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absolute_location_becomes_the_websocket_origin_to_use() {
        assert_eq!(websocket_origin("https://chat.example.com/v1?x=1").as_deref(), Some("wss://chat.example.com"));
        assert_eq!(websocket_origin("HTTP://h:8080").as_deref(), Some("ws://h:8080"));
        assert_eq!(websocket_origin("wss://h#frag").as_deref(), Some("wss://h"));
        assert_eq!(websocket_origin("/v2"), None);
        assert_eq!(websocket_origin("ftp://h/x"), None);
        assert_eq!(websocket_origin("https:///nohost"), None);
    }
}
