//! Analysis of captured connections: tokens, protocol profiles, and the diagnosis of every close.
//!
//! One [`Analyzer`] serves the live proxy and `frametap inspect` alike: it reads records in order and
//! derives `annotation`, `token` and `diagnosis` records from them (docs/diagnosis.md).

pub mod analyzer;
mod announced;
mod causes;
pub mod close;
mod close_code;
pub mod codes;
pub mod command;
mod expiry;
mod facts;
pub mod handshake;
mod history;
pub mod jwt;
pub mod reassembly;
pub mod refused;
mod rejected;
pub mod report;
pub mod rfc6455;
pub mod tokens;
mod violations;

pub use crate::profile::ProfileChoice;
pub use analyzer::Analyzer;
pub use announced::ANNOUNCED_CLOSE_MS;
pub use close::one_line;
pub use close_code::SMALLEST_PLAUSIBLE_LIMIT;
pub use codes::close_code_name;
pub use command::{run_inspect, InspectCommand};
pub use reassembly::MAX_REASSEMBLED;
pub use report::{render_block, render_diagnosis, render_token};

/// Each record of `records`, then what the analysis derives from it (annotations, tokens, diagnoses), placed as the
/// live pipeline places them (`pipeline::DerivedOrder`), as records are asked for, so a caller that writes them as
/// they come holds none of them: for a recording another tool made (an imported HAR), which has none.
pub struct Analysed<I> {
    records: I,
    analyzer: Analyzer,
    order: crate::pipeline::DerivedOrder,
    /// Records placed and not yet given out.
    ready: std::collections::VecDeque<crate::event::Record>,
    placed: Vec<crate::event::Record>,
    flushed: bool,
}

impl<I: Iterator<Item = crate::event::Record>> Analysed<I> {
    pub fn new(records: impl IntoIterator<IntoIter = I>) -> Analysed<I> {
        Analysed {
            records: records.into_iter(),
            analyzer: Analyzer::new(AnalysisOptions::default()),
            order: crate::pipeline::DerivedOrder::default(),
            ready: Default::default(),
            placed: Vec::new(),
            flushed: false,
        }
    }
}

impl<I: Iterator<Item = crate::event::Record>> Iterator for Analysed<I> {
    type Item = crate::event::Record;

    fn next(&mut self) -> Option<crate::event::Record> {
        while self.ready.is_empty() {
            match self.records.next() {
                Some(record) => {
                    let derived = self.analyzer.observe(&record, record.ts());
                    self.order.place(record, derived, &mut self.placed);
                }
                None if !self.flushed => {
                    self.order.flush(&mut self.placed);
                    self.flushed = true;
                }
                None => return None,
            }
            self.ready.extend(self.placed.drain(..));
        }
        self.ready.pop_front()
    }
}

/// What the analysis is asked to do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnalysisOptions {
    /// Which protocol profile reads the frames.
    pub profile: ProfileChoice,
    /// Scopes every token must carry (`--require-scope`).
    pub require_scopes: Vec<String>,
}

/// The analysis flags shared by `proxy`, `replay serve` and `inspect`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AnalysisArgs {
    /// Protocol profile for annotations and lint: auto detects Genesys Web Messaging from the upstream,
    /// the URL or the frames.
    #[arg(long, value_enum, default_value_t = ProfileChoice::Auto)]
    pub profile: ProfileChoice,
    /// Flag any token whose `scope`/`scp` claim lacks this scope (repeatable).
    #[arg(long = "require-scope", value_name = "SCOPE")]
    pub require_scope: Vec<String>,
}

impl AnalysisArgs {
    pub fn options(&self) -> AnalysisOptions {
        AnalysisOptions { profile: self.profile, require_scopes: self.require_scope.clone() }
    }
}

impl From<&AnalysisArgs> for AnalysisOptions {
    fn from(args: &AnalysisArgs) -> Self {
        args.options()
    }
}
