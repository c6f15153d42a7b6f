//! The per-connection state machine behind every diagnosis, fed one record at a time, live or offline.

use super::close::{diagnose, diagnose_refused};
use super::AnalysisOptions;
use crate::event::{ConnId, Record, Ts};
use crate::profile::Finding;
use std::collections::{BTreeMap, BTreeSet};

pub use super::facts::{FrameFacts, Largest, MessageFacts, PAYLOAD_HEAD};
pub use super::history::{CloseFrameFacts, ConnHistory, RttSource, SignalAt, UpstreamRtt};

/// At most this many lint findings are kept per connection (the rest are counted in `findings_omitted`).
pub const MAX_FINDINGS: usize = 200;
/// `--profile auto` looks for Guest API frames among a connection's first this-many data frames only.
pub const AUTO_DETECT_FRAMES: u64 = 16;

/// Analyses all connections of one session; see [`Analyzer::observe`].
pub struct Analyzer {
    options: AnalysisOptions,
    /// The session's upstream from the `meta` record, for connections whose `open` names none.
    session_upstream: Option<String>,
    /// The session's `meta.mode` (`proxy`, `replay-send`, `import`, …): who stood where frametap did.
    mode: String,
    /// Open connections by id (a BTreeMap: no hashing on the per-frame path). Boxed: a map node holds
    /// eleven entries, and a live connection's analyzer has only one (a node of histories would cost
    /// every relayed connection kilobytes).
    conns: BTreeMap<ConnId, Box<ConnHistory>>,
    /// Connections whose upgrade was refused: already diagnosed at their `open`, so a later `close` is ignored.
    refused: BTreeSet<ConnId>,
}

impl Analyzer {
    pub fn new(options: AnalysisOptions) -> Self {
        Analyzer {
            options,
            session_upstream: None,
            mode: String::new(),
            conns: BTreeMap::new(),
            refused: BTreeSet::new(),
        }
    }

    /// Observes one record in order and returns the records it derives, to be emitted right after it:
    /// an `annotation` for each frame the profile reads, a `token` for each credential first seen, and one
    /// `diagnosis` for the connection's `close`. `seen_at` is when the record is looked at: now when live,
    /// the record's own `ts` offline (so an old capture does not read as expired). Records that are
    /// themselves derived (`annotation`, `token`, `diagnosis`) are ignored: the analysis recomputes them.
    pub fn observe(&mut self, record: &Record, seen_at: Ts) -> Vec<Record> {
        let mut out = Vec::new();
        match record {
            Record::Meta(meta) => {
                self.session_upstream = meta.upstream.clone();
                self.mode = meta.mode.clone();
            }
            Record::Open(open) => {
                let session_upstream = self.session_upstream.clone();
                self.history(open.conn).open(open, session_upstream.as_deref());
                self.tokens(record, seen_at, &mut out);
                // A refused upgrade has no frames and no `close` record: it is diagnosed now.
                if self.conns.get(&open.conn).is_some_and(|h| h.refused.is_some()) {
                    if let Some(history) = self.conns.remove(&open.conn) {
                        self.refused.insert(open.conn);
                        out.push(Record::Diagnosis(diagnose_refused(&history, open, &self.mode)));
                    }
                }
            }
            Record::Frame(frame) => self.history(frame.conn).frame(frame, seen_at, &mut out),
            Record::Close(close) if self.refused.remove(&close.conn) => {}
            Record::Close(close) => {
                let history = self
                    .conns
                    .remove(&close.conn)
                    .unwrap_or_else(|| Box::new(ConnHistory::new(close.conn, &self.options)));
                out.push(Record::Diagnosis(diagnose(&history, close, &self.mode)));
            }
            Record::Annotation(_) | Record::Token(_) | Record::Diagnosis(_) | Record::Note(_) | Record::End(_) => {}
        }
        out
    }

    /// The history so far of a connection that has not closed.
    #[cfg(test)]
    pub(crate) fn history_of(&self, conn: ConnId) -> Option<&ConnHistory> {
        self.conns.get(&conn).map(|history| &**history)
    }

    /// The lint findings so far of a connection that has not closed (empty for unknown or closed ones).
    pub fn findings(&self, conn: ConnId) -> &[Finding] {
        self.conns.get(&conn).map(|h| h.findings.as_slice()).unwrap_or(&[])
    }

    /// The profile analysing a connection that has not closed (`genesys`, `generic`), for unknown or closed ones none.
    pub fn profile_name(&self, conn: ConnId) -> Option<&'static str> {
        self.conns.get(&conn).map(|h| h.profile.name())
    }

    /// Connections seen but not yet closed.
    pub fn open_connections(&self) -> Vec<ConnId> {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn history(&mut self, conn: ConnId) -> &mut ConnHistory {
        let options = &self.options;
        self.conns.entry(conn).or_insert_with(|| Box::new(ConnHistory::new(conn, options)))
    }

    fn tokens(&mut self, record: &Record, seen_at: Ts, out: &mut Vec<Record>) {
        let Some(conn) = record.conn() else { return };
        let history = self.history(conn);
        out.extend(history.tokens.observe(record, seen_at).into_iter().map(Record::from));
    }
}

/// The live pipeline's hook: records are judged at the moment frametap saw them (their own `ts`, stamped
/// live as they arrived), which is "now" for a live session without a clock read per record.
impl crate::pipeline::Analysis for Analyzer {
    fn observe(&mut self, record: &Record) -> Vec<Record> {
        Analyzer::observe(self, record, record.ts())
    }
}

impl Analyzer {
    /// Makes the live pipeline's analyses (its sink thread's and one per relayed connection).
    pub fn factory(options: AnalysisOptions) -> crate::pipeline::AnalysisFactory {
        std::sync::Arc::new(move || Box::new(Analyzer::new(options.clone())) as Box<dyn crate::pipeline::Analysis>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Frame, Opcode, Peer};
    use crate::inspect::tokens::TokenTracker;
    use crate::profile::ProfileChoice;

    /// The Genesys profile hands the token search the JSON it parsed; the tokens found must be those of a token
    /// search that parses each frame itself.
    #[test]
    fn tokens_read_from_the_profiles_parse_are_those_of_a_parse_of_their_own() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2ln";
        let session = "00000000-0000-4000-8000-000000000001";
        let texts = [
            format!(
                r#"{{"action":"configureAuthenticatedSession","token":"{session}","deploymentId":"d","data":{{"code":"{jwt}"}}}}"#
            ),
            format!(
                r#"{{"action":"onMessage","token":"{session}","message":{{"type":"Text","text":"hi"}},"apiKey":"k1"}}"#
            ),
            r#"{"text":"no action here","password":"p1"}"#.to_owned(),
            format!(r#"{{"password":"p2","nested":[{{"jwt":"{jwt}x"}}]}}"#),
        ];
        let options = AnalysisOptions { profile: ProfileChoice::Genesys, require_scopes: Vec::new() };
        let mut analyzer = Analyzer::new(options);
        let mut tracker = TokenTracker::new(Vec::new());
        let (mut via_profile, mut on_their_own) = (Vec::new(), Vec::new());
        for (n, text) in texts.iter().enumerate() {
            let frame = Frame::whole(1, Ts::now(), n as u64 + 1, Peer::Client, Opcode::Text, text.clone().into());
            let derived = analyzer.observe(&Record::Frame(frame.clone()), frame.ts);
            via_profile.extend(derived.into_iter().filter(|record| matches!(record, Record::Token(_))));
            on_their_own.extend(tracker.observe_frame(&frame, frame.ts).into_iter().map(Record::from));
        }
        assert_eq!(via_profile, on_their_own);
        let sources: Vec<&str> = via_profile
            .iter()
            .filter_map(|record| match record {
                Record::Token(token) => Some(token.source.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(sources, ["frame:token", "frame:data.code", "frame:nested[0].jwt"]);
    }
}
