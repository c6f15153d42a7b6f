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
        Some((answer, what, todo)) => note_refused(sink, client_addr, answer, &what, todo).await,
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

/// For a request hyper refused: what it answered, what was wrong, and what to do; `None` for other errors.
fn refusal(error: &hyper::Error) -> Option<(&'static str, String, &'static str)> {
    if error.is_parse_too_large() {
        // hyper says which of its two limits in its message only.
        return Some(if error.to_string().contains("URI") {
            (
                "hyper (frametap's HTTP server) answered 414 URI Too Long",
                "its request target (path and query) is too long".to_owned(),
                "Shorten the URL (a query string carrying a large token?).",
            )
        } else {
            (
                "hyper (frametap's HTTP server) answered 431 Request Header Fields Too Large",
                format!(
                    "its request head is too large: more than {} header lines, or more than {} KiB",
                    super::MAX_HEADERS,
                    MAX_HEAD_BYTES / 1024
                ),
                SMALLER_HEAD,
            )
        });
    }
    if error.is_parse_version_h2() {
        return Some((
            "hyper (frametap's HTTP server) closed the connection without an answer",
            "it speaks HTTP/2 without negotiating it".to_owned(),
            "Connect with HTTP/1.1: a WebSocket upgrade is an HTTP/1.1 request.",
        ));
    }
    if error.is_parse() && error.to_string().contains("invalid URI") {
        // The banner's own placeholders, copied as they are (`/<path>`, `deploymentId=…`), read like this.
        return Some((
            "hyper (frametap's HTTP server) answered 400 Bad Request",
            "its request target (path and query) is not a valid URI: characters such as `<`, `>`, spaces or `…` \
             must be percent-encoded"
                .to_owned(),
            "Check the URL the client dials: a placeholder copied from the banner (`/<path>`, `deploymentId=…`) must \
             be replaced with the real path and query, e.g. /v1?deploymentId=<your deployment's id>.",
        ));
    }
    if error.is_parse() {
        return Some((
            "hyper (frametap's HTTP server) answered 400 Bad Request",
            format!("it is not an HTTP/1.1 request ({error})"),
            "Check what the client sends to this address: one speaking TLS (wss://, https://) where frametap \
             listens for plain ws:// reads like this.",
        ));
    }
    None
}
