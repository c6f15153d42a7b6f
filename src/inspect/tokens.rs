//! PLACEHOLDER until the `tokens` branch lands: the TokenTracker API the analyzer is written against.
//! Replaced wholesale by the real module on merge (it finds nothing).

use crate::event::{self, Record, Ts};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Jwt,
    Opaque,
    Malformed,
}

#[derive(Clone, Debug)]
pub struct SeenToken {
    pub source: String,
    pub kind: TokenKind,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub seq: Option<u64>,
    pub rest_only: bool,
    pub fingerprint: String,
}

#[derive(Debug, Default)]
pub struct TokenTracker {
    seen: Vec<SeenToken>,
}

impl TokenTracker {
    pub fn new(_require_scopes: Vec<String>) -> Self {
        TokenTracker::default()
    }
    pub fn observe(&mut self, _record: &Record, _seen_at: Ts) -> Vec<event::Token> {
        Vec::new()
    }
    pub fn seen(&self) -> &[SeenToken] {
        &self.seen
    }
}
