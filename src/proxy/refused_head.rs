//! A client request hyper refuses before frametap's service sees it (a head too large, a URI too long, bytes that
//! are not HTTP/1.1): hyper answers it itself (431, 414, 400) and ends the connection, so frametap records a session
//! note (`request-refused`) saying who, what was wrong and what to do; otherwise it would leave no trace.

use crate::event::{Note, Record, Ts};
use crate::pipeline::EventSink;
use std::net::SocketAddr;

/// Most bytes a client's request head may take: hyper's own default read buffer limit, set explicitly on every
/// client-facing server so that the note refusing a larger head can name it.
pub const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;

/// Says how hyper's serving of a client's connection ended: a request hyper refused becomes a `request-refused`
/// note (terminal log, capture, UI); any other error (the client hung up, a timeout) only a debug line.
pub async fn note_http_end(sink: &EventSink, result: hyper::Result<()>, client_addr: SocketAddr) {
    let Err(error) = result else { return };
    match refusal(&error) {
        Some((answer, what, todo)) => note_refused(sink, client_addr, answer, &what, &todo).await,
        None => tracing::debug!(%client_addr, "client HTTP connection ended: {error}"),
    }
}

/// Records the `request-refused` note for a request from `client_addr` refused before frametap read it: `what` was
/// wrong with it, the `answer` it got, and what to do.
pub async fn note_refused(sink: &EventSink, client_addr: SocketAddr, answer: &str, what: &str, todo: &str) {
    let message = format!(
        "refused a request from {client_addr} before frametap could read it: {what}; {answer}, and nothing was sent \
         upstream or recorded as a connection. {todo}"
    );
    let note = Note::warn("request-refused", None, Ts::now(), message);
    sink.emit(Record::Note(note)).await;
}

/// What to do about a request head too large for frametap.
pub const SMALLER_HEAD: &str =
    "Send fewer or smaller headers (large or many cookies are the usual cause; a browser clears them with the site's data).";

/// What a placeholder from the banner's example URL, dialled as printed or percent-encoded, is to be replaced with.
pub const REAL_TARGET: &str = "the real path and query, e.g. /v1?deploymentId=<your deployment's id>";

/// The placeholder of a banner's example URL (`<path>`, `<your deployment id>`, `<any id>`, a value `…`) that a
/// request target holds percent-encoded, as a browser sends `deploymentId=<your deployment id>` given as printed
/// (`%3Cyour%20deployment%20id%3E`), or, for `…`, as printed (its UTF-8 bytes, as tungstenite sends
/// `deploymentId=…`): valid URIs to hyper, which lets them through to be sent upstream, where a literal `<…>` is
/// refused as [`refusal`] explains. `None` for a target without one.
pub fn encoded_placeholder(target: &str) -> Option<String> {
    if !target.contains(['%', '…']) {
        return None;
    }
    let decoded = crate::inspect::tokens::percent_decode(target).replace('+', " ");
    let mut rest = decoded.as_str();
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let inside = &after[..close];
        if ["path", "any id"].contains(&inside) || inside.starts_with("your ") {
            return Some(format!("<{inside}>"));
        }
        rest = after;
    }
    let ellipsis = decoded.split(['/', '?', '&', '=', '#']).any(|part| part == "…");
    ellipsis.then(|| "…".to_owned())
}

/// For a request hyper refused: what it answered, what was wrong, and what to do; `None` for other errors.
fn refusal(error: &hyper::Error) -> Option<(&'static str, String, String)> {
    if error.is_parse_too_large() {
        // hyper says which of its two limits in its message only.
        return Some(if error.to_string().contains("URI") {
            (
                "hyper (frametap's HTTP server) answered 414 URI Too Long",
                "its request target (path and query) is too long".to_owned(),
                "Shorten the URL (a query string carrying a large token?).".to_owned(),
            )
        } else {
            (
                "hyper (frametap's HTTP server) answered 431 Request Header Fields Too Large",
                format!(
                    "its request head is too large: more than {} header lines, or more than {} KiB",
                    super::MAX_HEADERS,
                    MAX_HEAD_BYTES / 1024
                ),
                SMALLER_HEAD.to_owned(),
            )
        });
    }
    if error.is_parse_version_h2() {
        return Some((
            "hyper (frametap's HTTP server) closed the connection without an answer",
            "it speaks HTTP/2 without negotiating it".to_owned(),
            "Connect with HTTP/1.1: a WebSocket upgrade is an HTTP/1.1 request.".to_owned(),
        ));
    }
    if error.is_parse() && error.to_string().contains("invalid URI") {
        // The banner's own placeholders, copied as they are (`/<path>`), read like this; their percent-encoded form,
        // and a `…` as printed, are a valid URI, refused by `encoded_placeholder`'s caller instead.
        return Some((
            "hyper (frametap's HTTP server) answered 400 Bad Request",
            "its request target (path and query) is not a valid URI: characters such as `<`, `>`, spaces or `…` \
             must be percent-encoded"
                .to_owned(),
            format!(
                "Check the URL the client dials: a placeholder copied from the banner (`/<path>`, `deploymentId=…`) \
                 must be replaced with {REAL_TARGET}."
            ),
        ));
    }
    if error.is_parse() {
        return Some((
            "hyper (frametap's HTTP server) answered 400 Bad Request",
            format!("it is not an HTTP/1.1 request ({error})"),
            "Check what the client sends to this address: one speaking TLS (wss://, https://) where frametap \
             listens for plain ws:// reads like this."
                .to_owned(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::encoded_placeholder;

    #[test]
    fn a_banner_placeholder_is_found_percent_encoded_and_nothing_else_is() {
        for (target, found) in [
            ("/v1?deploymentId=%3Cyour%20deployment%20id%3E", "<your deployment id>"),
            ("/v1?deploymentId=%3cyour+deployment%27s+id%3e", "<your deployment's id>"),
            ("/%3Cpath%3E", "<path>"),
            ("/v1?deploymentId=%3Cany%20id%3E&x=1", "<any id>"),
            ("/v1?deploymentId=%E2%80%A6", "…"),
            ("/v1?deploymentId=…", "…"),
        ] {
            assert_eq!(encoded_placeholder(target).as_deref(), Some(found), "{target}");
        }
        for target in [
            "/v1?deploymentId=4b1d",
            "/v1?q=%3Cb%3Ebold%3C%2Fb%3E",
            "/chat?text=wait%E2%80%A6",
            "/chat?text=wait…",
            "/<path>",
        ] {
            assert_eq!(encoded_placeholder(target), None, "{target}");
        }
    }
}
