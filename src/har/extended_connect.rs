//! WebSockets over HTTP/2 and HTTP/3 in a HAR: they open with an extended CONNECT answered 2xx (RFC 8441, RFC 9220),
//! not with a 101, and Chrome records that answer (and pseudo-headers such as `:status`) as it came.

use super::document::Entry;
use super::import::headers;
use crate::event::Headers;

/// True when a WebSocket entry's 2xx answer (`status`) opened its WebSocket: the request was an extended CONNECT
/// (method CONNECT, a `:protocol` pseudo-header, or HTTP/2 or HTTP/3), or messages flowed, which only an open
/// WebSocket carries. Such an entry is imported as the 101 an HTTP/1.1 upgrade gets, so the analysis and `replay
/// serve` read it as opened, not as an upgrade refused with 200.
pub(super) fn opened_without_101(entry: &Entry, status: u16) -> bool {
    if !(200..300).contains(&status) {
        return false;
    }
    let connect = entry.request.method.as_str().is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
    let protocol = headers(&entry.request.headers).iter().any(|(name, _)| name.eq_ignore_ascii_case(":protocol"));
    let h2_or_h3 = [&entry.request.http_version, &entry.response.http_version].iter().any(|version| {
        let version = version.as_str().unwrap_or("").to_ascii_lowercase();
        matches!(version.as_str(), "h2" | "h3" | "http/2" | "http/2.0" | "http/3" | "http/3.0")
    });
    let messages = entry.messages.items().iter().any(|m| m.kind == "send" || m.kind == "receive");
    connect || protocol || h2_or_h3 || messages
}

/// The headers of an answer without HTTP/2 pseudo-headers (`:status`): they are no header an HTTP/1.1 answer can
/// carry, and `replay serve` sends the recorded ones again.
pub(super) fn without_pseudo_headers(list: Headers) -> Headers {
    list.into_iter().filter(|(name, _)| !name.starts_with(':')).collect()
}
