//! How a HAR entry's WebSocket ended: HTTP Toolkit's `_webSocketClose` and the close frames among the messages,
//! as one `close` record that says who closed first only when the HAR does; and a close message's payload.

use super::document::{Entry, Message};
use super::json::Json;
use super::times::{ts_from_epoch_secs, whole_micros};
use crate::event::{Close, ConnId, Frame, Opcode, Peer, Ts};

/// A close message's payload: its `code` and its `data` as the reason; without a `code`, `data` read as the raw
/// close payload some tools save as text (2 characters for the code's bytes, then the reason) when those 2
/// characters are bytes (U+0000–U+00FF) that make a code a close frame may carry. The reason of a raw payload is
/// its bytes too ([`raw_reason`]). Never a made-up code: a `code`
/// that is none, or `data` that holds none (a reason alone, a code byte lost as U+FFFD when the tool decoded the
/// bytes as UTF-8), is said through `odd`, and the frame then has no code.
pub(super) fn close_payload(message: &Message, data: &str, odd: &mut dyn FnMut(String)) -> Vec<u8> {
    if let Some(field) = Some(&message.code).filter(|code| !code.is_null()) {
        match field.as_u64().and_then(|code| u16::try_from(code).ok()) {
            Some(code) => {
                // A `data` that is the raw payload repeats the code's bytes: they are not the reason.
                let reason = match code_in_data(data).filter(|(said, _)| *said == code) {
                    Some((_, reason)) => raw_reason(reason),
                    None => data.as_bytes().to_vec(),
                };
                return [&code.to_be_bytes()[..], &reason].concat();
            }
            None => odd(format!("close `code` {field} is no close code (0–65535): read from `data` instead")),
        }
    }
    if data.is_empty() {
        return Vec::new();
    }
    match code_in_data(data) {
        Some((code, reason)) if !crate::inspect::codes::is_forbidden_on_wire(code) => {
            [&code.to_be_bytes()[..], &raw_reason(reason)].concat()
        }
        _ => {
            odd(format!(
                "close `data` {data:?} holds no close code (there is no `code`, and its first 2 characters are not the 2 bytes of one): imported without a code or reason"
            ));
            Vec::new()
        }
    }
}

/// The byte a character of a payload saved one byte per character stands for (U+0000–U+00FF), else `None`.
fn saved_byte(c: char) -> Option<u8> {
    u8::try_from(u32::from(c)).ok()
}

/// The reason bytes of a raw close payload saved as text. A tool that saved the bytes one character each
/// (U+0000–U+00FF) turned a UTF-8 reason into mojibake ("café" into "cafÃ©"): its characters are taken back as the
/// bytes they stand for when those make UTF-8. Otherwise the tool decoded the reason into characters ("fermé" with
/// one U+00E9, no UTF-8 as a byte), and the reason is that text.
fn raw_reason(reason: &str) -> Vec<u8> {
    let bytes: Option<Vec<u8>> = reason.chars().map(saved_byte).collect();
    match bytes {
        Some(bytes) if std::str::from_utf8(&bytes).is_ok() => bytes,
        _ => reason.as_bytes().to_vec(),
    }
}

/// The close code in the first 2 characters of `data`, when both are bytes (U+0000–U+00FF), and the text after.
fn code_in_data(data: &str) -> Option<(u16, &str)> {
    let mut chars = data.char_indices();
    let high = saved_byte(chars.next()?.1)?;
    let low = saved_byte(chars.next()?.1)?;
    let reason = chars.next().map_or("", |(at, _)| &data[at..]);
    Some((u16::from_be_bytes([high, low]), reason))
}

/// The close frames among an entry's messages (opcode 8, as Chrome records them): the first one's sender closed first.
#[derive(Default)]
pub(super) struct CloseFrames {
    /// The first close frame.
    first: Option<FirstClose>,
    /// Whether the other side answered the first close frame with one of its own.
    answered: bool,
}

/// The first close frame of an entry, read as every close payload is ([`crate::event::parse_close_payload`]).
struct FirstClose {
    from: Peer,
    code: Option<u16>,
    /// Its reason; `None` when it gave none, or one that is not UTF-8 (`reason_not_utf8`).
    reason: Option<String>,
    /// The frame has reason bytes that are not valid UTF-8: no reason is made up from them.
    reason_not_utf8: bool,
}

impl CloseFrames {
    pub(super) fn see(&mut self, frame: &Frame) {
        if frame.opcode != Opcode::Close {
            return;
        }
        if let Some(first) = &self.first {
            self.answered |= frame.from != first.from;
        } else {
            let (code, reason) = frame.close_parts();
            let reason_not_utf8 = code.is_some() && reason.is_none();
            let reason = reason.filter(|r| !r.is_empty());
            self.first = Some(FirstClose { from: frame.from, code, reason, reason_not_utf8 });
        }
    }
}

/// When the close happened by the HAR: `_webSocketClose.timestamp`, else `startedDateTime` + the entry's `time`,
/// else `startedDateTime`; a value that is there but unusable is warned about, never passed over silently.
fn close_time(close: &Json, entry: &Entry, started: Ts, warn: &mut dyn FnMut(String)) -> Ts {
    // As message times are said: `1e300`, not serde_json's `1e+300`.
    let unusable = |value: &Json| match value.as_f64() {
        Some(number) => format!("{number:?} is out of range (no date a capture can hold)"),
        None => format!("{value} is not a number"),
    };
    let stamp = close.field("timestamp");
    if let Some(ts) = stamp.as_f64().and_then(ts_from_epoch_secs) {
        return ts;
    }
    let time = &entry.time;
    let by_time =
        time.as_f64().and_then(|ms| Ts::from_micros(started.micros().checked_add(whole_micros(ms * 1000.0)?)?));
    let instead = if by_time.is_some() { "startedDateTime + the entry's `time`" } else { "startedDateTime" };
    if !stamp.is_null() {
        warn(format!("`_webSocketClose.timestamp` {}: the close is dated by {instead}", unusable(stamp)));
    } else if by_time.is_none() && !time.is_null() {
        warn(format!("the entry's `time` {}: the close is dated by {instead}", unusable(time)));
    }
    by_time.unwrap_or(started)
}

/// How the entry ended: HTTP Toolkit's `_webSocketClose` (the close code and reason, or "aborted", but not who
/// closed first), and the close frames among the messages, whose first sender is who closed first. With no
/// close frame, the close says the closer is unknown (`initiator_unknown`) instead of guessing. It is dated by
/// `_webSocketClose.timestamp`, else by the entry's `startedDateTime` + `time` (which, for an aborted connection,
/// can end before its messages do), and never before `last_message`. A timestamp or `time` that is there but holds
/// no date a capture can hold is said through `warn`, with what the close was dated by instead.
pub(super) fn recorded_close(
    conn: ConnId,
    started: Ts,
    last_message: Ts,
    entry: &Entry,
    frames: &CloseFrames,
    warn: &mut dyn FnMut(String),
) -> Option<Close> {
    let close = match &entry.close {
        Json::Absent if frames.first.is_none() => return None,
        close => close,
    };
    let recorded = close_time(close, entry, started, warn);
    let ended = recorded.max(last_message);
    let moved =
        if ended > recorded { "; dated at the last message, as the HAR's time for the close is earlier" } else { "" };
    let duration_ms = ended.millis_since(started).max(0.0);
    if let Some(first) = &frames.first {
        let initiator = &first.from;
        let aborted = close == "aborted";
        let code = close.field("code").as_u64().map(|c| c as u16).or(first.code);
        let said_reason = close.field("reason").as_str().map(str::to_owned);
        // The strict reading's verdict, not a reason with its bad bytes replaced.
        let unreadable = if said_reason.is_none() && first.reason_not_utf8 {
            "; its reason is not valid UTF-8 (RFC 6455 requires it), so none is kept"
        } else {
            ""
        };
        let reason = said_reason.or_else(|| first.reason.clone());
        let other = initiator.other().as_str();
        // An abort after both close frames ended TCP after a completed close handshake: the close was clean. Before
        // the answer, the handshake never completed; either way the HAR does not say who ended TCP, or why.
        let then = match (aborted, frames.answered) {
            (false, _) => String::new(),
            (true, true) => format!(
                " and the {other} answered it; then the HAR records the connection as aborted, without saying which side ended TCP"
            ),
            (true, false) => format!(
                "; the {other}'s answer is not among the messages, and the HAR records the connection as aborted, without saying which side ended TCP"
            ),
        };
        return Some(Close {
            conn,
            ts: ended,
            initiator: *initiator,
            initiator_unknown: false,
            code,
            reason,
            clean: !aborted || frames.answered,
            // The HAR does not say who ended TCP after an aborted close.
            dropped_by: None,
            duration_ms,
            detail: Some(format!(
                "the HAR's first close frame came from the {}{unreadable}{then}{moved}",
                initiator.as_str()
            )),
        });
    }
    if close == "aborted" {
        return Some(Close {
            conn,
            ts: ended,
            initiator: Peer::Server,
            initiator_unknown: true,
            code: None,
            reason: None,
            clean: false,
            dropped_by: None,
            duration_ms,
            detail: Some(format!(
                "the HAR records the connection as aborted (no close handshake) but not which side dropped it{moved}"
            )),
        });
    }
    Some(Close {
        conn,
        ts: ended,
        initiator: Peer::Server,
        initiator_unknown: true,
        code: close.field("code").as_u64().map(|c| c as u16),
        reason: close.field("reason").as_str().map(str::to_owned),
        clean: true,
        dropped_by: None,
        duration_ms,
        detail: Some(format!("the HAR records the close code and reason but not who closed first{moved}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close_after(payload: &'static [u8]) -> Close {
        let (started, at) = (Ts::from_micros(1_000_000).unwrap(), Ts::from_micros(2_000_000).unwrap());
        let mut frames = CloseFrames::default();
        frames.see(&Frame::whole(1, at, 1, Peer::Client, Opcode::Close, bytes::Bytes::from_static(payload)));
        let entry: Entry = serde_json::from_str(r#"{ "time": 1500.0 }"#).unwrap();
        recorded_close(1, started, at, &entry, &frames, &mut |w| panic!("{w}")).expect("a close")
    }

    #[test]
    fn a_close_frames_reason_is_read_strictly_and_one_that_is_not_utf8_is_said_so_not_replaced() {
        let close = close_after(b"\x03\xe8caf\xc3");
        assert_eq!((close.code, close.reason.as_deref()), (Some(1000), None), "{close:?}");
        let detail = close.detail.unwrap();
        assert!(detail.contains("its reason is not valid UTF-8"), "{detail}");
        let close = close_after(b"\x03\xe8caf\xc3\xa9");
        assert_eq!((close.code, close.reason.as_deref()), (Some(1000), Some("café")));
        assert!(!close.detail.unwrap().contains("UTF-8"));
        let close = close_after(b"\x03\xe8");
        assert_eq!((close.code, close.reason), (Some(1000), None), "no reason given, none made up");
    }
}
