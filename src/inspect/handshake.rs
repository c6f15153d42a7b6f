//! What an accepted upgrade's headers break: a subprotocol the client did not offer, which RFC 6455 §4.1 has the
//! client fail at once, or none where it offered some, which the WHATWG WebSocket standard has a browser fail (the
//! page sees 1006 right after the handshake; RFC 6455 lets other clients go on); and an extension the upstream accepted though nobody offered it (frametap does not pass that
//! header on, but the frames it compresses break the connection later).

use crate::event::{Headers, Open};

/// The subprotocol problems of `open`'s accepted upgrade, each a phrase (empty for a refused upgrade, or
/// when all is well): the client sees these in the 101 frametap relays and fails the connection.
pub fn problems(open: &Open) -> Vec<String> {
    let Some(response) = accepted(open) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let offered = values(&open.request.headers, "sec-websocket-protocol");
    let chosen = values(&response.headers, "sec-websocket-protocol");
    let offered_words = match offered.as_slice() {
        [] => "none".to_string(),
        list => list.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", "),
    };
    match chosen.as_slice() {
        [] if !offered.is_empty() => problems.push(format!(
            "the client offered the subprotocols {offered_words} and the upstream chose none (its 101 has no Sec-WebSocket-Protocol)"
        )),
        [] => {}
        [one] if offered.contains(one) => {}
        [one] => problems.push(format!(
            "the upstream chose the subprotocol {one:?}, which the client did not offer (it offered {offered_words})"
        )),
        several => problems.push(format!(
            "the upstream chose {} subprotocols ({}); a 101 names at most one",
            several.len(),
            several.join(", ")
        )),
    }
    problems
}

/// The extensions the upstream's 101 accepted though none was offered to it, as a phrase.
pub fn unoffered_extensions(open: &Open) -> Option<String> {
    // What the upstream was offered: frametap's own request when it made one (it removes the client's offer),
    // else the client's (an imported recording).
    let asked = open.upstream_request.as_ref().map_or(&open.request.headers, |r| &r.headers);
    let accepted = values(&accepted(open)?.headers, "sec-websocket-extensions");
    (!accepted.is_empty() && values(asked, "sec-websocket-extensions").is_empty()).then(|| {
        format!("the upstream's 101 accepted the extension {} though none was offered to it", accepted.join(", "))
    })
}

/// The 101 that opened `open`'s WebSocket (not one recorded with an `error`: a 101 that opened none).
pub(crate) fn accepted(open: &Open) -> Option<&crate::event::HttpResponse> {
    open.relayed_response().filter(|r| r.status == 101)
}

/// The comma-separated values of every `name` header, trimmed, empty ones left out.
pub fn values(headers: &Headers, name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{HttpRequest, HttpResponse, Ts};

    fn open(request: &[(&str, &str)], upstream_request: Option<&[(&str, &str)]>, response: &[(&str, &str)]) -> Open {
        let headers = |list: &[(&str, &str)]| list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        Open {
            upstream_request: upstream_request.map(|h| HttpRequest {
                method: "GET".into(),
                path: "/".into(),
                headers: headers(h),
            }),
            response: Some(HttpResponse { status: 101, headers: headers(response), body: None, body_base64: None }),
            ..Open::new(1, Ts::now(), HttpRequest { method: "GET".into(), path: "/".into(), headers: headers(request) })
        }
    }

    #[test]
    fn subprotocols_must_be_one_the_client_offered() {
        let offered = [("Sec-WebSocket-Protocol", "v1.chat, v2.chat")];
        assert!(problems(&open(&offered, None, &[("sec-websocket-protocol", "v2.chat")])).is_empty());
        assert!(problems(&open(&[], None, &[])).is_empty());
        let none = problems(&open(&offered, None, &[]));
        assert_eq!(none.len(), 1);
        assert!(none[0].contains("\"v1.chat\", \"v2.chat\"") && none[0].contains("chose none"), "{none:?}");
        let other = problems(&open(&offered, None, &[("Sec-WebSocket-Protocol", "zzz")]));
        assert!(other[0].contains("\"zzz\", which the client did not offer"), "{other:?}");
        let unasked = problems(&open(&[], None, &[("Sec-WebSocket-Protocol", "zzz")]));
        assert!(unasked[0].contains("it offered none"), "{unasked:?}");
    }

    #[test]
    fn an_extension_counts_as_offered_only_on_the_leg_the_upstream_saw() {
        let deflate = [("Sec-WebSocket-Extensions", "permessage-deflate")];
        // frametap removed the client's offer: the upstream was offered nothing.
        let removed = unoffered_extensions(&open(&deflate, Some(&[]), &deflate)).unwrap();
        assert!(removed.contains("accepted the extension permessage-deflate though none was offered"), "{removed}");
        // An imported recording has no upstream request: the client's offer is what the server saw.
        assert_eq!(unoffered_extensions(&open(&deflate, None, &deflate)), None);
        assert_eq!(unoffered_extensions(&open(&[], Some(&[]), &[])), None);
    }
}
