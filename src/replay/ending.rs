//! How a replayed connection ends: the recorded end reproduced (close handshake, TCP drop or reset, timeout),
//! and the `close` record that says how it went.

use super::player::Player;
use super::script::RecordedEnd;
use crate::event::{Close, Peer, Ts};
use crate::proxy::stream::reset_on_close;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// The reason of the close a replay sends when the recording ended without one.
pub(super) const RECORDING_ENDS: &str = "frametap replay: the recording ends here";

impl<W: AsyncRead + AsyncWrite + Unpin> Player<W> {
    /// Reproduces the recorded end once the script is played.
    pub(super) async fn finish(&mut self, end: RecordedEnd) {
        if self.shutting_down {
            if !self.we_closed && self.peer_end.is_none() {
                self.send_close(Peer::Proxy, Some(1001), "frametap is shutting down").await;
            }
            return self.complete_close().await;
        }
        if self.peer_end.is_some() {
            return;
        }
        match end {
            RecordedEnd::Drop { by, reset } if by != self.peer() => {
                if !self.we_closed || self.they_closed.is_none() {
                    let how = if reset { "reset the TCP connection" } else { "closed the TCP connection" };
                    self.dropped = Some((
                        self.role,
                        format!("the {} {how} without a close handshake, as recorded", self.role.as_str()),
                    ));
                }
                self.drop_tcp(reset).await;
            }
            RecordedEnd::Drop { .. } => {
                self.wait_for_peer_end(self.options.wait_timeout).await;
                self.drop_tcp(false).await;
            }
            RecordedEnd::TimedOut => {
                self.wait_for_peer_end(Some(self.options.close_timeout)).await;
                if self.peer_end.is_none() {
                    self.timed_out = true;
                }
                self.drop_tcp(false).await;
            }
            RecordedEnd::Handshake { initiator, code, reason } => {
                let ours = initiator == self.role || initiator == Peer::Proxy;
                if ours && !self.we_closed && self.they_closed.is_none() {
                    self.send_close(self.role, code, reason.as_deref().unwrap_or("")).await;
                }
                self.complete_close().await;
            }
            RecordedEnd::Unknown => {
                self.end_what_the_recording_left_open().await;
                self.complete_close().await;
            }
        }
    }

    /// The recording stops without an end (Chrome's HAR records no close frames; a capture was cut short): the peer
    /// gets `--wait` to end the connection itself; then the replay closes it with 1000, as a client that is done
    /// would, rather than leave the peer with a dropped TCP connection (1006) it would not have seen.
    async fn end_what_the_recording_left_open(&mut self) {
        while !self.we_closed && self.they_closed.is_none() && self.peer_end.is_none() {
            match self.wait_event(self.options.wait_timeout).await {
                Some(true) => {}
                Some(false) => {
                    self.closed_at_recording_end = true;
                    self.send_close(self.role, Some(1000), RECORDING_ENDS).await;
                    return;
                }
                None => {
                    if self.shutting_down && !self.we_closed {
                        self.send_close(Peer::Proxy, Some(1001), "frametap is shutting down").await;
                    }
                    return;
                }
            }
        }
    }

    /// Finishes a close handshake: waits for the peer's close (answering it with its own code) and for TCP to end.
    pub(super) async fn complete_close(&mut self) {
        loop {
            self.report_extra_frames().await;
            if self.peer_end.is_some() {
                return;
            }
            if let Some(theirs) = &self.they_closed {
                if !self.we_closed {
                    let code = theirs.close_parts().0;
                    if !self.send_close(self.role, code, "").await {
                        return;
                    }
                }
                break;
            }
            let limit = if self.we_closed { Some(self.options.close_timeout) } else { self.options.wait_timeout };
            match self.wait_event(limit).await {
                Some(true) => {}
                Some(false) => {
                    self.timed_out = true;
                    return self.drop_tcp(false).await;
                }
                None if self.shutting_down && !self.we_closed => {
                    self.send_close(Peer::Proxy, Some(1001), "frametap is shutting down").await;
                }
                None => return self.drop_tcp(false).await,
            }
        }
        // Both closed: the server ends TCP first (RFC 6455 §7.1.1); a client waits for it.
        if self.role == Peer::Server {
            let _ = self.writer.shutdown().await;
            self.wait_for_peer_end(Some(self.options.close_timeout)).await;
        } else {
            self.wait_for_peer_end(Some(self.options.close_timeout)).await;
            let _ = self.writer.shutdown().await;
        }
    }

    /// Peer data frames that arrived after the script expected none: reported as divergences.
    pub(super) async fn report_extra_frames(&mut self) {
        while let Some(frame) = self.inbox.pop_front() {
            if frame.opcode.is_data() {
                let peer = self.peer().as_str();
                self.diverge(format!("an extra {peer} frame after the recorded ones (seq {})", frame.seq)).await;
            }
        }
    }

    pub(super) async fn wait_for_peer_end(&mut self, limit: Option<Duration>) {
        while self.peer_end.is_none() {
            if self.wait_event(limit).await != Some(true) {
                return;
            }
        }
    }

    pub(super) async fn drop_tcp(&mut self, reset: bool) {
        if reset {
            if let Some(socket) = self.socket {
                reset_on_close(socket);
            }
        } else {
            let _ = self.writer.shutdown().await;
        }
    }

    pub(super) fn outcome(&self, opened: Instant) -> Close {
        let (initiator, code, reason) = match (&self.first_close, &self.dropped) {
            (Some((peer, code, reason)), _) => (*peer, *code, reason.clone()),
            (None, Some((peer, _))) => (*peer, None, None),
            (None, None) => (Peer::Proxy, None, None),
        };
        let detail = match (&self.dropped, self.timed_out) {
            (Some((_, how)), _) => Some(how.clone()),
            (None, _) if self.cut_short => Some(format!(
                "{} before the close handshake finished; the replay closed the TCP connection at once",
                crate::proxy::CUT_SHORT
            )),
            (None, true) => Some(format!(
                "the close handshake did not finish within {:.1} s; the replay closed the TCP connection",
                self.options.close_timeout.as_secs_f64()
            )),
            (None, false) if self.closed_at_recording_end => Some(format!(
                "the recording ends without a close, and the {} sent none within {}: the replay closed with 1000 \
                 ({RECORDING_ENDS:?})",
                self.peer().as_str(),
                self.options.wait_timeout.map_or("--wait".to_owned(), |wait| format!("{:.1} s", wait.as_secs_f64()))
            )),
            (None, false) => None,
        };
        let clean = self.we_closed
            && self.they_closed.is_some()
            && self.dropped.is_none()
            && !self.timed_out
            && !self.cut_short;
        Close {
            conn: self.conn,
            ts: Ts::now(),
            initiator,
            initiator_unknown: false,
            code,
            reason,
            clean,
            dropped_by: self.dropped.as_ref().map(|(peer, _)| *peer),
            duration_ms: crate::event::millis(opened.elapsed()),
            detail,
        }
    }
}
