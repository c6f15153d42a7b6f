//! frametap: a local WebSocket debugging proxy that relays every frame exactly, captures it, and explains every close.

pub mod event;
pub mod capture;
pub mod paths;
pub mod inspect;
pub mod redact;
