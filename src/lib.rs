//! frametap: a local WebSocket debugging proxy that relays every frame exactly, captures it, and explains every close.
//!
//! # Layout
//!
//! Everything is one flow of [`event::Record`]s (the capture format):
//!
//! 1. **Sources** emit records through a [`pipeline::EventSink`]: the reverse proxy ([`proxy`]: hyper
//!    handshakes on both legs, then the frame-level relay over [`wire`]), forward mode ([`forward`]),
//!    and the replay driver ([`replay`]); captures ([`capture`]) and HAR files ([`har`]) are read back
//!    as the same records.
//! 2. **Analysis** ([`inspect`], pure, shared by the live proxy and `frametap inspect`) derives more
//!    records: annotations and lint from a protocol profile ([`profile`]), token reports, and the
//!    diagnosis of every close.
//! 3. **Sinks**, on one thread ([`pipeline`]): redaction ([`redact`]), the terminal log ([`log`]), the
//!    capture file, and the web UI's hub ([`ui`]). [`session`] builds them from the shared options.
//!
//! Around it: the command line ([`cli`], [`commands`]), the built-in Genesys simulator ([`sim`]),
//! TLS and the local CA ([`tls`]), file locations ([`paths`]), counts in words ([`words`]). docs/architecture.md tells the whole story.

/// Prints a line on stderr like `eprintln!`, but never panics: with stderr closed (`frametap proxy 2>&1 |
/// head`, once `head` has exited) the relay must go on.
#[macro_export]
macro_rules! notice {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        // Fitted to the terminal's width (or `COLUMNS`), as the log's lines are; whole in a pipe or a file.
        let text = $crate::log::notice::fit(&format!($($arg)*));
        let _ = writeln!(std::io::stderr(), "{text}");
    }};
}

/// A warning for the user on stderr, as all of frametap's read (`frametap: warning: …`): what was wrong, then what
/// to do about it. Never panics ([`notice!`]). Detail for debugging stays on `tracing::debug!`.
#[macro_export]
macro_rules! warning {
    ($($arg:tt)*) => {
        $crate::notice!("frametap: warning: {}", format_args!($($arg)*))
    };
}

pub mod capture;
pub mod cli;
pub mod commands;
pub mod convert;
pub mod event;
pub mod forward;
#[doc(hidden)]
pub mod fuzzing;
pub mod har;
pub mod inspect;
pub mod log;
pub mod paths;
pub mod pipeline;
pub mod profile;
pub mod proxy;
pub mod redact;
pub mod replay;
pub mod session;
pub mod sim;
pub mod tls;
pub mod ui;
pub mod wire;
pub mod words;
