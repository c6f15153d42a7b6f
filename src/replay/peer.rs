//! The live peer's side of a replay: reads its frames with the wire scanner, records each, and hands it to the player.

use crate::event::{ConnId, Frame, Peer};
use crate::pipeline::ConnSink;
use crate::wire::{FrameScanner, Step as ScanStep};
use bytes::{Buf, Bytes, BytesMut};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

/// How the peer's side of the connection ended.
pub(super) enum PeerEnd {
    Eof,
    Failed(String),
}

/// What the reader hands the player.
pub(super) enum Event {
    Frame(Frame),
    End(PeerEnd),
}

/// Reads the peer's frames with the wire scanner, records each, and hands it to the player.
pub(super) struct PeerReader {
    pub(super) peer: Peer,
    pub(super) conn: ConnId,
    /// Shared with the player: it numbers the frames of both directions as they are emitted.
    pub(super) sink: Arc<ConnSink>,
    pub(super) max: u64,
}

impl PeerReader {
    pub(super) async fn run<R: AsyncRead + Unpin>(
        self,
        mut reader: R,
        prefix: Bytes,
        tx: mpsc::UnboundedSender<Event>,
    ) {
        let mut buf = BytesMut::from(&prefix[..]);
        let mut scanner = FrameScanner::new(self.max);
        loop {
            loop {
                let (used, step) = scanner.step(&buf);
                buf.advance(used);
                match step {
                    ScanStep::NeedMore => break,
                    ScanStep::Frame(scanned) => {
                        let mut frame = scanned.into_record(self.conn, crate::event::Ts::now(), 0, self.peer, true);
                        frame.seq = self.sink.emit_frame(frame.clone()).await;
                        tracing::trace!(
                            conn = self.conn,
                            seq = frame.seq,
                            "replay received a {} frame",
                            frame.opcode.name()
                        );
                        let _ = tx.send(Event::Frame(frame));
                    }
                    ScanStep::TooBig { message_len, .. } => {
                        let why = format!(
                            "the {} sent {message_len} bytes, past the replay's limit of {}",
                            self.peer.as_str(),
                            self.max
                        );
                        let _ = tx.send(Event::End(PeerEnd::Failed(why)));
                        return;
                    }
                }
            }
            match reader.read_buf(&mut buf).await {
                Ok(0) => {
                    let _ = tx.send(Event::End(PeerEnd::Eof));
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    use std::io::ErrorKind::*;
                    let how = if matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe) {
                        format!("the {} reset the TCP connection", self.peer.as_str())
                    } else {
                        format!("reading from the {} failed: {e}", self.peer.as_str())
                    };
                    let _ = tx.send(Event::End(PeerEnd::Failed(how)));
                    return;
                }
            }
        }
    }
}
