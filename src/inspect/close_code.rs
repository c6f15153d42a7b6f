//! The `close-code` rule: what the first close frame's code says, and for a 1009 Message Too Big the message that
//! most likely went past the closer's size limit.

use super::analyzer::{ConnHistory, MessageFacts, RttSource};
use super::close::{cause, crossed_in_flight, fragment_words, human_ms, ms_between, Cause, Confidence};
use super::codes::{close_code_meaning, close_code_name, is_forbidden_on_wire};
use crate::event::{Close, Peer, Ts};

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
            let (confidence, message, evidence, culprit) = too_big(history, close.initiator);
            seq = culprit.or(seq);
            (confidence, message, evidence)
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

/// Below this many bytes a message that went past an endpoint's size limit is implausible: libraries' default
/// limits start at several KiB (Tomcat's text buffer 8 KiB, Jetty's and Netty's 64 KiB, Python websockets' 1 MiB,
/// tungstenite's 64 MiB), and an application that sets its own rarely goes below a kilobyte. A 1009 after nothing
/// bigger than this is only possibly about that message's size.
pub const SMALLEST_PLAUSIBLE_LIMIT: u64 = 1024;

/// The other side's message a 1009 from `closer` names as the one that most likely went past its size limit.
struct Culprit {
    seq: u64,
    ts: Ts,
    /// The message's size (so far, for a fragment of one), in bytes.
    len: u64,
    /// Its size in words (`70000 B`, or how the fragment stands in its message).
    size: String,
    /// What it is among the other side's frames (`the last and largest client frame before the close`).
    what: String,
    /// Why it is the one, when it is not simply the last and largest.
    evidence: Vec<String>,
    /// A larger message of the other side's went through before it: the limit is not on size alone.
    larger_went_through: bool,
}

/// The message of the other side's that most likely tripped `closer`'s limit. An endpoint checks each message as it
/// arrives and closes on the first one past its limit: that is the largest message the other side sent before the
/// close, unless the closer went on after it (an ordinary answer: it had accepted it); then the last one it sent,
/// the one the close came after. `None` when the other side sent no data frame.
fn culprit(history: &ConnHistory, closer: Peer) -> Option<Culprit> {
    let other = closer.other();
    let (last, largest) = (history.last_from(other)?, history.largest_from(other)?);
    let size = |len: u64, message: Option<(MessageFacts, bool)>| match message {
        Some((m, complete)) => fragment_words(&m, complete),
        None => format!("{len} B"),
    };
    let last_size = size(last.shown_len(), last.message.map(|m| (m, last.fin)));
    let of_last = |what: String, evidence: Vec<String>| Culprit {
        seq: last.seq,
        ts: last.ts,
        len: last.shown_len(),
        size: last_size.clone(),
        what,
        larger_went_through: !evidence.is_empty(),
        evidence,
    };
    if largest.seq == last.seq || largest.len <= last.shown_len() {
        return Some(of_last(format!("the last and largest {} frame before the close", other.as_str()), Vec::new()));
    }
    if let Some((answer, _)) = history.went_on_after(closer, largest.seq) {
        let went_through = format!(
            "its larger {} frame #{} ({}) went through: the {} sent frame #{answer} after it, so the limit is not on size alone",
            other.as_str(),
            largest.seq,
            size(largest.len, largest.message),
            closer.as_str()
        );
        return Some(of_last(format!("the last {} frame before the close", other.as_str()), vec![went_through]));
    }
    let later = format!(
        "the {}'s later frames are smaller (the last, #{}, {last_size}): sent before the close reached it",
        other.as_str(),
        last.seq,
    );
    let after = match history.last_from(closer).filter(|c| c.seq > largest.seq) {
        Some(c) => format!("only answered with #{} (an error or an announced end)", c.seq),
        None => "sent nothing".to_owned(),
    };
    Some(Culprit {
        seq: largest.seq,
        ts: largest.ts,
        len: largest.len,
        size: size(largest.len, largest.message),
        what: format!("the largest {} frame, after which the {} {after}", other.as_str(), closer.as_str()),
        evidence: vec![later],
        larger_went_through: false,
    })
}

/// The client frame a server's 1009 names, when the close came within one upstream round trip of it that is only an
/// upper bound (not the kernel's: the server's own processing time is in it): the server's statement that a message
/// was too big, and this one the likeliest, make the close a fast reply to it rather than a crossing, so the timing
/// rules read it as `in-response`, as this rule does.
pub(crate) fn too_big_fast_reply(history: &ConnHistory, close: &Close) -> Option<u64> {
    let server_1009 = close.code == Some(1009) && close.closer() == Some(Peer::Server) && !close.initiator_unknown;
    let culprit = culprit(history, Peer::Server).filter(|_| server_1009)?;
    let rtt = history.upstream_rtt.filter(|rtt| rtt.source != RttSource::Kernel)?;
    crossed_in_flight(Some(rtt), ms_between(close_at(history, culprit.ts), culprit.ts)).then_some(culprit.seq)
}

/// When the first close frame came (the culprit's own time when there was none).
fn close_at(history: &ConnHistory, otherwise: Ts) -> Ts {
    history.first_close.as_ref().map_or(otherwise, |c| c.ts)
}

/// A 1009 Message Too Big from `closer`: how sure the message of the other side's it names ([`culprit`]) went past
/// the closer's limit, the cause's message and evidence, and that message's seq (none when it cannot have).
/// Likely, unless the message is under [`SMALLEST_PLAUSIBLE_LIMIT`] (a limit that small is unusual), a larger one
/// went through before it (the limit is not on size alone), or a server's close came within one round trip of it as
/// the kernel measures it (it was still on its way: see `crossed-in-flight`); possible then.
fn too_big(history: &ConnHistory, closer: Peer) -> (Confidence, String, Vec<String>, Option<u64>) {
    let other = closer.other();
    let said = format!("the {} closed with 1009 Message Too Big", closer.as_str());
    let Some(Culprit { seq, ts, len, size, what, mut evidence, larger_went_through }) = culprit(history, closer) else {
        let none = format!(
            "{said}, but the {} sent no data frame before the close: no message of its can have gone past a limit",
            other.as_str()
        );
        return (Confidence::Possible, none, Vec::new(), None);
    };
    let gap = ms_between(close_at(history, ts), ts);
    let preceding = match history.preceding() {
        Some(p) if p.seq == seq => " (the preceding frame)".to_owned(),
        Some(p) => format!(" (the preceding frame is the {}'s #{}, sent after it)", p.from.as_str(), p.seq),
        None => String::new(),
    };
    evidence.insert(0, format!("{} frame #{seq}: {size}, {} before the close", other.as_str(), human_ms(gap)));
    let named = format!("{said}: {} frame #{seq} ({size}), {what}{preceding}", other.as_str());
    let rtt = history.upstream_rtt.filter(|_| closer == Peer::Server && crossed_in_flight(history.upstream_rtt, gap));
    match rtt {
        Some(rtt) if rtt.source == RttSource::Kernel => {
            evidence.push(format!(
                "the close came {} after it, within one upstream round trip ({}, the kernel's measure: network delay only): the server sent it before frame #{seq} reached it",
                human_ms(gap),
                human_ms(rtt.ms)
            ));
            let message = format!(
                "{named}, was still on its way when the server closed, so it is not what went past its limit: an earlier message was, or the limit is not on size alone"
            );
            return (Confidence::Possible, message, evidence, None);
        }
        Some(rtt) => evidence.push(format!(
            "the close came {} after it, within one upstream round trip ({}, {}), but that round trip is an upper bound holding the server's own processing time: read as a fast reply to it, not a close that crossed it",
            human_ms(gap),
            human_ms(rtt.ms),
            rtt.source.short_words()
        )),
        None => {}
    }
    if len < SMALLEST_PLAUSIBLE_LIMIT {
        let bigger = match history.largest_from(other) {
            Some(largest) if largest.len > len => {
                format!("the {}'s largest, #{}, went through", other.as_str(), largest.seq)
            }
            _ => format!("nothing the {} sent before the close was bigger", other.as_str()),
        };
        evidence.push(format!(
            "frame #{seq}'s message is only {len} B and {bigger}: a size limit under {} KiB would be unusual (libraries' defaults start at several KiB), so the {} possibly means something else by 1009 (a limit on what it sends itself, or on several messages together)",
            SMALLEST_PLAUSIBLE_LIMIT / 1024,
            closer.as_str()
        ));
        let message = format!(
            "{named}, possibly went past its size limit, though at {len} B that limit would be unusually small"
        );
        return (Confidence::Possible, message, evidence, Some(seq));
    }
    if larger_went_through {
        let message = format!(
            "{named}, possibly went past its limit, which a larger message got through: not a limit on size alone"
        );
        return (Confidence::Possible, message, evidence, Some(seq));
    }
    (Confidence::Likely, format!("{named}, most likely went past its size limit"), evidence, Some(seq))
}
