//! frametap: a local WebSocket debugging proxy that relays every frame exactly, captures it, and explains every close.

pub mod event;
pub mod sim;
