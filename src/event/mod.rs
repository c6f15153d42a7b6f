//! The capture format's records: what every source emits and every sink consumes (docs/capture-format.md).
//!
//! A capture file is these records serialised one per line, so the live view and a later
//! `frametap inspect` see exactly the same thing. Field names here are a public, versioned contract.

mod body;
mod end;
mod frame;
mod json;
mod note;
mod ts;

pub use end::{End, RecordCounts};
pub(crate) use frame::text_up_to_a_cut;
pub use frame::{parse_close_payload, Frame};
pub use json::write_record_json;
pub use note::{Note, NoteLevel};
pub use ts::{millis, Ts};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `format` value of a capture's `meta` record.
pub const FORMAT_NAME: &str = "frametap-capture";
/// The version of a JSON Lines capture (version 2 may hold compact frames: `capture::COMPACT_VERSION`).
pub const FORMAT_VERSION: u32 = 1;

/// A connection's id, unique within one capture (1, 2, …).
pub type ConnId = u64;

/// One end of a relayed conversation, or frametap itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    Client,
    Server,
    Proxy,
}

impl Peer {
    pub fn as_str(self) -> &'static str {
        match self {
            Peer::Client => "client",
            Peer::Server => "server",
            Peer::Proxy => "proxy",
        }
    }
    /// The index of an endpoint in per-endpoint pairs (client 0, server 1); `None` for frametap itself.
    pub fn endpoint(self) -> Option<usize> {
        match self {
            Peer::Client => Some(0),
            Peer::Server => Some(1),
            Peer::Proxy => None,
        }
    }
    /// The other end of the conversation (the proxy has none; it maps to itself).
    pub fn other(self) -> Peer {
        match self {
            Peer::Client => Peer::Server,
            Peer::Server => Peer::Client,
            Peer::Proxy => Peer::Proxy,
        }
    }
}

/// A WebSocket frame opcode (RFC 6455 §5.2). Reserved opcodes are kept as `Reserved(n)`, written `"reserved-N"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    Reserved(u8),
}

impl Opcode {
    pub fn from_u8(n: u8) -> Opcode {
        match n {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            other => Opcode::Reserved(other & 0x0F),
        }
    }
    pub fn as_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
            Opcode::Reserved(n) => n,
        }
    }
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
    /// Text, binary or continuation: a frame that carries message data.
    pub fn is_data(self) -> bool {
        matches!(self, Opcode::Text | Opcode::Binary | Opcode::Continuation)
    }
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self {
            Opcode::Continuation => "continuation".into(),
            Opcode::Text => "text".into(),
            Opcode::Binary => "binary".into(),
            Opcode::Close => "close".into(),
            Opcode::Ping => "ping".into(),
            Opcode::Pong => "pong".into(),
            Opcode::Reserved(n) => format!("reserved-{n}").into(),
        }
    }
    pub fn parse(name: &str) -> Option<Opcode> {
        Some(match name {
            "continuation" => Opcode::Continuation,
            "text" => Opcode::Text,
            "binary" => Opcode::Binary,
            "close" => Opcode::Close,
            "ping" => Opcode::Ping,
            "pong" => Opcode::Pong,
            other => Opcode::Reserved(other.strip_prefix("reserved-")?.parse().ok()?),
        })
    }
}

impl Serialize for Opcode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Opcode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Opcode::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown opcode {text:?}")))
    }
}

/// A header list in wire order; repeated names are kept as separate pairs.
pub type Headers = Vec<(String, String)>;

/// Looks a header up by name, case-insensitively (the first match).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// An HTTP request head as one side sent it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    /// Path with the query string, exactly as requested (`/v1?deploymentId=…`).
    pub path: String,
    pub headers: Headers,
}

/// An HTTP response head (and body, when the upgrade was refused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Headers,
    /// The body as text, when it is valid UTF-8 (refused upgrades only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body as base64, when it is not valid UTF-8 (refused upgrades only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

/// First line of every capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub ts: Ts,
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub version: u32,
    /// Version of the frametap that wrote the file.
    pub frametap: String,
    /// The command line, one argument per element.
    pub command: Vec<String>,
    /// What produced the records: `proxy`, `forward`, `replay-serve`, `replay-send`, `import`, …
    pub mode: String,
    /// The upstream every connection went to (`wss://…`, `sim:genesys`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// True when secrets were replaced by placeholders before writing.
    pub redacted: bool,
    /// True when upstream TLS certificates were not verified (`--insecure-upstream`).
    #[serde(default)]
    pub insecure_upstream: bool,
}

/// A connection's handshake, on both legs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Open {
    pub conn: ConnId,
    pub ts: Ts,
    /// The client's socket address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    /// The upgrade request exactly as the client sent it.
    pub request: HttpRequest,
    /// The URL frametap dialled (`wss://host/v1?…`, or `sim:genesys/v1?…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The request as frametap sent it upstream (headers after forwarding rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_request: Option<HttpRequest>,
    /// The upstream's answer, as relayed to the client (status 101 for an accepted upgrade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
    /// Why the upgrade failed without an answer to relay (the upstream could not be reached, or its answer opens
    /// no WebSocket); the client got a 502 naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds from sending the upgrade request upstream to its response: the handshake round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_ms: Option<f64>,
    /// The kernel's round trip of the TCP connection to the upstream, in milliseconds, read once the upgrade
    /// was accepted (Linux `TCP_INFO`). Unlike `handshake_ms` it holds no server processing time. Absent off
    /// Linux, through an upstream proxy, and in captures made before it existed or imported from a HAR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_tcp_rtt_ms: Option<f64>,
    /// Only for an upgrade that failed (a non-101 answer, or `error`): milliseconds from the request's arrival
    /// (`ts`) to when frametap knew it had failed (the answer read whole, or the error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_ms: Option<f64>,
    /// Only for an accepted upgrade: milliseconds from the request's arrival (`ts`) to when frametap passed the 101
    /// on to the client, reaching the upstream included (DNS, TCP, TLS, an upstream proxy), which `handshake_ms`
    /// is not. Absent in captures made before it existed, imported from a HAR, or from `replay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgraded_ms: Option<f64>,
}

impl Open {
    /// The `open` of `request`, arrived at `ts`, with nothing else known yet: callers set what they know
    /// (`Open { upstream: Some(url), ..Open::new(conn, ts, request) }`).
    pub fn new(conn: ConnId, ts: Ts, request: HttpRequest) -> Open {
        Open {
            conn,
            ts,
            client_addr: None,
            request,
            upstream: None,
            upstream_request: None,
            response: None,
            error: None,
            handshake_ms: None,
            upstream_tcp_rtt_ms: None,
            failed_ms: None,
            upgraded_ms: None,
        }
    }

    /// The upstream's answer that the upgrade's outcome rests on: `None` when `error` says the upgrade failed
    /// without an answer to relay (a `response` kept next to an `error` is a 101 that opened no WebSocket, kept
    /// only for the record).
    pub fn relayed_response(&self) -> Option<&HttpResponse> {
        self.response.as_ref().filter(|_| self.error.is_none())
    }

    /// When the upgrade was known to have failed (`ts` plus `failed_ms`); `None` for one that did not fail, or
    /// whose record does not say (written before frametap recorded it).
    pub fn failed_at(&self) -> Option<Ts> {
        let ms = self.failed_ms.filter(|ms| ms.is_finite() && *ms >= 0.0)?;
        let later = self.ts.0.checked_add_signed(chrono::Duration::microseconds((ms * 1000.0).round() as i64))?;
        Ts::from_utc(later)
    }
}

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Close {
    pub conn: ConnId,
    pub ts: Ts,
    /// Who closed first: sent the first close frame, or dropped TCP. When `initiator_unknown` is set, the
    /// recording did not say, and this holds `server` only because the field needs a side: read [`Close::closer`].
    pub initiator: Peer,
    /// True when the recording does not say who closed first (a HAR's `_webSocketClose` without close frames).
    /// `initiator` (and `dropped_by`, for a drop) then hold a placeholder, which the diagnosis does not claim.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub initiator_unknown: bool,
    /// The first close frame's code (none for a TCP drop or an empty close frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// False when the connection ended with a TCP drop rather than a close handshake.
    pub clean: bool,
    /// The side that ended TCP without a close frame (or without answering one), if any. It may differ
    /// from `initiator`: the server closes with a frame, then the client drops TCP without replying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_by: Option<Peer>,
    /// Milliseconds from the handshake to the end.
    pub duration_ms: f64,
    /// What happened, in words ("server reset the TCP connection", "close handshake timed out", …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// [`Close::closer_phrase`] for a closer's name as records hold it (`initiator` in a diagnosis).
pub fn closer_phrase(name: &str) -> &str {
    if name == "unknown" {
        "an unknown side"
    } else {
        name
    }
}

impl Close {
    /// Who closed first, when the record knows it (see `initiator_unknown`).
    pub fn closer(&self) -> Option<Peer> {
        (!self.initiator_unknown).then_some(self.initiator)
    }

    /// The closer's name for records: `client`, `server`, `proxy`, or `unknown`.
    pub fn closer_name(&self) -> &'static str {
        self.closer().map_or("unknown", Peer::as_str)
    }

    /// The closer in a sentence: `client`, `server`, `proxy`, or `an unknown side` ("CLOSED first by an unknown
    /// side", not "by unknown").
    pub fn closer_phrase(&self) -> &'static str {
        closer_phrase(self.closer_name())
    }

    /// How it ended, in a few words: `closed`, `dropped TCP`, or a close the other side did not answer.
    pub fn how(&self) -> String {
        match self.dropped_by {
            _ if self.clean => "closed".into(),
            _ if self.initiator_unknown => "ended without a close handshake".into(),
            Some(peer) if peer == self.initiator => "dropped TCP".into(),
            Some(peer) => format!("closed, then the {} dropped TCP without answering the close", peer.as_str()),
            None => "closed, but the close handshake never completed".into(),
        }
    }
}

/// A credential found on a connection, reported once when first seen (filled in by `inspect::tokens`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub conn: ConnId,
    pub ts: Ts,
    /// The frame it was found in, when it came in a frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Where: `query:access_token`, `header:authorization`, `frame:body.jwt`, …
    pub source: String,
    /// Everything else about the token (kind, claims, flags); see docs/capture-format.md.
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The analysis of a connection's end (filled in by `inspect::close`); see docs/diagnosis.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub conn: ConnId,
    pub ts: Ts,
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// A protocol profile's reading of one frame (for Genesys: the request's action, the response's class and code).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub conn: ConnId,
    pub ts: Ts,
    /// The annotated frame.
    pub seq: u64,
    /// The profile that wrote it (`genesys`).
    pub profile: String,
    /// One short line for the frame table (`configureSession`, `SessionResponse 200`, …).
    pub text: String,
    /// Anything else the profile knows (pairing by tracingId, latency, lint findings); see docs/capture-format.md.
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// One line of a capture file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    // The large, rare kinds are boxed so a record (moved once per sink stage for every frame) stays small.
    Meta(Box<Meta>),
    Open(Box<Open>),
    Frame(Frame),
    Annotation(Box<Annotation>),
    Token(Box<Token>),
    Close(Close),
    Diagnosis(Diagnosis),
    Note(Note),
    End(End),
}

macro_rules! record_from {
    ($($kind:ident => $wrap:expr),* $(,)?) => {
        $(impl From<$kind> for Record {
            fn from(record: $kind) -> Record {
                $wrap(record)
            }
        })*
    };
}

record_from! {
    Meta => |r| Record::Meta(Box::new(r)),
    Open => |r| Record::Open(Box::new(r)),
    Frame => Record::Frame,
    Annotation => |r| Record::Annotation(Box::new(r)),
    Token => |r| Record::Token(Box::new(r)),
    Close => Record::Close,
    Diagnosis => Record::Diagnosis,
    Note => Record::Note,
    End => Record::End,
}

impl Record {
    /// The connection this record belongs to, if any.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            Record::Open(r) => Some(r.conn),
            Record::Frame(r) => Some(r.conn),
            Record::Annotation(r) => Some(r.conn),
            Record::Token(r) => Some(r.conn),
            Record::Close(r) => Some(r.conn),
            Record::Diagnosis(r) => Some(r.conn),
            Record::Note(r) => r.conn,
            Record::Meta(_) | Record::End(_) => None,
        }
    }
    pub fn ts(&self) -> Ts {
        match self {
            Record::Meta(r) => r.ts,
            Record::Open(r) => r.ts,
            Record::Frame(r) => r.ts,
            Record::Annotation(r) => r.ts,
            Record::Token(r) => r.ts,
            Record::Close(r) => r.ts,
            Record::Diagnosis(r) => r.ts,
            Record::Note(r) => r.ts,
            Record::End(r) => r.ts,
        }
    }
    /// Every value [`Record::kind`] gives.
    pub const KINDS: [&'static str; 9] =
        ["meta", "open", "frame", "annotation", "token", "close", "diagnosis", "note", "end"];

    pub fn kind(&self) -> &'static str {
        match self {
            Record::Meta(_) => "meta",
            Record::Open(_) => "open",
            Record::Frame(_) => "frame",
            Record::Annotation(_) => "annotation",
            Record::Token(_) => "token",
            Record::Close(_) => "close",
            Record::Diagnosis(_) => "diagnosis",
            Record::Note(_) => "note",
            Record::End(_) => "end",
        }
    }
}
