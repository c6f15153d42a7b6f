//! The Genesys simulator driven by real WebSocket clients over 127.0.0.1: directly, and through the proxy.

#[path = "sim/authenticated.rs"]
mod authenticated;
#[path = "sim/binary.rs"]
mod binary;
mod common;
mod common_sim;
#[path = "sim/protocol.rs"]
mod protocol;
#[path = "sim/scenarios.rs"]
mod scenarios;
#[path = "sim/through_proxy.rs"]
mod through_proxy;
