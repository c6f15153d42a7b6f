//! frametap: a local WebSocket debugging proxy that relays every frame exactly, captures it, and explains every close.

pub mod capture;
pub mod event;
pub mod forward;
pub mod paths;
pub mod tls;
pub mod wire;
