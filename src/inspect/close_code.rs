//! The `close-code` rule: what the first close frame's code says, and for a 1009 Message Too Big the message that
//! most likely went past the closer's size limit.

use super::analyzer::{ConnHistory, MessageFacts};
use super::close::{cause, fragment_words, human_ms, ms_between, Cause, Confidence};
use super::codes::{close_code_meaning, close_code_name, is_forbidden_on_wire};
use crate::event::{Close, Peer};

/// What the close code itself says.
pub(crate) fn close_code(history: &ConnHistory, close: &Close, causes: &mut Vec<Cause>) {
    let Some(code) = close.code else { return };
    // frametap's own close codes are explained, with the relay's reason, by `proxy-closed`.
    if close.closer() == Some(Peer::Proxy) {
        return;
    }
    // A server's rate-limit code is explained, with its reason, by `rate-limit`.
    if close.closer() == Some(Peer::Server) && history.profile.rate_limit_close_code(code).is_some() {
        return;
    }
    // The HAR said the code but not who sent it: say so, and read it as the server's only as a possibility.
    if close.initiator_unknown {
        let meaning = match history.profile.app_close_code(code) {
            Some((_, meaning)) => format!("; if the server sent it: {meaning}"),
            None => format!(": {}", close_code_meaning(code)),
        };
        let evidence = close.reason.iter().filter(|r| !r.is_empty()).map(|r| format!("reason {r:?}")).collect();
        let message = format!(
            "the connection was closed with {code} {}, but the recording does not say which side closed{meaning}",
            close_code_name(code)
        );
        causes.push(cause("close-code", Confidence::Possible, message, evidence, None));
        return;
    }
    let closer = close.initiator.as_str();
    // The frame the cause points at: the close frame, or for a 1009 the frame that most likely tripped it.
    let mut seq = history.first_close.as_ref().map(|c| c.seq);
    let (confidence, message, evidence): (Confidence, String, Vec<String>) = match code {
        1000 => return,
        1009 => {
            let (message, evidence, culprit) = too_big(history, close.initiator);
            seq = culprit.or(seq);
            (Confidence::Likely, message, evidence)
        }
        // A 1002 before any server frame: what the client could not accept was the upgrade's answer.
        1002 if close.closer() == Some(Peer::Client)
            && !history.handshake_problems.is_empty()
            && history.last_from(Peer::Server).is_none() =>
        {
            (
                Confidence::Likely,
                "the client closed with 1002 Protocol Error before any server frame: the upgrade's answer is what it could not accept (see handshake-mismatch)".to_string(),
                vec![],
            )
        }
        // Browsers send 1001 themselves when a page unloads; a script's close() cannot send it.
        1001 if close.closer() == Some(Peer::Client) => (
            Confidence::Likely,
            "the client closed with 1001 Going Away: its page was closed, reloaded or navigated away (browsers send 1001 when a page unloads; a script's close() cannot), or a client that is not a browser shut down".to_string(),
            vec![],
        ),
        // The code's registered meaning names both sides' reasons; a server's 1001 is about the server.
        1001 if close.closer() == Some(Peer::Server) => (
            Confidence::Likely,
            "the server closed with 1001 Going Away: the server (or a proxy or load balancer in front of it) is going away, shutting down or restarting; not a reaction to the client's frames, and reconnecting later is the usual answer".to_string(),
            vec![],
        ),
        1004..=1006 | 1015 => (
            Confidence::Certain,
            format!("the {closer} sent {code}, which RFC 6455 forbids on the wire: a broken WebSocket implementation"),
            vec![],
        ),
        c if is_forbidden_on_wire(c) => {
            (Confidence::Certain, format!("the {closer} sent close code {c}, which is not valid on the wire"), vec![])
        }
        // A protocol's own reading of an application code is the server's vocabulary, not the client's.
        3000..=4999 if close.closer() == Some(Peer::Server) && history.profile.app_close_code(code).is_some() => {
            let (confidence, meaning) =
                history.profile.app_close_code(code).unwrap_or((Confidence::Possible, String::new()));
            (confidence, format!("the {closer} closed with {meaning}"), vec![])
        }
        3000..=4999 => (
            Confidence::Possible,
            format!("the {closer} closed with application code {code}; its meaning is defined by the application"),
            vec![],
        ),
        _ => (
            Confidence::Likely,
            format!("the {closer} closed with {code} {}: {}", close_code_name(code), close_code_meaning(code)),
            vec![],
        ),
    };
    let mut evidence = evidence;
    if let Some(reason) = close.reason.as_ref().filter(|r| !r.is_empty()) {
        evidence.push(format!("reason {reason:?}"));
    }
    causes.push(cause("close-code", confidence, message, evidence, seq));
}

/// A 1009 Message Too Big from `closer`: the message of the other side's that most likely tripped its limit, as
/// (message, evidence, its seq). An endpoint checks each message as it arrives and closes on the first one past its
/// limit: that is the largest message the other side sent before the close, unless the closer went on after it
/// (sent a data frame: it had accepted it); then the last one it sent, the one the close came after.
fn too_big(history: &ConnHistory, closer: Peer) -> (String, Vec<String>, Option<u64>) {
    let other = closer.other();
    let said = format!("the {} closed with 1009 Message Too Big", closer.as_str());
    let (Some(last), Some(largest)) = (history.last_from(other), history.largest_from(other)) else {
        let none = format!("{said}, but the {} sent no data frame before the close", other.as_str());
        return (none, Vec::new(), None);
    };
    let close_at = history.first_close.as_ref().map_or(last.ts, |c| c.ts);
    let size = |len: u64, message: Option<(MessageFacts, bool)>| match message {
        Some((m, complete)) => fragment_words(&m, complete),
        None => format!("{len} B"),
    };
    // An ordinary answer after it (not an error answer or an announced end) says the closer had accepted it.
    let answered_after =
        history.last_from(closer).filter(|c| c.seq > largest.seq && !history.is_signal(c.seq)).map(|c| c.seq);
    let last_size = size(last.shown_len(), last.message.map(|m| (m, last.fin)));
    let mut evidence = Vec::new();
    let (seq, ts, size, what) = if largest.seq == last.seq || largest.len <= last.shown_len() {
        (last.seq, last.ts, last_size, format!("the last and largest {} frame before the close", other.as_str()))
    } else if let Some(answer) = answered_after {
        evidence.push(format!(
            "its larger {} frame #{} ({}) went through: the {} sent frame #{answer} after it, so the limit is not on size alone",
            other.as_str(),
            largest.seq,
            size(largest.len, largest.message),
            closer.as_str()
        ));
        (last.seq, last.ts, last_size, format!("the last {} frame before the close", other.as_str()))
    } else {
        evidence.push(format!(
            "the {}'s later frames are smaller (the last, #{}, {last_size}): sent before the close reached it",
            other.as_str(),
            last.seq,
        ));
        let after = match history.last_from(closer).filter(|c| c.seq > largest.seq) {
            Some(c) => format!("only answered with #{} (an error or an announced end)", c.seq),
            None => "sent nothing".to_owned(),
        };
        let what = format!("the largest {} frame, after which the {} {after}", other.as_str(), closer.as_str());
        (largest.seq, largest.ts, size(largest.len, largest.message), what)
    };
    let preceding = match history.preceding() {
        Some(p) if p.seq == seq => " (the preceding frame)".to_owned(),
        Some(p) => format!(" (the preceding frame is the {}'s #{}, sent after it)", p.from.as_str(), p.seq),
        None => String::new(),
    };
    evidence.insert(
        0,
        format!("{} frame #{seq}: {size}, {} before the close", other.as_str(), human_ms(ms_between(close_at, ts))),
    );
    let message = format!(
        "{said}: {} frame #{seq} ({size}), {what}{preceding}, most likely went past its size limit",
        other.as_str()
    );
    (message, evidence, Some(seq))
}
