//! A recorded connection as a replay script: its handshake, each end's frames in recorded order, and how it ended.

use crate::capture::CaptureFile;
use crate::event::{Close, ConnId, Frame, Opcode, Open, Peer, Record};
use crate::har::RecordedAnswers;
use anyhow::{bail, Context as _, Result};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One connection of a capture, ready to replay.
#[derive(Clone, Debug)]
pub struct Script {
    pub file: PathBuf,
    pub conn: ConnId,
    pub open: Open,
    /// Every frame of the connection, in recorded order.
    pub frames: Vec<Frame>,
    /// How it ended, when the capture says.
    pub close: Option<Close>,
    /// True when the capture's secrets were replaced by placeholders.
    pub redacted: bool,
    /// What `--partial` skipped: the capture's records unreadable or left out and a missing `end` record, one
    /// message each.
    pub skipped: Vec<String>,
    /// Records kept as written though they contradict the others (frames of a connection that never opened, time
    /// going backwards), one message each: said before anything plays.
    pub doubts: Vec<String>,
    /// Every connection in the capture, in file order (`conn` is one of them).
    pub connections: Vec<ConnId>,
    /// A HAR's plain HTTP answers, which `replay serve --forward` gives the intercepted hosts (none for a capture).
    pub answers: Arc<RecordedAnswers>,
}

/// Whose frame a script step is, seen from the side being played.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    /// A frame the replay sends.
    Ours,
    /// A frame the replay waits for from the live peer.
    Theirs,
}

/// One step of a script: a frame to send or to wait for, and the recorded time since the step before it.
#[derive(Clone, Debug)]
pub struct Step {
    pub turn: Turn,
    pub frame: Frame,
    pub gap: Duration,
}

/// How the recorded connection ended, as the replay must reproduce it.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordedEnd {
    /// The capture does not say (cut short, or imported from a HAR without close information).
    Unknown,
    /// A close handshake: `initiator` sent the first close frame with `code` and `reason`.
    Handshake { initiator: Peer, code: Option<u16>, reason: Option<String> },
    /// `by` ended TCP without finishing a close handshake (a reset when `reset`).
    Drop { by: Peer, reset: bool },
    /// The close handshake never finished; frametap dropped both sides after its close timeout.
    TimedOut,
}

impl Script {
    /// Reads connection `conn` (default: the first) of a capture (or of a HAR, imported). A cut-off or corrupt
    /// capture, or one without its `end` record, is refused unless `partial`, as `convert` refuses it. The file is
    /// read as it comes, keeping that connection's records only.
    pub fn load(file: &Path, conn: Option<ConnId>, partial: bool) -> Result<Script> {
        let (mut source, answers) = crate::har::open_for_replay(file)?;
        let unusable = || format!("{} is not a usable frametap capture", file.display());
        // The connections in order of their first record.
        let (mut ids, mut seen): (Vec<ConnId>, HashSet<ConnId>) = Default::default();
        let (mut open, mut frames, mut close) = (None, Vec::new(), None);
        let (mut first, mut redacted) = (true, false);
        while let Some(record) = source.next_record().with_context(unusable)? {
            if std::mem::take(&mut first) {
                redacted = matches!(&record, Record::Meta(meta) if meta.redacted);
            }
            let Some(id) = record.conn() else { continue };
            if seen.insert(id) {
                ids.push(id);
            }
            if conn.unwrap_or(ids[0]) != id {
                continue;
            }
            match record {
                Record::Open(o) if open.is_none() => open = Some(o),
                Record::Frame(f) => frames.push(f),
                Record::Close(c) if close.is_none() => close = Some(c),
                _ => {}
            }
        }
        let read = source.finish().with_context(unusable)?;
        let capture = CaptureFile { records: Vec::new(), problems: read.problems, has_end: read.has_end };
        if let Some(what) = capture.incomplete() {
            if !partial {
                bail!("{}: {what}; pass --partial to replay the records that could be read", file.display());
            }
        }
        let skipped = capture.skipped();
        let doubts = capture.doubts().map(ToString::to_string).collect();
        let Some(conn) = conn.or(ids.first().copied()) else {
            bail!("{} holds no connection to replay", file.display());
        };
        if !ids.contains(&conn) {
            let list: Vec<String> = ids.iter().map(u64::to_string).collect();
            bail!("{} has no connection {conn} (it has {}): choose one with --conn", file.display(), list.join(", "));
        }
        let Some(open) = open else {
            bail!(
                "{}: connection {conn} has no open record (the capture starts after its handshake), so its \
                 handshake cannot be replayed: choose another with --conn",
                file.display()
            );
        };
        let answers = Arc::new(answers);
        Ok(Script {
            file: file.to_owned(),
            conn,
            open: *open,
            frames,
            close,
            redacted,
            skipped,
            doubts,
            connections: ids,
            answers,
        })
    }

    /// The steps for playing `role` (client or server) against a live peer: the frames the peer received from
    /// `role` (including frametap's own frames towards the peer, which the peer took for `role`'s), and the
    /// peer's data and close frames to wait for. The peer's pings and pongs are not waited for.
    pub fn steps(&self, role: Peer) -> Vec<Step> {
        let peer = role.other();
        let mut steps = Vec::new();
        let mut previous = self.open.ts;
        for frame in &self.frames {
            let turn = if (frame.from == role && frame.relayed) || (frame.from == Peer::Proxy && frame.to == peer) {
                Turn::Ours
            } else if frame.from == peer && !matches!(frame.opcode, Opcode::Ping | Opcode::Pong) {
                Turn::Theirs
            } else {
                continue;
            };
            let gap = Duration::from_secs_f64(frame.ts.secs_since(previous).max(0.0));
            previous = frame.ts;
            steps.push(Step { turn, frame: frame.clone(), gap });
        }
        steps
    }

    /// How the recording ended (see [`RecordedEnd`]).
    pub fn end(&self) -> RecordedEnd {
        let Some(close) = &self.close else { return RecordedEnd::Unknown };
        let detail = close.detail.as_deref().unwrap_or("");
        if close.clean {
            return RecordedEnd::Handshake {
                initiator: close.initiator,
                code: close.code,
                reason: close.reason.clone(),
            };
        }
        if detail.contains("did not finish") {
            return RecordedEnd::TimedOut;
        }
        let by = if detail.starts_with("the client") {
            Peer::Client
        } else if detail.starts_with("the server") {
            Peer::Server
        } else {
            close.initiator
        };
        RecordedEnd::Drop { by, reset: detail.contains("reset") }
    }

    /// A short name for logs: `FILE#N`.
    pub fn label(&self) -> String {
        format!("{}#{}", self.file.display(), self.conn)
    }

    /// Which of the capture's connections this is, when it has several: `connection 1 of 2 (--conn N picks
    /// another)`; `None` for a capture of one connection.
    pub fn which_of(&self) -> Option<String> {
        let n = self.connections.len();
        if n < 2 {
            return None;
        }
        // Numbered 1 to n, the number says the position; otherwise the numbers --conn takes are listed.
        if self.connections.iter().copied().eq(1..=n as u64) {
            return Some(format!("connection {} of {n} (--conn N picks another)", self.conn));
        }
        let ids: Vec<String> = self.connections.iter().map(u64::to_string).collect();
        Some(format!("connection {}, one of {n} (--conn N picks another: {})", self.conn, ids.join(", ")))
    }

    /// The URL the recorded connection went to (`wss://host/path?query`), when the capture names a WebSocket
    /// or HTTP URL (not for the simulator's `sim:genesys…` or a replay's own `replay:…`).
    pub fn recorded_url(&self) -> Option<&str> {
        let url = self.open.upstream.as_deref()?;
        let uri: http::Uri = url.parse().ok()?;
        let web = matches!(uri.scheme_str()?.to_ascii_lowercase().as_str(), "ws" | "wss" | "http" | "https");
        (web && uri.host().is_some()).then_some(url)
    }

    /// The host of [`Script::recorded_url`], lowercase, without brackets: what `replay serve --forward` intercepts
    /// by default.
    pub fn recorded_host(&self) -> Option<String> {
        let uri: http::Uri = self.recorded_url()?.parse().ok()?;
        Some(uri.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{HttpRequest, Ts};

    fn script_to(upstream: Option<&str>) -> Script {
        let open = Open {
            upstream: upstream.map(str::to_owned),
            ..Open::new(1, Ts::now(), HttpRequest { method: "GET".into(), path: "/v1".into(), headers: Vec::new() })
        };
        let (skipped, doubts, connections) = (Vec::new(), Vec::new(), vec![1]);
        let frames = Vec::new();
        Script {
            file: "c.jsonl".into(),
            conn: 1,
            open,
            frames,
            close: None,
            redacted: false,
            skipped,
            doubts,
            connections,
            answers: Default::default(),
        }
    }

    #[test]
    fn which_of_several_connections_is_said_with_how_to_pick_another() {
        let mut script = script_to(None);
        assert_eq!(script.which_of(), None, "a capture of one connection");
        script.connections = vec![1, 2];
        assert_eq!(script.which_of().as_deref(), Some("connection 1 of 2 (--conn N picks another)"));
        (script.conn, script.connections) = (7, vec![3, 7]);
        assert_eq!(script.which_of().as_deref(), Some("connection 7, one of 2 (--conn N picks another: 3, 7)"));
    }

    #[test]
    fn the_recorded_host_comes_from_a_web_url_only() {
        let host = |upstream| script_to(upstream).recorded_host();
        assert_eq!(
            host(Some("wss://WebMessaging.euw2.pure.cloud/v1?deploymentId=d")).as_deref(),
            Some("webmessaging.euw2.pure.cloud")
        );
        assert_eq!(host(Some("ws://[::1]:9100/v1")).as_deref(), Some("::1"));
        assert_eq!(host(Some("https://example.com")).as_deref(), Some("example.com"));
        for other in [Some("sim:genesys/v1?deploymentId=d"), Some("replay:c.jsonl#1"), Some("not a url"), None] {
            assert_eq!(host(other), None, "{other:?}");
        }
    }
}
