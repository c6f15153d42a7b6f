//! Capture → HAR: one `_resourceType: "websocket"` entry per connection, Chrome's `_webSocketMessages`, and `_frametap` for the rest.
//!
//! Every record keeps its position in the capture (`at`), so the import can put them back in file order:
//! data messages that Chrome can show (text that is valid UTF-8, binary; fragments reassembled) go to
//! `_webSocketMessages`, each with `_frametap.frames` describing the frames it came in; every other record of a
//! connection (its `open`, control frames, proxy frames, stray continuations, notes, annotations, its `close`)
//! goes whole into the entry's `_frametap.records`; records of no connection (`meta`, `end`) into `log._frametap`.

use super::export_http::{request_json, response_json, RequestJson, ResponseJson};
use super::export_messages::{failure_json, Message, Messages};
use super::spilled::{Payloads, SpilledConnections};
use super::{HAR_FORMAT_NAME, HAR_FORMAT_VERSION};
use crate::event::{ConnId, Opcode, Open, Peer, Record, Ts};
use serde::ser::{Error as _, SerializeSeq as _};
use serde::{Serialize, Serializer};
use std::collections::{HashMap, HashSet};

/// Builds a HAR 1.2 document from capture records as a `serde_json::Value` (for callers that edit it; writing one
/// goes through [`HarDocument`], which makes no copy of the document).
pub fn capture_to_har(records: &[Record]) -> serde_json::Value {
    serde_json::to_value(HarDocument::new(records)).expect("a HAR of records serialises")
}

/// The HAR of capture records, made as it is serialised: each entry, and each message of it, is built when written
/// and dropped after, so writing a HAR costs little beyond the records (the UI's HAR download and `frametap
/// convert` write this).
pub struct HarDocument<'a> {
    /// Records of no connection (`meta`, `end`), with their positions.
    global: Vec<(usize, &'a Record)>,
    /// Each connection's records, in the order connections first appear.
    conns: Connections<'a>,
}

/// Each connection's records: borrowed from records in memory, or read back from a spill as its entry is written.
enum Connections<'a> {
    Held(Vec<(ConnId, ConnRecords<'a>)>),
    Spilled(&'a SpilledConnections),
}

impl<'a> HarDocument<'a> {
    pub fn new(records: &'a [Record]) -> HarDocument<'a> {
        let mut global = Vec::new();
        let mut conns: Vec<(ConnId, ConnRecords)> = Vec::new();
        let mut index_of: HashMap<ConnId, usize> = HashMap::new();
        for (at, record) in records.iter().enumerate() {
            match record.conn() {
                None => global.push((at, record)),
                Some(id) => {
                    let index = *index_of.entry(id).or_insert_with(|| {
                        conns.push((id, ConnRecords { records: Vec::new(), payloads: Payloads::InRecords }));
                        conns.len() - 1
                    });
                    conns[index].1.records.push((at, record));
                }
            }
        }
        HarDocument { global, conns: Connections::Held(conns) }
    }

    /// The HAR of a capture read into a spill: each connection's records are read back when its entry is written.
    pub fn spilled(capture: &'a SpilledConnections) -> HarDocument<'a> {
        let global = capture.global.iter().map(|(at, record)| (*at, record)).collect();
        HarDocument { global, conns: Connections::Spilled(capture) }
    }

    /// How many entries the HAR has: one per connection.
    pub fn entries(&self) -> usize {
        match &self.conns {
            Connections::Held(conns) => conns.len(),
            Connections::Spilled(spilled) => spilled.conns.len(),
        }
    }
}

impl Serialize for HarDocument<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let log = LogJson {
            version: "1.2",
            creator: CreatorJson { name: "frametap", version: env!("CARGO_PKG_VERSION") },
            pages: &[],
            entries: Entries(&self.conns),
            frametap: LogExtension {
                format: HAR_FORMAT_NAME,
                version: HAR_FORMAT_VERSION,
                records: Stored { records: self.global.clone(), payloads: &Payloads::InRecords },
            },
        };
        DocumentJson { log }.serialize(serializer)
    }
}

#[derive(Serialize)]
struct DocumentJson<'a> {
    log: LogJson<'a>,
}

#[derive(Serialize)]
struct LogJson<'a> {
    version: &'static str,
    creator: CreatorJson,
    pages: &'static [u8],
    entries: Entries<'a>,
    #[serde(rename = "_frametap")]
    frametap: LogExtension<'a>,
}

#[derive(Serialize)]
struct CreatorJson {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct LogExtension<'a> {
    format: &'static str,
    version: u32,
    records: Stored<'a>,
}

/// The connections as entries, each made when it is written.
struct Entries<'a>(&'a Connections<'a>);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let spilled = match self.0 {
            Connections::Held(conns) => {
                let mut seq = serializer.serialize_seq(Some(conns.len()))?;
                for (id, conn) in conns {
                    seq.serialize_element(&conn.entry(*id).map_err(S::Error::custom)?)?;
                }
                return seq.end();
            }
            Connections::Spilled(spilled) => spilled,
        };
        let mut seq = serializer.serialize_seq(Some(spilled.conns.len()))?;
        for (id, places) in &spilled.conns {
            let (records, payloads) = spilled.read_connection(places).map_err(S::Error::custom)?;
            let conn = ConnRecords { records: records.iter().map(|(at, record)| (*at, record)).collect(), payloads };
            seq.serialize_element(&conn.entry(*id).map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

/// Records kept whole, each with its position in the capture: `{"at": …, "record": …}`.
struct Stored<'a> {
    records: Vec<(usize, &'a Record)>,
    /// Where the payloads of frames held without them are.
    payloads: &'a Payloads<'a>,
}

impl Serialize for Stored<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.records.len()))?;
        for (at, record) in &self.records {
            let record = self.payloads.whole(*at, record).map_err(S::Error::custom)?;
            seq.serialize_element(&StoredJson { at: *at, record: &record })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct StoredJson<'a> {
    at: usize,
    record: &'a Record,
}

struct ConnRecords<'a> {
    /// Every record of the connection with its position, in file order.
    records: Vec<(usize, &'a Record)>,
    /// Where its frames' payloads are.
    payloads: Payloads<'a>,
}

#[derive(Serialize)]
struct EntryJson<'a> {
    #[serde(rename = "startedDateTime")]
    started: String,
    time: f64,
    request: RequestJson<'a>,
    response: ResponseJson<'a>,
    cache: Empty,
    timings: Timings,
    #[serde(rename = "_resourceType")]
    resource_type: &'static str,
    #[serde(rename = "_webSocketMessages")]
    messages: Messages<'a>,
    /// HTTP Toolkit's field, so its import shows the close too.
    #[serde(rename = "_webSocketClose", skip_serializing_if = "Option::is_none")]
    close: Option<CloseJson<'a>>,
    #[serde(rename = "_frametap")]
    frametap: EntryExtension<'a>,
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(untagged)]
enum CloseJson<'a> {
    Closed { code: Option<u16>, reason: Option<&'a str>, timestamp: f64 },
    Aborted(&'static str),
}

#[derive(Serialize)]
struct EntryExtension<'a> {
    conn: ConnId,
    records: Stored<'a>,
}

impl<'a> ConnRecords<'a> {
    fn open(&self) -> Option<&'a Open> {
        self.records.iter().find_map(|(_, r)| match r {
            Record::Open(open) => Some(&**open),
            _ => None,
        })
    }

    fn entry(&'a self, conn: ConnId) -> anyhow::Result<EntryJson<'a>> {
        let messages = self.messages();
        let mut in_messages: HashSet<usize> = HashSet::new();
        for message in &messages {
            if message.shown(&self.payloads)? {
                in_messages.extend(message.frames.iter().map(|(at, _)| *at));
            }
        }
        let extras: Vec<(usize, &Record)> =
            self.records.iter().filter(|(at, _)| !in_messages.contains(at)).copied().collect();
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
        let close = self.records.iter().find_map(|(_, r)| match r {
            Record::Close(c) => Some(c),
            _ => None,
        });
        Ok(EntryJson {
            started: first_ts.unwrap_or_else(Ts::now).to_rfc3339(),
            time,
            request: request_json(open),
            response: response_json(open),
            cache: Empty {},
            timings,
            resource_type: "websocket",
            messages: Messages { messages, payloads: &self.payloads, failure: open.and_then(failure_json) },
            close: close.map(|close| {
                if close.clean || close.code.is_some() {
                    CloseJson::Closed {
                        code: close.code,
                        reason: close.reason.as_deref(),
                        timestamp: epoch_secs(close.ts),
                    }
                } else {
                    CloseJson::Aborted("aborted")
                }
            }),
            frametap: EntryExtension { conn, records: Stored { records: extras, payloads: &self.payloads } },
        })
    }

    /// The connection's data messages, assembled from their frames.
    fn messages(&self) -> Vec<Message<'a>> {
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
        messages
    }
}

#[derive(Serialize)]
struct Timings {
    blocked: i8,
    dns: i8,
    ssl: i8,
    connect: i8,
    send: i8,
    wait: f64,
    receive: f64,
}

/// An entry's `time` and `timings`, as Chrome's HAR export makes them for a WebSocket: the timings cover the
/// connection from the request to its last record (`wait` the handshake round trip, `receive` the rest of its life),
/// and `time` is their sum (HAR 1.2: the timings that are not -1, `ssl` being part of `connect`). Whole microseconds
/// in milliseconds, exactly: seconds times 1000 would give 1.4760000000000002.
fn entry_timings(handshake_ms: Option<f64>, span_micros: i64) -> (f64, Timings) {
    let wait_micros =
        handshake_ms.filter(|ms| ms.is_finite() && *ms > 0.0).map_or(0, |ms| (ms * 1000.0).round() as i64);
    let receive_micros = (span_micros - wait_micros).max(0);
    let ms = |micros: i64| micros as f64 / 1000.0;
    let timings = Timings {
        blocked: -1,
        dns: -1,
        ssl: -1,
        connect: -1,
        send: 0,
        wait: ms(wait_micros),
        receive: ms(receive_micros),
    };
    (ms(wait_micros + receive_micros), timings)
}

/// Epoch seconds as a float, as Chrome writes message times.
pub(crate) fn epoch_secs(ts: Ts) -> f64 {
    ts.micros() as f64 / 1e6
}
