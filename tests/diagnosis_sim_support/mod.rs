//! What the diagnosis tests through frametap's Genesys simulator share: the simulator on 127.0.0.1:0, the path
//! that picks a scenario, a configured session, and the simulator's next text answer.
#![allow(dead_code)] // each test file uses a different part of it

use crate::live::{send, Client};
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Starts the simulator with its default flags on 127.0.0.1:0; it runs until the test's runtime ends.
pub async fn start_simulator() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = frametap::sim::SimConfig::from_args(&frametap::sim::SimArgs::default()).unwrap();
    tokio::spawn(frametap::sim::serve(listener, config, std::future::pending()));
    addr
}

/// How `frametap proxy` names its in-process simulator in a capture.
pub const SIM: &str = "sim:genesys";
pub const DEPLOYMENT: &str = "00000000-0000-4000-8000-00000000517e";

pub fn path(scenario: &str) -> String {
    format!("/v1?deploymentId={DEPLOYMENT}{scenario}")
}

pub async fn configure_as(ws: &mut Client, token: &str) -> Value {
    send(ws, json!({"action":"configureSession","token":token,"deploymentId":DEPLOYMENT,"tracingId":"c-1"})).await;
    read_text(ws).await
}

pub async fn read_text(ws: &mut Client) -> Value {
    use futures_util::StreamExt;
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("the simulator answers in time")
            .expect("the connection is open")
            .unwrap();
        if let Ok(text) = message.to_text() {
            if !text.is_empty() {
                return serde_json::from_str(text).unwrap();
            }
        }
    }
}
