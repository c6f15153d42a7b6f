//! Capture → HAR: one `_resourceType: "websocket"` entry per connection, Chrome's `_webSocketMessages`, and `_frametap` for the rest.
//!
//! Every record keeps its position in the capture (`at`), so the import can put them back in file order:
//! data messages that Chrome can show (text that is valid UTF-8, binary; fragments reassembled) go to
//! `_webSocketMessages`, each with `_frametap.frames` describing the frames it came in; every other record of a
//! connection (its `open`, control frames, proxy frames, stray continuations, notes, annotations, its `close`)
//! goes whole into the entry's `_frametap.records`; records of no connection (`meta`, `end`) into `log._frametap`.

use super::{EXTENSION, HAR_FORMAT_NAME, HAR_FORMAT_VERSION};
use crate::event::{header, ConnId, Frame, Headers, Opcode, Open, Peer, Record, Ts};
use base64::Engine as _;
use serde_json::{json, Map, Value};

/// Builds a HAR 1.2 document from capture records (the UI's HAR download and `frametap convert` call this).
pub fn capture_to_har(records: &[Record]) -> Value {
    let mut global = Vec::new();
    let mut order: Vec<ConnId> = Vec::new();
    let mut conns: std::collections::HashMap<ConnId, ConnRecords> = Default::default();
    for (at, record) in records.iter().enumerate() {
        match record.conn() {
            None => global.push(stored(at, record)),
            Some(id) => conns
                .entry(id)
                .or_insert_with(|| {
                    order.push(id);
                    ConnRecords::default()
                })
                .push(at, record),
        }
    }
    let entries: Vec<Value> = order.iter().map(|id| conns[id].entry(*id)).collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": { "name": "frametap", "version": env!("CARGO_PKG_VERSION") },
            "pages": [],
            "entries": entries,
            EXTENSION: {
                "format": HAR_FORMAT_NAME,
                "version": HAR_FORMAT_VERSION,
                "records": global,
            },
        }
    })
}

/// A record kept whole, with its position in the capture.
fn stored(at: usize, record: &Record) -> Value {
    json!({ "at": at, "record": record })
}

#[derive(Default)]
struct ConnRecords<'a> {
    /// Every record of the connection with its position, in file order.
    records: Vec<(usize, &'a Record)>,
}

/// A data message being assembled from its frames.
struct Message<'a> {
    from: Peer,
    opcode: Opcode,
    frames: Vec<(usize, &'a Frame)>,
    finished: bool,
}

impl<'a> ConnRecords<'a> {
    fn push(&mut self, at: usize, record: &'a Record) {
        self.records.push((at, record));
    }

    fn open(&self) -> Option<&'a Open> {
        self.records.iter().find_map(|(_, r)| match r {
            Record::Open(open) => Some(&**open),
            _ => None,
        })
    }

    fn entry(&self, conn: ConnId) -> Value {
        let (messages, in_messages) = self.messages();
        let extras: Vec<Value> = self
            .records
            .iter()
            .filter(|(at, _)| !in_messages.contains(at))
            .map(|(at, record)| stored(*at, record))
            .collect();
        let open = self.open();
        let first_ts = open.map(|o| o.ts).or_else(|| self.records.first().map(|(_, r)| r.ts()));
        // A failed upgrade's `open` is dated at the request but written once it failed: its entry lasts until then,
        // as Chrome's entry for a failed request lasts until the failure.
        let last_ts = self.records.last().map(|(_, r)| r.ts()).max(open.and_then(Open::failed_at));
        let span_micros = match (first_ts, last_ts) {
            (Some(a), Some(b)) => (b.micros() - a.micros()).max(0),
            _ => 0,
        };
        let (time, timings) = entry_timings(open.and_then(|o| o.handshake_ms), span_micros);
        let mut entry = json!({
            "startedDateTime": first_ts.unwrap_or_else(Ts::now).to_rfc3339(),
            "time": time,
            "request": request_json(open),
            "response": response_json(open),
            "cache": {},
            "timings": timings,
            "_resourceType": "websocket",
            "_webSocketMessages": messages,
        });
        if let Some(close) = self.records.iter().find_map(|(_, r)| match r {
            Record::Close(c) => Some(c),
            _ => None,
        }) {
            // HTTP Toolkit's field, so its import shows the close too.
            entry["_webSocketClose"] = if close.clean || close.code.is_some() {
                json!({ "code": close.code, "reason": close.reason, "timestamp": epoch_secs(close.ts) })
            } else {
                json!("aborted")
            };
        }
        entry[EXTENSION] = json!({ "conn": conn, "records": extras });
        entry
    }

    /// Chrome-style messages, and the positions of the frame records they carry.
    fn messages(&self) -> (Vec<Value>, std::collections::HashSet<usize>) {
        let mut messages: Vec<Message> = Vec::new();
        let mut open_by_side: [Option<usize>; 2] = [None, None];
        for (at, record) in &self.records {
            let Record::Frame(frame) = record else {
                continue;
            };
            let side = match frame.from {
                Peer::Client => 0,
                Peer::Server => 1,
                Peer::Proxy => continue,
            };
            if frame.rsv != 0 {
                continue;
            }
            match frame.opcode {
                Opcode::Text | Opcode::Binary => {
                    if let Some(index) = open_by_side[side].take() {
                        messages[index].finished = true;
                    }
                    messages.push(Message {
                        from: frame.from,
                        opcode: frame.opcode,
                        frames: vec![(*at, frame)],
                        finished: frame.fin,
                    });
                    if !frame.fin {
                        open_by_side[side] = Some(messages.len() - 1);
                    }
                }
                Opcode::Continuation => {
                    if let Some(index) = open_by_side[side] {
                        let message = &mut messages[index];
                        message.frames.push((*at, frame));
                        if frame.fin {
                            message.finished = true;
                            open_by_side[side] = None;
                        }
                    }
                }
                _ => {}
            }
        }
        let mut carried = std::collections::HashSet::new();
        let mut out = Vec::new();
        for message in &messages {
            if let Some(value) = message_json(message) {
                carried.extend(message.frames.iter().map(|(at, _)| *at));
                out.push(value);
            }
        }
        (out, carried)
    }
}

/// A message as Chrome writes it, with its frames in `_frametap.frames`; `None` when Chrome cannot show it
/// (text that is not valid UTF-8), so its frames are kept whole instead.
fn message_json(message: &Message) -> Option<Value> {
    let payload: Vec<u8> = message.frames.iter().flat_map(|(_, f)| f.payload.iter().copied()).collect();
    let data = match message.opcode {
        Opcode::Text => String::from_utf8(payload).ok()?,
        _ => base64::engine::general_purpose::STANDARD.encode(&payload),
    };
    let frames: Vec<Value> = message
        .frames
        .iter()
        .map(|(at, frame)| {
            let mut f = Map::new();
            f.insert("at".into(), json!(at));
            f.insert("ts".into(), json!(frame.ts));
            f.insert("seq".into(), json!(frame.seq));
            f.insert("fin".into(), json!(frame.fin));
            f.insert("len".into(), json!(frame.len));
            if frame.payload.len() as u64 != frame.len {
                f.insert("size".into(), json!(frame.payload.len()));
            }
            if frame.to != frame.from.other() {
                f.insert("to".into(), json!(frame.to));
            }
            if !frame.relayed {
                f.insert("relayed".into(), json!(false));
            }
            Value::Object(f)
        })
        .collect();
    let last_ts = message.frames.last().map(|(_, f)| f.ts)?;
    Some(json!({
        "type": if message.from == Peer::Client { "send" } else { "receive" },
        "time": epoch_secs(last_ts),
        "opcode": message.opcode.as_u8(),
        "data": data,
        EXTENSION: { "frames": frames, "finished": message.finished },
    }))
}

/// An entry's `time` and `timings`, as Chrome's HAR export makes them for a WebSocket: the timings cover the
/// connection from the request to its last record (`wait` the handshake round trip, `receive` the rest of its life),
/// and `time` is their sum (HAR 1.2: the timings that are not -1, `ssl` being part of `connect`). Whole microseconds
/// in milliseconds, exactly: seconds times 1000 would give 1.4760000000000002.
fn entry_timings(handshake_ms: Option<f64>, span_micros: i64) -> (f64, Value) {
    let wait_micros =
        handshake_ms.filter(|ms| ms.is_finite() && *ms > 0.0).map_or(0, |ms| (ms * 1000.0).round() as i64);
    let receive_micros = (span_micros - wait_micros).max(0);
    let ms = |micros: i64| micros as f64 / 1000.0;
    let timings = json!({
        "blocked": -1, "dns": -1, "ssl": -1, "connect": -1, "send": 0,
        "wait": ms(wait_micros), "receive": ms(receive_micros),
    });
    (ms(wait_micros + receive_micros), timings)
}

/// Epoch seconds as a float, as Chrome writes message times.
pub(crate) fn epoch_secs(ts: Ts) -> f64 {
    ts.micros() as f64 / 1e6
}

fn name_values(headers: &Headers) -> Vec<Value> {
    headers.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect()
}

/// The URL a HAR viewer shows: the upstream frametap dialled when it is a ws(s) URL, else the client's Host and path.
fn request_url(open: &Open) -> String {
    match &open.upstream {
        Some(up) if up.starts_with("ws://") || up.starts_with("wss://") => up.clone(),
        _ => {
            let host = header(&open.request.headers, "host").unwrap_or("localhost");
            format!("ws://{host}{}", open.request.path)
        }
    }
}

fn request_json(open: Option<&Open>) -> Value {
    let Some(open) = open else {
        return json!({
            "method": "GET", "url": "ws://unknown/", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
            "queryString": [], "headersSize": -1, "bodySize": 0,
        });
    };
    let query = open.request.path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query_string: Vec<Value> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            json!({ "name": percent_decode(name), "value": percent_decode(value) })
        })
        .collect();
    let cookies: Vec<Value> = open
        .request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .map(|(n, v)| json!({ "name": n, "value": v }))
        .collect();
    json!({
        "method": open.request.method,
        "url": request_url(open),
        "httpVersion": "HTTP/1.1",
        "cookies": cookies,
        "headers": name_values(&open.request.headers),
        "queryString": query_string,
        "headersSize": -1,
        "bodySize": 0,
    })
}

/// The upgrade's answer as received: the relayed one, or a 101 that opened no WebSocket (kept next to the `error`
/// saying why), shown as Chrome shows a failed request that got an answer: its status and headers, with `_error`.
/// An upgrade that got no answer at all is Chrome's failed request: status 0 and `_error`.
fn response_json(open: Option<&Open>) -> Value {
    let error = open.and_then(|o| o.error.clone());
    let Some(response) = open.and_then(|o| o.response.as_ref()) else {
        return json!({
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": { "size": 0, "mimeType": "x-unknown" }, "redirectURL": "", "headersSize": -1, "bodySize": -1,
            "_error": error,
        });
    };
    let status_text = http::StatusCode::from_u16(response.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let mut content = json!({
        "size": 0,
        "mimeType": header(&response.headers, "content-type").unwrap_or("x-unknown"),
    });
    if let Some(body) = &response.body {
        content["size"] = json!(body.len());
        content["text"] = json!(body);
    } else if let Some(b64) = &response.body_base64 {
        content["text"] = json!(b64);
        content["encoding"] = json!("base64");
    }
    let mut out = json!({
        "status": response.status,
        "statusText": status_text,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": name_values(&response.headers),
        "content": content,
        "redirectURL": header(&response.headers, "location").unwrap_or(""),
        "headersSize": -1,
        "bodySize": 0,
    });
    if let Some(error) = error {
        out["_error"] = json!(error);
    }
    out
}

/// Decodes `%XX` escapes and `+` (as HAR viewers show query values); bad escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
