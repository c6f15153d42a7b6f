//! The simulator's scenarios over a real WebSocket: invalid requests, expiry, rate limit, agent
//! disconnect, token takeover, dropped TCP, handshake refusals, shutdown.

use std::time::{Duration, Instant};

use frametap::sim::SimArgs;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common_sim::*;

#[tokio::test]
async fn invalid_first_frames_close_1000_without_reason_or_error_frame() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let cases = [
        Message::text(message_request(&token, "too early").to_string()),
        Message::text(json!({"token": token, "deploymentId": DEPLOYMENT}).to_string()),
        Message::text("not json"),
        Message::text(json!({"action": "dance", "token": token}).to_string()),
        Message::binary(vec![1u8, 2, 3]),
    ];
    for frame in cases {
        let mut ws = sim.connect("").await;
        ws.send(frame.clone()).await.unwrap();
        assert_eq!(next_close(&mut ws).await, (1000, String::new()), "{frame:?}");
    }
    // After configuration an action-less request closes the same way.
    let mut ws = sim.connect("").await;
    configure(&mut ws, &token).await;
    send(&mut ws, json!({"token": token})).await;
    assert_eq!(next_close(&mut ws).await, (1000, String::new()));
    sim.stop().await;
}

#[tokio::test]
async fn on_invalid_error_answers_with_an_error_frame_and_stays_open() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("sim-on-invalid=error").await;
    let mut early = message_request(&token, "too early");
    early["tracingId"] = "early".into();
    expect_error(&mut ws, early, 400, "configureSession must be the first request; got \"onMessage\" first").await;
    expect_error(&mut ws, json!({"token": token, "tracingId": "t2"}), 4020, "no \"action\"").await;
    send(&mut ws, json!("not an object")).await;
    let response = next_json(&mut ws).await;
    assert_eq!((response["class"].as_str(), response["code"].as_i64()), (Some("string"), Some(400)));
    configure(&mut ws, &token).await;
    sim.stop().await;

    // The flag does the same for every connection.
    let sim = start(SimArgs { on_invalid: Some(frametap::sim::OnInvalid::Error), ..SimArgs::default() }).await;
    let mut ws = sim.connect("").await;
    expect_error(&mut ws, json!({"action": "dance", "tracingId": "d"}), 400, "unknown action").await;
    sim.stop().await;
}

#[tokio::test]
async fn idle_session_expires_with_session_expired_event_then_close() {
    let sim = start(SimArgs { expire_after: Some(Duration::from_millis(400)), ..SimArgs::default() }).await;
    let token = new_token();
    let mut ws = sim.connect("").await;
    let response = configure(&mut ws, &token).await;
    assert_eq!(response["body"]["durationSeconds"], 1);
    // An echo refreshes the timer: expiry comes no sooner than 400 ms after the last request.
    send(&mut ws, json!({"action": "echo", "token": token, "message": {"type": "Text", "text": "ping"}})).await;
    let last_request = Instant::now();
    next_json(&mut ws).await;
    let expired = next_json(&mut ws).await;
    assert!(last_request.elapsed() >= Duration::from_millis(390), "{:?}", last_request.elapsed());
    assert_eq!(expired["class"], "SessionExpiredEvent");
    assert_eq!(expired["code"], 200);
    assert_eq!(expired["body"], json!({}));
    assert_eq!(next_close(&mut ws).await, (1000, String::new()));
    // The session is gone: the same token starts a new one.
    let mut again = sim.connect("").await;
    assert_eq!(configure(&mut again, &token).await["body"]["newSession"], true);
    sim.stop().await;
}

#[tokio::test]
async fn expiry_is_also_a_query_parameter() {
    let sim = start(SimArgs::default()).await;
    let mut ws = sim.connect("sim-expire-after=0.2").await;
    configure(&mut ws, &new_token()).await;
    assert_eq!(next_json(&mut ws).await["class"], "SessionExpiredEvent");
    assert_eq!(next_close(&mut ws).await.0, 1000);
    sim.stop().await;
}

#[tokio::test]
async fn rate_limit_refuses_the_extra_on_message_with_429_4029() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("sim-rate-limit=2").await;
    configure(&mut ws, &token).await;
    for text in ["one", "two", "three"] {
        send(&mut ws, message_request(&token, text)).await;
    }
    // one: echo, join, typing, reply; two: echo, typing, reply; three: refused.
    let frames: Vec<Value> = {
        let mut frames = Vec::new();
        for _ in 0..8 {
            frames.push(next_json(&mut ws).await);
        }
        frames
    };
    let refused: Vec<&Value> = frames.iter().filter(|f| f["code"] == 429).collect();
    assert_eq!(refused.len(), 1, "{frames:#?}");
    let refused = refused[0];
    assert_eq!(refused["type"], "response");
    assert_eq!(refused["class"], "TooManyRequestsErrorMessage");
    assert_eq!(refused["tracingId"], "m-three");
    assert_eq!(refused["body"]["errorCode"], 4029);
    assert!(refused["body"]["retryAfter"].as_u64().unwrap() >= 1);
    assert!(refused["body"]["errorMessage"].as_str().unwrap().contains("rate"));
    assert!(!frames.iter().any(|f| f["body"]["text"] == "three"), "the refused message is not echoed");
    sim.stop().await;
}

#[tokio::test]
async fn agent_disconnects_after_n_guest_messages_and_the_session_turns_read_only() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("sim-agent-disconnect-after=2").await;
    configure(&mut ws, &token).await;
    send(&mut ws, message_request(&token, "first")).await;
    for _ in 0..4 {
        next_json(&mut ws).await; // echo, join, typing, reply
    }
    send(&mut ws, message_request(&token, "second")).await;
    assert_eq!(next_json(&mut ws).await["body"]["direction"], "Inbound");
    assert_eq!(next_json(&mut ws).await["body"]["events"][0]["eventType"], "Typing");
    assert_eq!(next_json(&mut ws).await["body"]["text"], "You said: second");
    let gone = next_json(&mut ws).await;
    assert_eq!(gone["type"], "message");
    assert_eq!(gone["body"]["direction"], "Outbound");
    assert_eq!(gone["body"]["type"], "Event");
    assert_eq!(gone["body"]["events"][0]["presence"]["type"], "Disconnect");
    assert_eq!(gone["body"]["metadata"]["readOnly"], "true");
    // Afterwards the guest's messages are echoed but nobody answers.
    send(&mut ws, message_request(&token, "anyone?")).await;
    assert_eq!(next_json(&mut ws).await["body"]["text"], "anyone?");
    send(&mut ws, json!({"action": "echo", "token": token, "message": {"type": "Text", "text": "ping"}})).await;
    assert_eq!(next_json(&mut ws).await["body"]["text"], "ping");
    drop(ws);
    let mut again = sim.connect("").await;
    assert_eq!(configure(&mut again, &token).await["body"]["readOnly"], true);
    sim.stop().await;
}

#[tokio::test]
async fn second_connection_with_the_same_token_closes_the_first() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut first = sim.connect("").await;
    configure(&mut first, &token).await;
    let mut second = sim.connect("").await;
    assert_eq!(configure(&mut second, &token).await["body"]["newSession"], false);
    let event = next_json(&mut first).await;
    assert_eq!(event["type"], "message");
    assert_eq!(event["class"], "ConnectionClosedEvent");
    assert_eq!(event["body"], json!({}));
    assert_eq!(next_close(&mut first).await, (1000, String::new()));
    // The second connection keeps working.
    send(&mut second, message_request(&token, "still here")).await;
    assert_eq!(next_json(&mut second).await["body"]["text"], "still here");
    sim.stop().await;
}

#[tokio::test]
async fn drop_after_n_frames_drops_tcp_without_a_close_frame() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("sim-drop-after=2").await;
    configure(&mut ws, &token).await;
    send(&mut ws, message_request(&token, "lost")).await;
    let after = tokio::time::timeout(FRAME_WAIT, ws.next()).await.expect("the drop is seen");
    match after {
        None | Some(Err(_)) => {}
        Some(Ok(frame)) => panic!("expected the TCP connection to drop, got {frame:?}"),
    }
    sim.stop().await;
}

#[tokio::test]
async fn drop_after_counts_pings_too() {
    let sim = start(SimArgs { drop_after: Some(1), ..SimArgs::default() }).await;
    let mut ws = sim.connect("").await;
    ws.send(Message::Ping(b"x".to_vec().into())).await.unwrap();
    let after = tokio::time::timeout(FRAME_WAIT, ws.next()).await.expect("the drop is seen");
    assert!(matches!(after, None | Some(Err(_))), "{after:?}");
    sim.stop().await;
}

#[tokio::test]
async fn origin_not_allowed_gets_403_with_a_body() {
    let args = SimArgs { allowed_origin: vec!["https://shop.example".into()], ..SimArgs::default() };
    let sim = start(args).await;
    let url = sim.url("");
    let (status, body) = refused(&url, Some("https://evil.example")).await;
    assert_eq!(status, 403);
    assert!(body.contains("https://evil.example") && body.contains("allowed"), "{body}");
    let (status, _) = refused(&url, None).await;
    assert_eq!(status, 403);
    assert!(connect(&url, Some("https://shop.example")).await.is_ok());
    // Per connection, through the URL.
    let open = start(SimArgs::default()).await;
    let (status, _) = refused(&open.url("sim-allowed-origin=https%3A%2F%2Fa.example"), Some("https://b.example")).await;
    assert_eq!(status, 403);
    sim.stop().await;
    open.stop().await;
}

#[tokio::test]
async fn unknown_deployment_gets_403_and_missing_deployment_400() {
    let sim = start(SimArgs { deployment_id: vec![DEPLOYMENT.into()], ..SimArgs::default() }).await;
    assert!(connect(&sim.url(""), None).await.is_ok());
    let other = format!("ws://{}/v1?deploymentId=not-mine", sim.addr);
    let (status, body) = refused(&other, None).await;
    assert_eq!(status, 403);
    assert!(body.contains("not-mine"), "{body}");
    let (status, body) = refused(&format!("ws://{}/v1", sim.addr), None).await;
    assert_eq!(status, 400);
    assert!(body.contains("deploymentId"), "{body}");
    let (status, _) = refused(&sim.url("sim-deployment-id=another"), None).await;
    assert_eq!(status, 403);
    sim.stop().await;
}

#[tokio::test]
async fn bad_sim_parameters_are_refused_with_400_and_an_explanation() {
    let sim = start(SimArgs::default()).await;
    for (query, expected) in [
        ("sim-expire-after=soon", "sim-expire-after"),
        ("sim-on-invalid=maybe", "close or error"),
        ("sim-rate-limit=0", "1 or more"),
        ("sim-bogus=1", "unknown simulator parameter sim-bogus"),
    ] {
        let (status, body) = refused(&sim.url(query), None).await;
        assert_eq!(status, 400, "{query}");
        assert!(body.contains(expected), "{query}: {body}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn shutdown_closes_open_sessions_with_1001() {
    let sim = start(SimArgs::default()).await;
    let mut ws = sim.connect("").await;
    configure(&mut ws, &new_token()).await;
    let stopping = tokio::spawn(sim.stop());
    let (code, _) = next_close(&mut ws).await;
    assert_eq!(code, 1001);
    drop(ws);
    stopping.await.unwrap();
}
