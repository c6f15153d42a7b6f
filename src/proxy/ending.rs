//! How a relayed connection ended: what the relay saw of the close handshake and of each side's TCP end, and the
//! `close` record it makes of that (who closed first, the code, whether it was clean, the `detail` in words).

use crate::event::{Close, ConnId, Peer, Ts};
use std::time::{Duration, Instant};

/// What cut a shutdown's close wait short, in a `close` record's detail.
pub const CUT_SHORT: &str = "a second Ctrl-C or SIGTERM stopped frametap";

#[derive(Default)]
pub(super) struct EndState {
    /// The first close frame: who sent it, its code and reason.
    pub(super) first_close: Option<(Peer, Option<u16>, Option<String>)>,
    pub(super) close_from_client: bool,
    pub(super) close_from_server: bool,
    /// A close frame from this side was written to the other side (or was not to be relayed).
    pub(super) delivered_from_client: bool,
    pub(super) delivered_from_server: bool,
    /// frametap wrote a close frame of its own to this side (1009, 1001 at shutdown).
    pub(super) proxy_closed_client: bool,
    pub(super) proxy_closed_server: bool,
    /// A side that ended TCP without a close frame, and how.
    pub(super) drop: Option<(Peer, String)>,
    /// The first side that ended TCP right after its close frame, before the close handshake completed
    /// (as a browser does when it fails a connection): what the other side saw before it went away.
    pub(super) left_early: Option<Peer>,
    pub(super) timed_out: bool,
    /// A second Ctrl-C or SIGTERM ended the shutdown's wait for this connection's close handshake.
    pub(super) cut_short: bool,
    /// Why frametap sent a close frame of its own (the first reason), for the `close` record's detail.
    pub(super) proxy_reason: Option<String>,
}

impl EndState {
    pub(super) fn handshake_done(&self) -> bool {
        self.close_from_client && self.close_from_server
    }

    /// The `close` record of the connection this state followed: who closed first, with what, whether the close
    /// handshake completed, and how it ended in words (`detail`).
    pub(super) fn close_record(&self, conn: ConnId, opened: Instant, close_timeout: Duration) -> Close {
        let (initiator, code, reason) = match (&self.first_close, &self.drop) {
            (Some((peer, code, reason)), _) => (*peer, *code, reason.clone()),
            (None, Some((peer, _))) => (*peer, None, None),
            (None, None) => (Peer::Proxy, None, None),
        };
        let secs = close_timeout.as_secs_f64();
        let detail = match (&self.drop, self.timed_out, self.cut_short) {
            (Some((_, how)), _, _) => Some(how.clone()),
            (None, _, true) if self.handshake_done() => Some(format!(
                "the close handshake completed, but a side kept its TCP connection open; {CUT_SHORT}, which closed it at once"
            )),
            (None, _, true) => Some(format!(
                "{CUT_SHORT} before the close handshake finished; frametap closed both TCP connections at once"
            )),
            (None, true, false) if self.handshake_done() => Some(format!(
                "the close handshake completed, but a side kept its TCP connection open; frametap closed it after {secs:.1} s"
            )),
            (None, true, false) => Some(format!(
                "the close handshake did not finish within {secs:.1} s; frametap closed both TCP connections"
            )),
            (None, false, false) => None,
        };
        // What the other side saw first: the early leaver's end of TCP (unless that side is the one that dropped).
        let early = self.left_early.filter(|early| self.drop.as_ref().is_none_or(|(by, _)| by != early));
        let detail = match (early, detail) {
            (Some(early), Some(how)) => Some(format!(
                "the {} ended its TCP connection right after its close frame, without waiting for the answer (as a browser does when it fails a connection); then {how}",
                early.as_str()
            )),
            (_, detail) => detail,
        };
        // frametap's own close comes first in the detail only when it was the first close frame: its reason.
        let detail = match (&self.proxy_reason, initiator) {
            (Some(why), Peer::Proxy) => Some(match detail {
                Some(how) => format!("{why}; then {how}"),
                None => why.clone(),
            }),
            _ => detail,
        };
        Close {
            conn,
            ts: Ts::now(),
            initiator,
            initiator_unknown: false,
            code,
            reason,
            clean: self.first_close.is_some() && self.drop.is_none() && self.handshake_done(),
            dropped_by: self.drop.as_ref().map(|(peer, _)| *peer),
            duration_ms: crate::event::millis(opened.elapsed()),
            detail,
        }
    }
}
