//! The rules about what broke the WebSocket protocol itself: a frame that breaks RFC 6455 (and how its
//! receiver reacted: failed the connection over it, or went on), and an upgrade answer the client could not
//! accept (a subprotocol it did not ask for).

use super::analyzer::ConnHistory;
use super::close::{cause, ms_between, Cause, Confidence, SOON_MS};
use super::codes::{close_code_name, is_forbidden_on_wire};
use super::rfc6455::Violation;
use crate::event::{Close, Peer};

/// How the receiver of a frame that broke RFC 6455 reacted to it.
enum Reaction {
    /// It failed the connection over it: how that showed, as a phrase; `by_code`: its close code says so (1002 or
    /// 1007), rather than only the timing.
    Failed { how: String, by_code: bool },
    /// It went on sending data after it: it tolerated the frame.
    WentOn,
    /// Nothing says.
    Unknown,
}

fn reaction(history: &ConnHistory, close: &Close, violation: &Violation) -> Reaction {
    let receiver = violation.from.other();
    // Violations are kept up to the first close frame, so the receiver's close frame came after this one.
    if let Some(code @ (1002 | 1007)) = receiver.endpoint().and_then(|side| history.close_codes[side]) {
        let how = format!(
            "the {} answered with close code {code} {}: it failed the connection for that",
            receiver.as_str(),
            close_code_name(code)
        );
        return Reaction::Failed { how, by_code: true };
    }
    let receiver_ended = close.closer() == Some(receiver) || close.dropped_by == Some(receiver);
    // Failing the connection is the receiver's next move: no data from it after the frame, and soon.
    if history.last_from(receiver).is_some_and(|last| last.seq > violation.seq) {
        return Reaction::WentOn;
    }
    let close_at = history.first_close.as_ref().map_or(close.ts, |c| c.ts);
    if receiver_ended && ms_between(close_at, violation.ts) <= SOON_MS {
        let how = format!("the {} ended the connection next, likely for that", receiver.as_str());
        return Reaction::Failed { how, by_code: false };
    }
    Reaction::Unknown
}

/// The violation by `sender` (the client or the server) that the other side failed the connection over: its
/// seq, and whether the close code says so (else only the timing does).
pub(crate) fn failed_over(history: &ConnHistory, close: &Close, sender: Peer) -> Option<(u64, bool)> {
    let violation = history.violations[sender.endpoint()?].as_ref()?;
    match reaction(history, close, violation) {
        Reaction::Failed { by_code, .. } => Some((violation.seq, by_code)),
        _ => None,
    }
}

/// A handshake the client should have failed (a subprotocol it did not ask for, or none where it asked for
/// some): when it then ended the connection without sending a data frame, that is why.
pub(crate) fn handshake_mismatch(history: &ConnHistory, close: &Close, causes: &mut Vec<Cause>) {
    if history.handshake_problems.is_empty() {
        return;
    }
    let client_ended = close.closer() == Some(Peer::Client) || close.dropped_by == Some(Peer::Client);
    let client_sent_data = history.last_from(Peer::Client).is_some();
    let (confidence, outcome) = match accepted_then_closed(history) {
        _ if !client_ended || client_sent_data => (
            Confidence::Possible,
            "; a browser fails such a connection at once (the page sees 1006), but this client went on".to_owned(),
        ),
        Some(code) => (
            Confidence::Possible,
            format!(
                "; the client closed ({code}) before sending anything, but with a close frame, so it had accepted the \
                 answer (a client that fails the handshake drops TCP without one; browsers do, and the page sees 1006): \
                 possibly over it (a client that checks the chosen subprotocol itself), possibly for its own reasons"
            ),
        ),
        None => (
            Confidence::Likely,
            "; the client ended the connection before sending anything, likely for that (browsers fail such a \
             handshake at once: the page sees 1006)"
                .to_owned(),
        ),
    };
    causes.push(cause(
        "handshake-mismatch",
        confidence,
        format!("the upgrade's answer breaks the WebSocket handshake{outcome}"),
        history.handshake_problems.clone(),
        None,
    ));
}

/// The code of the client's close frame, in words, when the client sent one that does not say the protocol broke
/// (1002): a client that sends a close frame had opened the connection, so it had accepted the handshake's answer.
pub(crate) fn accepted_then_closed(history: &ConnHistory) -> Option<String> {
    if !history.closes_from[0] {
        return None;
    }
    match history.close_codes[0] {
        Some(1002) => None,
        Some(code) => Some(code.to_string()),
        None => Some("no code".to_owned()),
    }
}

/// A frame that broke RFC 6455 before the close: its receiver must fail the connection.
pub(crate) fn rfc6455_violations(history: &ConnHistory, close: &Close, causes: &mut Vec<Cause>) {
    let first_close = history.first_close.as_ref();
    for violation in history.violations.iter().flatten() {
        // A forbidden code in the first close frame is the `close-code` rule's (certain) finding already.
        if first_close.is_some_and(|c| c.seq == violation.seq) && close.code.is_some_and(is_forbidden_on_wire) {
            continue;
        }
        let receiver = violation.from.other();
        let (confidence, outcome) = match reaction(history, close, violation) {
            Reaction::Failed { how, .. } => (Confidence::Likely, format!("; {how}")),
            Reaction::WentOn => (Confidence::Possible, format!("; the {} went on sending after it", receiver.as_str())),
            Reaction::Unknown => (Confidence::Possible, String::new()),
        };
        causes.push(cause(
            "ws-violation",
            confidence,
            format!(
                "{} frame #{} breaks the WebSocket protocol (RFC 6455): {}{outcome}",
                violation.from.as_str(),
                violation.seq,
                violation.what
            ),
            [format!(
                "RFC 6455 has the {} fail the connection on such a frame (close with {} {}, or drop TCP); frametap passed the frame on as sent",
                receiver.as_str(),
                violation.code,
                close_code_name(violation.code)
            )]
            .into_iter()
            .chain(history.unoffered_extensions.clone().filter(|_| violation.from == Peer::Server && violation.rsv_bits))
            .collect(),
            Some(violation.seq),
        ));
    }
}
