//! Masks secrets in capture records for sharing, keeping the session readable and replayable (docs/redaction.md).
//!
//! Every secret is replaced by a stable placeholder: the same secret always gets the same placeholder
//! within one [`Redactor`] (a keyed hash), so replay, diffs and "same token on two connections" still line
//! up. JWTs keep their header and claims and lose only their signature; values presented as JWTs that do not
//! decode (malformed, encrypted) keep at most their JOSE header; which values are JWTs is the token finder's rule
//! (`inspect::jwt::is_jwt_candidate`), so whatever `inspect` reports as a token is masked. UUID session tokens
//! become UUID-shaped placeholders, so a replayed Genesys session still looks valid.

mod command;
mod cut_off;
mod diagnoses;
mod fragments;
mod records;
mod text;

pub use command::{run_redact, RedactCommand};

use crate::event::{ConnId, Frame, Open, Record};
use crate::inspect::jwt::{decode_header, decode_unverified, is_jwt_candidate};
use crate::inspect::tokens::fingerprint;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Placeholders for UUID-shaped secrets start with this (an obviously fake, still valid UUID v4).
pub const UUID_PLACEHOLDER_PREFIX: &str = "00000000-0000-4000-8000-";
/// Placeholders for other opaque secrets start with this.
pub const PLACEHOLDER_PREFIX: &str = "redacted-";
/// A redacted JWT's signature part starts with this (it stays valid base64url).
pub const SIGNATURE_PLACEHOLDER_PREFIX: &str = "redacted";

/// Secrets shorter than this are masked where they are found by name, but not searched for elsewhere
/// (replacing every "abc" in a capture would garble it).
const MIN_KNOWN_SECRET_LEN: usize = 8;

/// Replaces secrets with stable placeholders. One per run (the proxy's `--redact`, one `frametap redact`).
pub struct Redactor {
    key: Vec<u8>,
    /// Every secret replaced so far → its placeholder, so later mentions of it anywhere are replaced too.
    replaced: HashMap<String, String>,
    /// Per connection (`None`: records of no connection), the secrets long enough to search for in
    /// free text, longest first. Scoped per connection so the search stays short on a long proxy run.
    known: HashMap<Option<ConnId>, KnownSecrets>,
    /// The connection of the record being redacted.
    current: Option<ConnId>,
    /// A replaced secret's token fingerprint → its placeholder's, so a `token` record's fingerprint can be swapped
    /// for one that is no plain hash of the secret (placeholders, already redacted, map to themselves).
    fingerprints: HashMap<String, String>,
    /// Records held while a text message arrives in fragments ([`Redactor::feed`]).
    held: fragments::Held,
    /// The stream's diagnoses, derived afresh from the redacted records ([`Redactor::feed`]).
    rederived: diagnoses::Rederived,
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

impl Redactor {
    /// A redactor with a fresh random key: placeholders are stable within this run and cannot be
    /// linked back to the secret by hashing guesses.
    pub fn new() -> Self {
        Self::with_key(&rand::random::<[u8; 32]>())
    }

    /// A redactor with a chosen key: the same key gives the same placeholders across runs.
    pub fn with_key(key: &[u8]) -> Self {
        Redactor {
            key: key.to_vec(),
            replaced: HashMap::new(),
            known: HashMap::new(),
            current: None,
            fingerprints: HashMap::new(),
            held: fragments::Held::default(),
            rederived: diagnoses::Rederived::default(),
        }
    }

    /// How many distinct secrets have been replaced so far.
    pub fn secrets_replaced(&self) -> usize {
        self.replaced.len()
    }

    /// Masks the secrets in one record. Frame `len` follows the new payload; `meta` gets `redacted: true`.
    pub fn redact(&mut self, record: Record) -> Record {
        records::redact_record(self, record)
    }

    /// Masks the secrets in one record, in a stream of records: returns the records ready to be written, in
    /// order. While a text message of a connection arrives in fragments, that connection's records are held
    /// (and none returned) until it ends; [`Redactor::finish`] lets go of what is still held. A `diagnosis`
    /// record is replaced by the one the analysis derives from the redacted records before it (what `inspect`
    /// computes on the copy): its lengths and quotes are the redacted frames', never the secrets'.
    pub fn feed(&mut self, record: Record) -> Vec<Record> {
        let ready = self.feed_unanalysed(record);
        ready.into_iter().map(|record| self.rederived.pass(record)).collect()
    }

    /// Lets go of every record still held (messages whose last fragment never came are redacted as they stand).
    pub fn finish(&mut self) -> Vec<Record> {
        let ready = self.finish_unanalysed();
        ready.into_iter().map(|record| self.rederived.pass(record)).collect()
    }

    /// Masks secrets in a piece of free text (a log line, a preview): JWT signatures, `"token":"…"`
    /// fields, and every secret this redactor has already replaced on any connection.
    pub fn redact_str(&mut self, text: &str) -> String {
        self.current = None;
        self.free_text(text).into_owned()
    }

    /// True when `text` contains a secret this redactor has already replaced.
    pub(crate) fn mentions_known_secret(&self, text: &str) -> bool {
        self.known_here().any(|(secret, _)| text.contains(secret.as_str()))
    }

    /// The secrets to search for in the current record: its connection's and the connection-less ones
    /// (every connection's for a record of no connection).
    pub(crate) fn known_here(&self) -> impl Iterator<Item = &(String, String)> {
        let current = self.current;
        self.known
            .iter()
            .filter(move |(conn, _)| current.is_none() || conn.is_none() || **conn == current)
            .flat_map(|(_, known)| &known.longest_first)
    }

    fn remember(&mut self, secret: &str, placeholder: &str) {
        if secret.len() < MIN_KNOWN_SECRET_LEN {
            return;
        }
        let known = self.known.entry(self.current).or_default();
        if !known.secrets.insert(secret.to_owned()) {
            return;
        }
        let at = known.longest_first.partition_point(|(other, _)| other.len() >= secret.len());
        known.longest_first.insert(at, (secret.to_owned(), placeholder.to_owned()));
    }

    fn keyed_hex(&self, secret: &str, bytes: usize) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().iter().take(bytes).map(|b| format!("{b:02x}")).collect()
    }

    /// The placeholder for a secret (the same secret always gets the same one). Placeholders map to themselves,
    /// so redacting an already redacted capture changes none of its JSON (free text may be masked further).
    pub(crate) fn placeholder_for(&mut self, secret: &str) -> String {
        if let Some(done) = self.replaced.get(secret).cloned() {
            self.remember(secret, &done);
            return done;
        }
        if is_placeholder(secret) {
            let same = fingerprint(secret);
            self.fingerprints.insert(same.clone(), same);
            return secret.to_owned();
        }
        let placeholder = if is_jwt_candidate(secret) {
            self.token_placeholder(secret)
        } else if is_uuid(secret) {
            format!("{UUID_PLACEHOLDER_PREFIX}{}", self.keyed_hex(secret, 6))
        } else {
            format!("{PLACEHOLDER_PREFIX}{}", self.keyed_hex(secret, 4))
        };
        self.replaced.insert(secret.to_owned(), placeholder.clone());
        self.fingerprints.insert(fingerprint(secret), fingerprint(&placeholder));
        self.remember(secret, &placeholder);
        placeholder
    }

    /// What a `token` record's fingerprint of a non-JWT value becomes: the fingerprint of the placeholder that
    /// replaced the value (what `inspect` computes on the redacted copy), or `None` when this redactor did not
    /// replace that value itself (the fingerprint is then dropped: it is a plain hash of the secret).
    pub(crate) fn redacted_fingerprint(&self, fingerprint: &str) -> Option<String> {
        self.fingerprints.get(fingerprint).cloned()
    }
}

/// The pipeline's hook for `--redact`: every record passes through here before any sink sees it.
impl crate::pipeline::Redaction for Redactor {
    fn redact(&mut self, record: Record) -> Record {
        Redactor::redact(self, record)
    }

    fn feed(&mut self, record: Record) -> Vec<Record> {
        Redactor::feed(self, record)
    }

    fn finish(&mut self) -> Vec<Record> {
        Redactor::finish(self)
    }
}

/// One connection's secrets, for searching free text.
#[derive(Default)]
struct KnownSecrets {
    secrets: std::collections::HashSet<String>,
    /// `(secret, placeholder)`, longest secret first (so a secret containing another is replaced whole).
    longest_first: Vec<(String, String)>,
}

impl Redactor {
    /// The placeholder for a value the token finder takes for a JWT (`jwt` or `malformed`): a JWT that decodes
    /// keeps its header and claims and gets a placeholder signature; a malformed one keeps only its first part, and
    /// only when that is a JOSE header (a JSON object, e.g. a JWE's `alg`/`enc`), then `.redacted-` and 8 hex
    /// digits. Either way the finder still reports it, with the kind it had and the placeholder's fingerprint.
    fn token_placeholder(&self, secret: &str) -> String {
        if decode_unverified(secret).is_ok() {
            let signed = secret.rsplit_once('.').map_or(secret, |(signed, _signature)| signed);
            return format!("{signed}.{SIGNATURE_PLACEHOLDER_PREFIX}{}", self.keyed_hex(secret, 4));
        }
        let first = secret.split('.').next().unwrap_or_default();
        let header = if decode_header(first).is_some() { first } else { "eyJ" };
        format!("{header}.{PLACEHOLDER_PREFIX}{}", self.keyed_hex(secret, 4))
    }
}

/// True for a token placeholder written by [`Redactor::token_placeholder`]: a JWT whose signature is
/// `redacted` and 8 hex digits, or two parts whose second is `redacted-` and 8 hex digits.
fn is_token_placeholder(s: &str) -> bool {
    let hex = |digits: &str| digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_jwt_candidate(s) {
        return false;
    }
    match (s.matches('.').count(), s.rsplit_once('.')) {
        (2, Some((_, signature))) => signature.strip_prefix(SIGNATURE_PLACEHOLDER_PREFIX).is_some_and(hex),
        (1, Some((_, rest))) => rest.strip_prefix(PLACEHOLDER_PREFIX).is_some_and(hex),
        _ => false,
    }
}

/// 8-4-4-4-12 hex digits.
pub(crate) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// True for a value that is already one of the placeholders above.
pub fn is_placeholder(s: &str) -> bool {
    s.starts_with(PLACEHOLDER_PREFIX)
        || (s.starts_with(UUID_PLACEHOLDER_PREFIX) && is_uuid(s))
        || is_token_placeholder(s)
}

/// A redactor shared by every connection of a run and by the UI: call [`SharedRedactor::redact`] on each
/// record before it reaches a sink. Cloning shares the same placeholders. A session's pipeline redacts through
/// one (`--redact`), and `replay` masks what it quotes outside the records (divergences, its summary) with a
/// clone, so the same secret gets the same placeholder everywhere.
#[derive(Clone, Default)]
pub struct SharedRedactor(Arc<Mutex<Redactor>>);

impl std::fmt::Debug for SharedRedactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedRedactor")
    }
}

impl SharedRedactor {
    pub fn new() -> Self {
        SharedRedactor(Arc::new(Mutex::new(Redactor::new())))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Redactor> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Masks the secrets in one record (see [`Redactor::redact`]).
    pub fn redact(&self, record: Record) -> Record {
        self.lock().redact(record)
    }

    /// Masks secrets in free text (see [`Redactor::redact_str`]).
    pub fn redact_str(&self, text: &str) -> String {
        self.lock().redact_str(text)
    }

    /// Masks the secrets in one frame, as a record of its connection would be.
    pub fn redact_frame(&self, frame: Frame) -> Frame {
        let mut redactor = self.lock();
        redactor.current = Some(frame.conn);
        records::redact_frame(&mut redactor, frame)
    }

    /// Masks the secrets in one `open` record (its request path's credential query values among them).
    pub fn redact_open(&self, open: Open) -> Open {
        let mut redactor = self.lock();
        redactor.current = Some(open.conn);
        records::redact_open(&mut redactor, open)
    }
}

/// The pipeline's hook, for a redactor others share with it.
impl crate::pipeline::Redaction for SharedRedactor {
    fn redact(&mut self, record: Record) -> Record {
        self.lock().redact(record)
    }

    fn feed(&mut self, record: Record) -> Vec<Record> {
        self.lock().feed(record)
    }

    fn finish(&mut self) -> Vec<Record> {
        self.lock().finish()
    }
}
