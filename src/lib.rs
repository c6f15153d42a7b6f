//! frametap: a local WebSocket debugging proxy that relays every frame exactly, captures it, and explains every close.

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
