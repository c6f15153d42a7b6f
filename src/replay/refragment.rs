//! A peer's message whose fragment boundaries moved against the recording (sent whole where the recording has
//! fragments, or the other way): matched as one message by the player, not frame by frame.

use super::player::{Next, Player};
use super::script::{Step, Turn};
use crate::event::{Frame, Opcode};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

/// How many frames a message took in the recording and from the live peer.
pub(super) struct Fragments {
    pub(super) recorded: usize,
    pub(super) sent: usize,
}

impl Fragments {
    pub(super) fn words(&self) -> String {
        let frames = |n: usize| match n {
            1 => "one frame".to_owned(),
            n => format!("{n} fragments"),
        };
        format!("sent as {}, recorded as {} (the fragment boundaries moved)", frames(self.sent), frames(self.recorded))
    }
}

impl<W: AsyncRead + AsyncWrite + Unpin> Player<W> {
    /// When `got` and the `recorded` step are the same data message split differently: a whole message where the
    /// recording's first fragment is (the rest of its fragments taken from `steps`, when they follow it as the
    /// peer's next steps), or a first fragment where the recording has the whole message (the peer's further
    /// fragments read). Returns both messages whole (`recorded` with the seq of its last fragment) and how each was
    /// split; `None` when the step and the frame are not such a pair, and nothing is taken.
    pub(super) async fn refragmented<I: Iterator<Item = Step>>(
        &mut self,
        recorded: &Frame,
        got: Frame,
        steps: &mut std::iter::Peekable<I>,
    ) -> Option<(Frame, Frame, Fragments)> {
        let data = |frame: &Frame| matches!(frame.opcode, Opcode::Text | Opcode::Binary);
        if !data(recorded) || !data(&got) || recorded.fin == got.fin || recorded.opcode != got.opcode {
            return None;
        }
        if got.fin {
            let mut whole = recorded.clone();
            let mut payload = BytesMut::from(&recorded.payload[..]);
            let mut count = 1;
            while let Some(next) = steps.next_if(|s| s.turn == Turn::Theirs && s.frame.opcode == Opcode::Continuation) {
                payload.extend_from_slice(&next.frame.payload);
                count += 1;
                whole.seq = next.frame.seq;
                if next.frame.fin {
                    break;
                }
            }
            whole.fin = true;
            whole.payload = payload.freeze();
            return Some((whole, got, Fragments { recorded: count, sent: 1 }));
        }
        let mut whole = got.clone();
        let mut payload = BytesMut::from(&got.payload[..]);
        let mut count = 1;
        while !whole.fin {
            match self.next_peer_frame().await {
                Next::Frame(next) if next.opcode == Opcode::Continuation => {
                    payload.extend_from_slice(&next.payload);
                    count += 1;
                    whole.fin = next.fin;
                }
                Next::Frame(other) => {
                    self.inbox.push_front(other);
                    break;
                }
                _ => break,
            }
        }
        whole.payload = payload.freeze();
        Some((recorded.clone(), whole, Fragments { recorded: 1, sent: count }))
    }
}
