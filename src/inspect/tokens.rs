//! Finds credentials on a connection (URL, headers, cookies, JSON frames) and reports each once as a `token` record.
//!
//! JWTs are decoded without verifying them; anything else that travels where credentials travel is
//! reported as opaque. Expiry is judged against the moment the token was seen (live: now; `inspect`:
//! the record's own time), so an old capture does not read as expired. See docs/tokens.md.

mod find;
mod report;

use crate::event::{ConnId, Frame, Record, Token, Ts};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::hash::BuildHasher;

pub(crate) use find::{bare_text_token, percent_decode, plausible};
pub use find::{is_secret_field, is_secret_param};
pub(crate) use report::{epoch_claim, fingerprint};

/// What a credential turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A JWT whose header and claims decode (unverified).
    Jwt,
    /// A credential frametap cannot read (a UUID session token, a non-JWT Bearer value, a cookie).
    Opaque,
    /// Presented as a JWT but does not decode; the `reason` says why.
    Malformed,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Jwt => "jwt",
            TokenKind::Opaque => "opaque",
            TokenKind::Malformed => "malformed",
        }
    }
}

/// A credential seen on this connection, as the close analysis needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenToken {
    /// Where it travelled: `query:token`, `header:authorization`, `cookie:sid`, `frame:body.jwt`, …
    pub source: String,
    pub kind: TokenKind,
    /// `exp` claim, epoch seconds (JWTs only).
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    /// The frame it first came in (`None` for the handshake).
    pub seq: Option<u64>,
    /// When that frame (or the handshake) passed: the record's own time, whatever `seen_at` judged it against.
    pub ts: Ts,
    /// True for a token that authorises REST calls rather than this socket (Genesys `getJwt`'s `JwtResponse`).
    pub rest_only: bool,
    /// Short stable hash (12 hex digits) identifying the token across connections; never the secret.
    pub fingerprint: String,
}

/// Tracks the credentials of one connection; feed it every record of that connection in order.
pub struct TokenTracker {
    require_scopes: Vec<String>,
    seen: Vec<SeenToken>,
    /// Hashes of every value already reported (dedupe by value, not by place).
    values: HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl TokenTracker {
    /// `require_scopes`: scopes every JWT must carry in `scope`/`scp` (`--require-scope`, repeatable).
    pub fn new(require_scopes: Vec<String>) -> Self {
        TokenTracker { require_scopes, seen: Vec::new(), values: HashSet::new(), hasher: Default::default() }
    }

    /// Every credential first seen in this record. On `open`: query parameters (request path and
    /// upstream URL), Authorization, Proxy-Authorization, Cookie, Sec-WebSocket-Protocol and other
    /// credential headers of the client's request, Set-Cookie and headers of the response. On a text
    /// `frame`: any string in JSON that is a JWT, and credential-named fields (`token`, `code`, …).
    /// `seen_at` is the moment expiry is judged against (live: now; inspect: the record's own ts).
    pub fn observe(&mut self, record: &Record, seen_at: Ts) -> Vec<Token> {
        match record {
            Record::Open(open) => self.report(open.conn, open.ts, None, find::in_open(open), seen_at),
            Record::Frame(frame) => self.observe_frame(frame, seen_at),
            _ => Vec::new(),
        }
    }

    /// Every credential first seen in one text message: a whole frame, or a fragmented message put back
    /// together (the analysis passes those, not their fragments).
    pub fn observe_frame(&mut self, frame: &Frame, seen_at: Ts) -> Vec<Token> {
        self.observe_message(frame, seen_at, None)
    }

    /// [`Self::observe_frame`], given the message's JSON object when it was already parsed (by the profile): the
    /// same text is not parsed again.
    pub fn observe_message(&mut self, frame: &Frame, seen_at: Ts, parsed: Option<Map<String, Value>>) -> Vec<Token> {
        match frame.text() {
            Some(text) => {
                self.report(frame.conn, frame.ts, Some(frame.seq), find::in_frame_text(text, parsed), seen_at)
            }
            None => Vec::new(),
        }
    }

    fn report(
        &mut self,
        conn: ConnId,
        ts: Ts,
        seq: Option<u64>,
        candidates: Vec<find::Candidate<'_>>,
        seen_at: Ts,
    ) -> Vec<Token> {
        let mut tokens = Vec::new();
        for candidate in candidates {
            if !self.values.insert(self.hasher.hash_one(candidate.value.as_ref())) {
                continue;
            }
            let (seen, details) = report::describe(&candidate, (ts, seq), seen_at, &self.require_scopes);
            tracing::trace!(conn, source = %seen.source, kind = seen.kind.as_str(), "token seen");
            self.seen.push(seen);
            tokens.push(Token { conn, ts, seq, source: candidate.source, details });
        }
        tokens
    }

    /// Tokens seen so far on this connection, in the order they were first seen.
    pub fn seen(&self) -> &[SeenToken] {
        &self.seen
    }

    /// The scopes this tracker requires (from `--require-scope`).
    pub fn require_scopes(&self) -> &[String] {
        &self.require_scopes
    }
}
