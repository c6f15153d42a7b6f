//! frametap: a local WebSocket debugging proxy that relays every frame exactly, captures it, and explains every close.

pub mod capture;
pub mod convert;
pub mod event;
pub mod har;
pub mod paths;
