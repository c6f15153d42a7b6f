//! The Genesys simulator driven by real WebSocket clients over 127.0.0.1 (one test binary, two files).

mod common_sim;
#[path = "sim/protocol.rs"]
mod protocol;
#[path = "sim/scenarios.rs"]
mod scenarios;
