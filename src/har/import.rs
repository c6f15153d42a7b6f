//! HAR → capture: frametap's own HARs come back exactly; HARs saved by Chrome DevTools, mitmproxy, HTTP Toolkit,
//! Playwright or Firefox become a capture of what those tools recorded, with a `note` per connection saying what they leave out.

use super::attached::{AttachedFiles, Place};
use super::close::{recorded_close, CloseFrames};
use super::document::{Entry, Har, Message};
use super::extended_connect;
use super::imported::ImportedRecords;
use super::json::{Json, Obj};
use super::lossless;
use super::source::{missing_note, HarSource, FIREFOX_LEAVES_OUT};
use super::times::{before_wall_clock, first_message_time, parse_datetime, wait_ends_before, MessageClock, TimeUnit};
use crate::event::{
    self, ConnId, Frame, Headers, HttpRequest, HttpResponse, Note, NoteLevel, Opcode, Open, Peer, Record, Ts,
};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::borrow::Cow;

/// Turns a HAR into capture records (meta, then per connection open/note/frames/close, then end), plus warnings
/// about what was skipped. Fails when the HAR holds no WebSocket connection or a message cannot be read.
pub fn har_to_records(har: &serde_json::Value) -> Result<(Vec<Record>, Vec<String>)> {
    har_json_to_records(&serde_json::to_vec(har)?)
}

/// [`har_to_records`] of a HAR's JSON text, read as it lies in `json` (its strings borrowed, not copied).
pub fn har_json_to_records(json: &[u8]) -> Result<(Vec<Record>, Vec<String>)> {
    let har = Har::parse(json, std::path::Path::new("the HAR"))?;
    let (records, warnings) = import(&har, &AttachedFiles::read(&har, Place::Nowhere))?;
    Ok((records.collect(), warnings))
}

/// [`har_to_records`] of a parsed HAR: the records as they are asked for (they no longer borrow from `har`).
/// `attached`: the files Playwright keeps messages in, read.
pub(super) fn import(har: &Har, attached: &AttachedFiles) -> Result<(ImportedRecords, Vec<String>)> {
    let Some(entries) = har.log.entries.0.as_deref() else {
        bail!("not a HAR: it has no log.entries list");
    };
    let source = HarSource::detect(har);
    if source == HarSource::Frametap {
        let (records, warnings) = lossless::restore(har)?;
        return Ok((ImportedRecords::restored(records), warnings));
    }
    let mut warnings = Vec::new();
    let websocket: Vec<(usize, &Entry)> =
        entries.iter().map(|e| &e.0).enumerate().filter(|(_, e)| is_websocket(e)).collect();
    if websocket.is_empty() {
        bail!(
            "no WebSocket connection in it ({}, none with _resourceType \"websocket\", _webSocketMessages \
             or a ws:// URL): save the HAR while the WebSocket is listed (Chrome: DevTools Network panel, open \
             before the page connects, then \"Export HAR\")",
            crate::words::count_as(entries.len() as u64, "entry", "entries")
        );
    }
    if websocket.len() < entries.len() {
        warnings.push(match entries.len() - websocket.len() {
            1 => "skipped 1 entry that is not a WebSocket connection (plain HTTP)".to_owned(),
            n => format!("skipped {n} entries that are not WebSocket connections (plain HTTP)"),
        });
    }
    let mut body = Vec::new();
    let mut origins = Vec::new();
    for (conn, (index, entry)) in websocket.iter().enumerate() {
        let imported = import_entry(conn as ConnId + 1, *index + 1, entry, source, attached, &mut warnings)
            .with_context(|| format!("entry {}", index + 1))?;
        origins.push(imported.origin);
        body.extend(imported.records);
    }
    Ok((ImportedRecords::made(body, origins), warnings))
}

/// A WebSocket entry: Chrome's and mitmproxy's `_resourceType`, a message list, a ws(s) URL, or an accepted upgrade.
pub(super) fn is_websocket(entry: &Entry) -> bool {
    let url = entry.request.url.as_str().unwrap_or("");
    entry.resource_type == "websocket"
        || entry.messages.is_list()
        || url.starts_with("ws://")
        || url.starts_with("wss://")
        || (entry.response.status.as_u64() == Some(101)
            && headers(&entry.response.headers)
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("upgrade") && v.eq_ignore_ascii_case("websocket")))
}

pub(super) struct Imported {
    /// `wss://host[:port]` of the entry, for the meta record's `upstream`.
    origin: String,
    pub(super) records: Vec<Record>,
}

/// One WebSocket entry as records: its `open`, the `har-import-incomplete` note, a frame per message, and the close
/// that HTTP Toolkit's `_webSocketClose` and the close frames among the messages give.
pub(super) fn import_entry(
    conn: ConnId,
    number: usize,
    entry: &Entry,
    source: HarSource,
    attached: &AttachedFiles,
    warnings: &mut Vec<String>,
) -> Result<Imported> {
    let url = entry.request.url.as_str().ok_or_else(|| anyhow!("request.url is missing"))?;
    let from_file = attached.messages_of(entry, number, url, warnings);
    let messages: &[Obj<Message>] = from_file.as_deref().unwrap_or(entry.messages.items());
    let (scheme, authority, path) = split_url(url).ok_or_else(|| anyhow!("request.url {url:?} is not a URL"))?;
    let ws_scheme = match scheme.as_str() {
        "https" | "wss" => "wss",
        _ => "ws",
    };
    let started = match entry.started.as_str().and_then(parse_datetime) {
        Some(ts) => ts,
        None => {
            warnings.push(format!(
                "entry {number}: startedDateTime is missing or unreadable; used the first message's time"
            ));
            first_message_time(messages).unwrap_or(Ts(DateTime::<Utc>::UNIX_EPOCH))
        }
    };
    let mut request_headers: Headers = Vec::new();
    let mut authority_header = None;
    for (name, value) in headers(&entry.request.headers) {
        match name.as_str() {
            ":authority" => authority_header = Some(value),
            n if n.starts_with(':') => {}
            _ => request_headers.push((name, value)),
        }
    }
    if event::header(&request_headers, "host").is_none() {
        if let Some(host) = authority_header {
            request_headers.insert(0, ("Host".into(), host));
        }
    }
    let recorded_status = entry.response.status.as_u64().unwrap_or(0) as u16;
    let over_http2 = extended_connect::opened_without_101(entry, recorded_status);
    let status = if over_http2 { 101 } else { recorded_status };
    if over_http2 {
        warnings.push(format!(
            "entry {number} ({url}): a WebSocket over HTTP/2 or HTTP/3, opened by a CONNECT answered \
             {recorded_status}: imported as opened, with the 101 an HTTP/1.1 upgrade gets"
        ));
    }
    let content = &entry.response.content;
    let response = (status != 0).then(|| HttpResponse {
        status,
        headers: extended_connect::without_pseudo_headers(headers(&entry.response.headers)),
        body: content.text.as_str().filter(|t| !t.is_empty() && content.encoding != "base64").map(str::to_owned),
        body_base64: content.text.as_str().filter(|t| !t.is_empty() && content.encoding == "base64").map(str::to_owned),
    });
    // Chrome 156 writes `_error: null` for a WebSocket that failed, and says why in an `error` message instead.
    let error_message = messages.iter().find(|m| m.kind.as_str() == Some("error")).map(|m| &m.data);
    let recorded_error = [&entry.response.error, &entry.response.failure_text]
        .into_iter()
        .chain(error_message)
        .find_map(|e| e.as_str().filter(|e| !e.trim().is_empty()));
    // A 101 the recording says failed, with no message after it but Chrome's `error` item (frametap's export of a
    // 101 whose Sec-WebSocket-Accept was wrong; Chrome's `_error` on a request that failed): it opened no WebSocket.
    let failed_101 =
        recorded_status == 101 && recorded_error.is_some() && messages.iter().all(|m| m.kind.as_str() == Some("error"));
    let opened = status == 101 && !failed_101;
    let mut times = MessageClock::new(started, messages);
    let first_message_at = messages.first().and_then(|m| times.at(m).ok());
    let wait = entry.timings.field("wait").as_f64().filter(|w| w.is_finite() && *w > 0.0);
    let handshake_ms =
        wait.filter(|_| source != HarSource::Chrome || wait_ends_before(entry, started, first_message_at));
    let mut records = vec![Record::from(Open {
        conn,
        ts: started,
        client_addr: None,
        request: HttpRequest {
            method: entry.request.method.as_str().unwrap_or("GET").to_owned(),
            path: path.clone(),
            headers: request_headers.clone(),
        },
        upstream: Some(format!("{ws_scheme}://{authority}{path}")),
        upstream_request: None,
        error: (status == 0 || failed_101)
            .then(|| recorded_error.unwrap_or("the HAR records no response to the upgrade").to_owned()),
        response,
        handshake_ms,
        // A HAR records no kernel round trip.
        upstream_tcp_rtt_ms: None,
        // The entry's time: for an upgrade that failed, from the request to the failure.
        failed_ms: (!opened).then(|| entry.time.as_f64().filter(|t| t.is_finite() && *t >= 0.0)).flatten(),
        upgraded_ms: None,
    })];
    let mut missing = missing_note(source, entry, &request_headers, opened, over_http2.then_some(recorded_status));
    if wait.is_some() && handshake_ms.is_none() {
        missing.push_str(
            "; no handshake round trip either: its timings.wait runs past the first message (Chrome moves a \
             WebSocket's response time to each message it sees), so it measures the connection, not the upgrade",
        );
    }
    records.push(Record::Note(Note::warn("har-import-incomplete", Some(conn), started, missing)));
    if messages.is_empty() && from_file.is_none() {
        warnings.push(match source {
            HarSource::Firefox if opened && !entry.messages.is_list() => {
                format!("entry {number} ({url}): {FIREFOX_LEAVES_OUT}")
            }
            _ => format!("entry {number} ({url}): no WebSocket messages recorded"),
        });
    }
    if times.unit == TimeUnit::Monotonic {
        warnings.push(if !opened && before_wall_clock(started) {
            format!(
                "entry {number}: the recording has no wall-clock time for this WebSocket: startedDateTime {} \
                 and its error dated on a monotonic clock, as Chromium 156 records a WebSocket that failed before any \
                 answer; kept as recorded, so it sorts before the other connections by time",
                started.to_rfc3339()
            )
        } else {
            format!(
                "entry {number}: message times are not wall-clock times (an old Chrome?); placed them after \
                 startedDateTime"
            )
        });
    }
    let mut seq = 0u64;
    let (mut backwards_at, mut before_start) = (None, false);
    let mut last_ts = started;
    let mut previous: Option<Ts> = None;
    let mut close_frames = CloseFrames::default();
    let mut odd = OddMessages::default();
    for (m, message) in messages.iter().enumerate() {
        let ts = times.at(message).unwrap_or_else(|problem| {
            odd.add_as(m + 1, problem.kind, format!("{}: dated as the message before it", problem.text));
            last_ts
        });
        if previous.is_some_and(|p| ts < p) && backwards_at.is_none() {
            backwards_at = Some(m + 1);
        }
        before_start |= ts < started;
        previous = Some(ts);
        last_ts = last_ts.max(ts);
        match message_record(conn, &mut seq, ts, message, &mut |what| odd.add(m + 1, what))
            .with_context(|| format!("message {}", m + 1))?
        {
            Some(record) => {
                if let Record::Frame(frame) = &record {
                    close_frames.see(frame);
                }
                records.push(record)
            }
            None => warnings.push(format!(
                "entry {number}, message {}: type {} / opcode {} is not a WebSocket message frametap knows: skipped",
                m + 1,
                message.kind,
                message.opcode
            )),
        }
    }
    odd.say(number, warnings);
    if let Some(m) = backwards_at {
        warnings.push(format!("entry {number}: message times go backwards at message {m}; kept the HAR's order"));
    }
    if before_start {
        warnings.push(format!(
            "entry {number}: messages are dated before the entry's startedDateTime (the recording tool's clocks disagree); kept their times, so durations measured from the handshake read short"
        ));
    }
    let mut warn = |what: String| warnings.push(format!("entry {number}: {what}"));
    if let Some(close) = recorded_close(conn, started, last_ts, entry, &close_frames, &mut warn) {
        records.push(Record::Close(close));
    }
    Ok(Imported { origin: format!("{ws_scheme}://{authority}"), records })
}

/// What was odd about an entry's messages (a missing `time` or `data`), each kind said once with the messages it
/// concerns, so a HAR with thousands of them gets a line, not thousands.
#[derive(Default)]
struct OddMessages(Vec<OddKind>);

/// One kind of oddity: its key, what it was for the first message it concerns, and every message it concerns.
struct OddKind {
    kind: String,
    first_said: String,
    messages: Vec<usize>,
}

impl OddMessages {
    /// `what` is odd about `message`; messages with the same text are said together.
    fn add(&mut self, message: usize, what: String) {
        self.add_as(message, what.clone(), what);
    }

    /// Like [`OddMessages::add`], grouped by `kind` (the text may quote each message's own value: the first is said).
    fn add_as(&mut self, message: usize, kind: impl Into<String>, what: String) {
        let kind = kind.into();
        match self.0.iter_mut().find(|known| known.kind == kind) {
            Some(known) => known.messages.push(message),
            None => self.0.push(OddKind { kind, first_said: what, messages: vec![message] }),
        }
    }

    fn say(self, entry: usize, warnings: &mut Vec<String>) {
        for OddKind { first_said, messages, .. } in self.0 {
            let which = match messages.as_slice() {
                [one] => format!("message {one}"),
                many => format!("{} messages (the first: {})", many.len(), many[0]),
            };
            warnings.push(format!("entry {entry}, {which}: {first_said}"));
        }
    }
}

/// A message's `data` as text: a string as it is; anything else (an exporter that parsed a JSON payload) as its
/// JSON text, and nothing (no `data`, or null) as an empty message, either said through `odd` for a data frame.
fn message_data<'a>(message: &'a Message, opcode: Opcode, odd: &mut dyn FnMut(String)) -> Cow<'a, str> {
    let data_frame = matches!(opcode, Opcode::Text | Opcode::Binary | Opcode::Continuation);
    match &message.data {
        Json::Str(text) => Cow::Borrowed(text),
        Json::Null | Json::Absent => {
            if data_frame {
                odd("no `data`: imported as an empty message".into());
            }
            Cow::Borrowed("")
        }
        other => {
            odd(format!("`data` is not a string ({}): imported as its JSON text", other.kind()));
            Cow::Owned(other.to_string())
        }
    }
}

/// One `_webSocketMessages` item as a frame (or a note, for Chrome's `error` items); `None` for what is not a message.
fn message_record(
    conn: ConnId,
    seq: &mut u64,
    ts: Ts,
    message: &Message,
    odd: &mut dyn FnMut(String),
) -> Result<Option<Record>> {
    let from = match message.kind.as_str() {
        Some("send") => Peer::Client,
        Some("receive") => Peer::Server,
        Some("error") => {
            let reported = format!("the browser reported: {}", message.data.as_str().unwrap_or("(no text)"));
            return Ok(Some(Record::Note(Note::new(
                "har-websocket-error",
                NoteLevel::Error,
                Some(conn),
                ts,
                reported,
            ))));
        }
        _ => return Ok(None),
    };
    let Some(opcode) = message.opcode.as_u64().filter(|o| [0, 1, 2, 8, 9, 10].contains(o)) else {
        return Ok(None);
    };
    let opcode = Opcode::from_u8(opcode as u8);
    let data = message_data(message, opcode, odd);
    let data = data.as_ref();
    let payload: Vec<u8> = match opcode {
        Opcode::Binary => base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| anyhow!("binary data (opcode 2) is not base64 ({e}); the HAR is corrupt"))?,
        Opcode::Close => super::close::close_payload(message, data, odd),
        _ => data.as_bytes().to_vec(),
    };
    *seq += 1;
    Ok(Some(Record::Frame(Frame::whole(conn, ts, *seq, from, opcode, Bytes::from(payload)))))
}

/// Headers as `[{name, value}]` (Chrome, Firefox, mitmproxy, HTTP Toolkit) or `[[name, value]]` (Slack).
pub(super) fn headers(list: &Json) -> Headers {
    let Some(list) = list.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|h| {
            let (name, value) = match h {
                Json::Array(pair) => (pair.first()?, pair.get(1)?),
                _ => (h.get("name")?, h.get("value")?),
            };
            Some((name.as_str()?.to_owned(), value.as_str()?.to_owned()))
        })
        .collect()
}

/// `scheme://authority/path?query` → (scheme, authority without userinfo, path with query).
pub(super) fn split_url(url: &str) -> Option<(String, String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest[..end].rsplit('@').next().unwrap_or("");
    if authority.is_empty() {
        return None;
    }
    let mut path = rest[end..].split('#').next().unwrap_or("").to_owned();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    Some((scheme.to_ascii_lowercase(), authority.to_owned(), path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `har_import` fuzz target: a message time tens of thousands of years ahead became a
    /// timestamp that was written as `+58868-…`, which no capture reader (frametap's included) accepts.
    #[test]
    fn times_a_capture_cannot_hold_fall_back_instead_of_making_unreadable_records() {
        let har = serde_json::json!({ "log": { "entries": [{
            "_resourceType": "websocket",
            "startedDateTime": "2026-11-25T10:00:00.000Z",
            "time": 9.2e18,
            "request": { "method": "GET", "url": "wss://example.com/ws", "headers": [] },
            "response": { "status": 101, "headers": [] },
            "_webSocketMessages": [
                { "type": "send", "time": 1.795e12, "opcode": 1, "data": "far future" },
                { "type": "receive", "time": -9.0e15, "opcode": 1, "data": "far past" }
            ]
        }]}});
        let (records, _) = har_to_records(&har).expect("imports");
        assert!(records.iter().any(|r| matches!(r, Record::Frame(_))));
        for record in &records {
            let line = serde_json::to_string(record).unwrap();
            serde_json::from_str::<Record>(&line).unwrap_or_else(|e| panic!("unreadable record {line}: {e}"));
        }
    }
}
