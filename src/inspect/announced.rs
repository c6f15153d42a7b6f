//! The `server-announced` rule of the close analysis: what the server said about the end before the close, and
//! whether the close followed from it (docs/diagnosis.md).

use super::analyzer::ConnHistory;
use super::close::{cause, crossed_in_flight, human_ms, ms_between, Cause, Confidence, REACTION_MS, SOON_MS};
use crate::event::{Close, Peer, Ts};
use crate::profile::Signal;

/// The server said it was ending the session or connection (profile signals). The last such frame before the
/// close explains a close by the server made within [`SOON_MS`] of it, unless the server went on answering
/// normally after it (see [`ANNOUNCED_CLOSE_MS`]); a close by
/// the client only when the client reacted to news that the session is over (closed within [`REACTION_MS`],
/// sending nothing in between). Earlier announcements, which the connection outlived, are only possible
/// causes. See [`after_announcement`].
pub(crate) fn announced(history: &ConnHistory, close: &Close, close_at: Ts, causes: &mut Vec<Cause>) {
    let announcements = history.signals.iter().rev().filter_map(|at| match &at.signal {
        Signal::Announced { what, message, session_over } => Some((at, what, message, *session_over)),
        _ => None,
    });
    for (n, (at, what, message, session_over)) in announcements.enumerate() {
        let gap = ms_between(close_at, at.ts);
        let mut evidence = vec![format!("frame #{} ({what}), {} before the close", at.seq, human_ms(gap))];
        let (confidence, message) = if n > 0 {
            evidence.push("a later frame announced an end too, and the connection went on after this one".into());
            (Confidence::Possible, message.clone())
        } else {
            let (confidence, tail) = after_announcement(history, close, close_at, (at.seq, at.ts), session_over);
            (confidence, format!("{message}{tail}"))
        };
        if n == 0 && client_dropped(close) {
            evidence.push("then the client dropped TCP itself, which an announcement does not make a client do".into());
        }
        causes.push(cause("server-announced", confidence, message, evidence, Some(at.seq)));
    }
}

/// The announcement the server closed right over: the last one, when `server-announced` finds the server's close
/// likely followed from it (within [`ANNOUNCED_CLOSE_MS`], nothing served after it): its frame and what it was. A
/// rate limit or a JWT expiry before it is then only a possible reason: the server said why it ended.
pub(crate) fn closed_over_announcement(history: &ConnHistory, close: &Close, close_at: Ts) -> Option<(u64, String)> {
    if close.closer() != Some(Peer::Server) {
        return None;
    }
    let (at, what, session_over) = history.signals.iter().rev().find_map(|at| match &at.signal {
        Signal::Announced { what, session_over, .. } => Some((at, what, *session_over)),
        _ => None,
    })?;
    let (confidence, _) = after_announcement(history, close, close_at, (at.seq, at.ts), session_over);
    (confidence == Confidence::Likely).then(|| (at.seq, what.clone()))
}

/// The evidence a cause demoted by [`closed_over_announcement`] carries.
pub(crate) fn announced_instead(seq: u64, what: &str) -> String {
    format!(
        "the server then announced the end itself (frame #{seq}, {what}) and closed right after it (see \
         server-announced): that is the likelier reason"
    )
}

/// A server that announces the end of a session or connection closes it right after: an announcement explains a
/// server close made within this long after it ([`SOON_MS`], 10 s: ten times [`REACTION_MS`], room for a busy
/// server's queues, and shorter than the 15 s between the Genesys mobile SDK's Ping frames and the 30 s of its
/// `echo` heartbeat). A server that lets the connection stand longer, sending nothing, did not close it over
/// the announcement then: the close is only possibly its consequence (an idle or inactivity timeout, a
/// connection lifetime, a restart are as good explanations), as a client's close past [`REACTION_MS`] is.
pub const ANNOUNCED_CLOSE_MS: f64 = SOON_MS;

/// How sure the last announcement (frame #`seq` at `at`) explains the close (at `close_at`), and what to add to its
/// message to say why.
fn after_announcement(
    history: &ConnHistory,
    close: &Close,
    close_at: Ts,
    (seq, at): (u64, Ts),
    session_over: bool,
) -> (Confidence, String) {
    let gap = ms_between(close_at, at);
    let later = human_ms(gap);
    let not_this = "; not why this connection closed";
    match close.closer() {
        None => (Confidence::Possible, "; the recording does not say who closed the connection".to_owned()),
        Some(Peer::Proxy) => {
            (Confidence::Possible, format!("{not_this}: frametap itself ended this connection (see proxy-closed)"))
        }
        Some(Peer::Client) if client_dropped(close) => (Confidence::Possible, String::new()),
        Some(Peer::Client) => {
            if let Some(sent) = history.last_from(Peer::Client).filter(|c| c.seq > seq) {
                return (
                    Confidence::Possible,
                    format!(
                        "{not_this}: the client went on after it (it sent frame #{}) and closed {later} later, so it likely closed for its own reasons",
                        sent.seq
                    ),
                );
            }
            if session_over && gap <= REACTION_MS {
                return (
                    Confidence::Likely,
                    format!("; the client closed {later} after it, sending nothing else: it likely closed in reaction to it"),
                );
            }
            let tail = match close.code {
                Some(1001) => format!(
                    "{not_this}: the client closed it itself {later} later with 1001 Going Away (its page was closed, reloaded or navigated away)"
                ),
                _ if !session_over => format!(
                    "{not_this}: the session stays open, read-only, after it, and the client closed the connection itself {later} later"
                ),
                _ => format!(
                    "; the client closed {later} after it, too long after it for a reaction: a person or the client's own logic chose that moment, possibly because of it"
                ),
            };
            (Confidence::Possible, tail)
        }
        Some(Peer::Server) => match (
            history.went_on_after(Peer::Server, seq),
            client_frame_that_reached_the_server(history, close_at, seq),
        ) {
            (Some((answer, _)), _) => (
                Confidence::Possible,
                format!(
                    "; the server went on answering after it (frame #{answer}), so it did not end the connection over it then"
                ),
            ),
            // The server let the client's next frame reach it, then ended the connection without answering it: it
            // did not close right over its announcement, and that frame is as good a reason (`in-response`).
            (None, Some((sent, after))) => {
                let verb = if history.first_close.is_some() { "closed" } else { "dropped TCP" };
                (
                    Confidence::Possible,
                    format!(
                        "; the client sent frame #{sent} after it, and the server {verb} {} after that frame without answering it, not right after its announcement: it possibly closed over that frame instead (see in-response)",
                        human_ms(after)
                    ),
                )
            }
            (None, None) if gap > ANNOUNCED_CLOSE_MS => {
                let pinged = history
                    .last_control
                    .filter(|t| *t > at)
                    .map_or("", |_| ", though pings or pongs still flowed");
                (
                    Confidence::Possible,
                    format!(
                        "; the server closed {later} after it, with no data frame in between{pinged}: a server ends the connection within {} of announcing the end, so this close possibly followed from it, possibly not (an idle timeout, a connection lifetime, a restart)",
                        human_ms(ANNOUNCED_CLOSE_MS)
                    ),
                )
            }
            (None, None) => (Confidence::Likely, String::new()),
        },
    }
}

/// The client's last data frame after the announcement (frame #`seq`) and how long before the close (at
/// `close_at`) it came, when the close did not cross it ([`crossed_in_flight`]): the frame reached the server
/// before the server closed (a round trip too short to tell counts as reached).
fn client_frame_that_reached_the_server(history: &ConnHistory, close_at: Ts, seq: u64) -> Option<(u64, f64)> {
    let sent = history.last_from(Peer::Client).filter(|c| c.seq > seq)?;
    let before_close = ms_between(close_at, sent.ts);
    (!crossed_in_flight(history.upstream_rtt, before_close)).then_some((sent.seq, before_close))
}

/// The client ended the connection by dropping TCP (its process or network went away), with no close frame.
pub(crate) fn client_dropped(close: &Close) -> bool {
    close.closer() == Some(Peer::Client) && !close.clean && close.code.is_none()
}
