//! Every scenario through `frametap proxy` (the lead's proxy test helper) with the simulator as upstream:
//! what the client sees, and what the capture holds.

use frametap::capture::CaptureFile;
use frametap::event::{Opcode, Peer, Record};
use frametap::sim::{InProcessSim, SimArgs, SimConfig};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{close_of, frames, open_of, start_proxy, test_config, Proxy};
use crate::common_sim::*;

/// The simulator with `args`, and a proxy in front of it.
async fn sim_behind_proxy(args: SimArgs) -> (Sim, Proxy) {
    let sim = start(args).await;
    let proxy = start_proxy(test_config(&format!("ws://{}", sim.addr))).await;
    (sim, proxy)
}

fn url(proxy: &Proxy, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "&" };
    proxy.ws_url(&format!("/v1?deploymentId={DEPLOYMENT}{sep}{extra}"))
}

async fn finish(sim: Sim, proxy: Proxy) -> CaptureFile {
    let capture = proxy.stop().await;
    sim.stop().await;
    capture
}

/// Reads to the end of the close handshake, then closes TCP (a tokio-tungstenite client keeps it open
/// until dropped, and the proxy waits for it).
async fn hang_up(mut ws: Ws) {
    while ws.next().await.is_some() {}
}

/// The JSON of every text frame the server sent on `conn`, in order.
fn server_json(capture: &CaptureFile, conn: u64) -> Vec<Value> {
    frames(capture)
        .into_iter()
        .filter(|f| f.conn == conn && f.from == Peer::Server && f.opcode == Opcode::Text)
        .map(|f| serde_json::from_str(f.text().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn conversation_through_the_proxy_is_captured_frame_by_frame() {
    let (sim, proxy) = sim_behind_proxy(SimArgs::default()).await;
    let token = new_token();
    let mut ws = connect(&url(&proxy, ""), None).await.unwrap();
    configure(&mut ws, &token).await;
    send(&mut ws, message_request(&token, "hi")).await;
    let texts: Vec<Value> =
        [next_json(&mut ws).await, next_json(&mut ws).await, next_json(&mut ws).await, next_json(&mut ws).await].into();
    assert_eq!(texts[3]["body"]["text"], "You said: hi");
    send(&mut ws, json!({"action": "getJwt", "token": token})).await;
    assert_eq!(next_json(&mut ws).await["class"], "JwtResponse");
    ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    assert!(matches!(next_message(&mut ws).await, Message::Pong(_)));
    ws.close(None).await.unwrap();
    hang_up(ws).await;
    let capture = finish(sim, proxy).await;
    let classes: Vec<String> =
        server_json(&capture, 1).iter().map(|v| v["class"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        classes,
        [
            "SessionResponse",
            "StructuredMessage",
            "StructuredMessage",
            "StructuredMessage",
            "StructuredMessage",
            "JwtResponse"
        ]
    );
    let pong = frames(&capture).into_iter().find(|f| f.opcode == Opcode::Pong).expect("a captured Pong");
    assert_eq!(pong.from, Peer::Server, "the simulator, not the proxy, answers pings");
    assert_eq!(close_of(&capture, 1).initiator, Peer::Client);
}

#[tokio::test]
async fn invalid_first_frame_close_is_captured_as_a_server_close_1000_without_reason() {
    let (sim, proxy) = sim_behind_proxy(SimArgs::default()).await;
    let mut ws = connect(&url(&proxy, ""), None).await.unwrap();
    send(&mut ws, message_request("t", "too early")).await;
    assert_eq!(next_close(&mut ws).await, (1000, String::new()));
    hang_up(ws).await;
    let capture = finish(sim, proxy).await;
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.code, close.clean), (Peer::Server, Some(1000), true));
    assert!(close.reason.as_deref().unwrap_or_default().is_empty(), "{close:?}");
    assert!(server_json(&capture, 1).is_empty(), "no error frame before the close");
}

#[tokio::test]
async fn on_invalid_error_frame_is_captured() {
    let (sim, proxy) = sim_behind_proxy(SimArgs::default()).await;
    let mut ws = connect(&url(&proxy, "sim-on-invalid=error"), None).await.unwrap();
    send(&mut ws, json!({"token": "t"})).await;
    assert_eq!(next_json(&mut ws).await["code"], 4020);
    drop(ws);
    let capture = finish(sim, proxy).await;
    let answers = server_json(&capture, 1);
    assert_eq!((answers[0]["class"].as_str(), answers[0]["code"].as_i64()), (Some("string"), Some(4020)));
}

#[tokio::test]
async fn expiry_rate_limit_and_agent_disconnect_frames_are_captured() {
    let (sim, proxy) = sim_behind_proxy(SimArgs::default()).await;
    let token = new_token();
    let query = "sim-rate-limit=1&sim-agent-disconnect-after=1&sim-expire-after=0.5";
    let mut ws = connect(&url(&proxy, query), None).await.unwrap();
    configure(&mut ws, &token).await;
    send(&mut ws, message_request(&token, "one")).await;
    send(&mut ws, message_request(&token, "two")).await;
    // one: echo, join, typing, reply, disconnect; two: 429; then expiry and close.
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(next_json(&mut ws).await);
    }
    assert_eq!(next_close(&mut ws).await, (1000, String::new()));
    hang_up(ws).await;
    assert_eq!(seen.last().unwrap()["class"], "SessionExpiredEvent");
    let capture = finish(sim, proxy).await;
    let captured = server_json(&capture, 1);
    assert!(captured.iter().any(|f| f["class"] == "TooManyRequestsErrorMessage" && f["body"]["errorCode"] == 4029));
    assert!(captured
        .iter()
        .any(|f| f["body"]["metadata"]["readOnly"] == "true"
            && f["body"]["events"][0]["presence"]["type"] == "Disconnect"));
    assert_eq!(captured.last().unwrap()["class"], "SessionExpiredEvent");
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.code), (Peer::Server, Some(1000)));
}

#[tokio::test]
async fn second_connection_closes_the_first_in_the_capture() {
    let (sim, proxy) = sim_behind_proxy(SimArgs::default()).await;
    let token = new_token();
    let mut first = connect(&url(&proxy, ""), None).await.unwrap();
    configure(&mut first, &token).await;
    let mut second = connect(&url(&proxy, ""), None).await.unwrap();
    configure(&mut second, &token).await;
    assert_eq!(next_json(&mut first).await["class"], "ConnectionClosedEvent");
    assert_eq!(next_close(&mut first).await.0, 1000);
    hang_up(first).await;
    drop(second);
    let capture = finish(sim, proxy).await;
    assert_eq!(server_json(&capture, 1).last().unwrap()["class"], "ConnectionClosedEvent");
    assert_eq!(close_of(&capture, 1).initiator, Peer::Server);
}

#[tokio::test]
async fn drop_after_shows_as_an_unclean_server_drop() {
    let (sim, proxy) = sim_behind_proxy(SimArgs::default()).await;
    let token = new_token();
    let mut ws = connect(&url(&proxy, "sim-drop-after=2"), None).await.unwrap();
    configure(&mut ws, &token).await;
    send(&mut ws, message_request(&token, "lost")).await;
    let after = tokio::time::timeout(FRAME_WAIT, ws.next()).await.expect("the drop reaches the client");
    assert!(matches!(after, None | Some(Err(_))), "{after:?}");
    let capture = finish(sim, proxy).await;
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.clean, close.code), (Peer::Server, false, None));
    let closes = frames(&capture).into_iter().filter(|f| f.opcode == Opcode::Close && f.from == Peer::Server).count();
    assert_eq!(closes, 0, "no close frame from the simulator");
}

#[tokio::test]
async fn handshake_refusals_reach_the_client_and_the_capture() {
    let (sim, proxy) = sim_behind_proxy(SimArgs::default()).await;
    let (status, body) =
        refused(&url(&proxy, "sim-allowed-origin=https%3A%2F%2Fshop.example"), Some("https://evil.example")).await;
    assert_eq!(status, 403);
    assert!(body.contains("https://evil.example"), "{body}");
    let ok = connect(&url(&proxy, "sim-allowed-origin=https%3A%2F%2Fshop.example"), Some("https://shop.example")).await;
    drop(ok.expect("the proxy forwards Origin unchanged"));
    let (status, _) = refused(&url(&proxy, "sim-deployment-id=someone-else"), None).await;
    assert_eq!(status, 403);
    let (status, body) = refused(&url(&proxy, "sim-jwt-ttl=later"), None).await;
    assert_eq!(status, 400);
    assert!(body.contains("sim-jwt-ttl"), "{body}");
    let capture = finish(sim, proxy).await;
    let response = open_of(&capture, 1).response.as_ref().expect("the refusal is recorded");
    assert_eq!(response.status, 403);
    assert!(response.body.as_deref().unwrap_or_default().contains("access refused"));
    assert!(capture
        .records
        .iter()
        .any(|r| matches!(r, Record::Open(o) if o.response.as_ref().is_some_and(|r| r.status == 400))));
}

#[tokio::test]
async fn in_process_simulator_is_an_upstream_for_the_proxy() {
    let sim = InProcessSim::start(SimConfig::from_args(&SimArgs::default()).unwrap()).await.unwrap();
    assert!(sim.addr().ip().is_loopback());
    let proxy = start_proxy(test_config(&sim.upstream_url())).await;
    let mut ws = connect(&url(&proxy, ""), None).await.unwrap();
    assert_eq!(configure(&mut ws, &new_token()).await["body"]["connected"], true);
    // Stopping the simulator closes its sessions with 1001, which the proxy relays.
    let stopping = tokio::spawn(sim.stop());
    assert_eq!(next_close(&mut ws).await.0, 1001);
    hang_up(ws).await;
    stopping.await.unwrap().unwrap();
    let capture = proxy.stop().await;
    assert_eq!(close_of(&capture, 1).code, Some(1001));
}

/// `replay send` of a recorded simulator session to another simulator (another day's server): the ids, times and the
/// session's expiry differ on every run. The report names every field that differed so (a frame's line names only
/// its first) with the `--ignore` flags that leave them out, and with those flags every server frame matches. A real
/// difference (a simulator that already knows the session resumes it: `newSession` false, no Join event) is never
/// offered to be ignored.
#[tokio::test]
async fn a_replay_names_the_ids_and_times_that_change_every_run_and_ignoring_them_matches() {
    let (sim, proxy) = sim_behind_proxy(SimArgs::default()).await;
    let token = new_token();
    let mut ws = connect(&url(&proxy, ""), None).await.unwrap();
    configure(&mut ws, &token).await;
    send(&mut ws, message_request(&token, "hi")).await;
    for _ in 0..4 {
        next_json(&mut ws).await;
    }
    ws.close(None).await.unwrap();
    hang_up(ws).await;
    let (_, recording) = proxy.stop_with_bytes().await;
    sim.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("recorded.jsonl");
    std::fs::write(&recorded, recording).unwrap();
    let replay = |run: &str, sim: &Sim, flags: &[String]| {
        let mut command = crate::common::binary::frametap();
        command.args(["replay", "send", "--pace", "fast", "--wait", "2", "--upstream", &format!("ws://{}", sim.addr)]);
        command.arg("--capture").arg(dir.path().join(format!("{run}.jsonl"))).arg(&recorded).args(flags);
        async move {
            let done = command.output().await.unwrap();
            assert!(done.status.success(), "{done:?}");
            String::from_utf8_lossy(&done.stderr).into_owned() + &String::from_utf8_lossy(&done.stdout)
        }
    };
    let hint_in =
        |report: &str| report.lines().find(|line| line.contains("ids or times differed in")).map(str::to_owned);

    let other_day = start(SimArgs::default()).await;
    let first = replay("first", &other_day, &[]).await;
    let hint = hint_in(&first).unwrap_or_else(|| panic!("{first}"));
    assert!(hint.contains("id (4 frames)") && hint.contains("messageId (4 frames)"), "{hint}");
    let flags = hint.split_once(": add ").and_then(|(_, rest)| rest.split_once(" to compare without them"));
    let mut flags: Vec<String> = flags.unwrap_or_else(|| panic!("{hint}")).0.split(' ').map(str::to_owned).collect();
    assert!(flags.chunks(2).all(|pair| pair[0] == "--ignore"), "{flags:?}");
    // The session's expiry is the time of its start plus its duration, in whole seconds: it differs only when the
    // runs straddle a second (then the hint names it too, as the unit tests check for epoch seconds).
    if !flags.iter().any(|flag| flag == "expirationDate") {
        flags.extend(["--ignore".into(), "expirationDate".into()]);
    }
    other_day.stop().await;

    let again = start(SimArgs::default()).await;
    let second = replay("second", &again, &flags).await;
    assert!(second.contains("every server frame matched the recording"), "{second}");
    assert!(hint_in(&second).is_none(), "{second}");

    // The same simulator again: it knows the session now, and resumes it.
    let resumed = replay("resumed", &again, &flags).await;
    assert!(resumed.contains("$.body.newSession is false, recorded: true"), "{resumed}");
    assert!(hint_in(&resumed).is_none_or(|hint| !["newSession", "type", "eventType"].iter().any(|f| hint.contains(f))));
    again.stop().await;
}
