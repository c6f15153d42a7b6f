//! The simulator's protocol over a real WebSocket: requests, answers, error frames, the agent script.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use frametap::sim::{jwt, SimArgs, SimConfig};
use futures_util::SinkExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common_sim::*;

#[tokio::test]
async fn configure_session_answers_session_response_and_remembers_the_token() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("").await;
    let before = chrono::Utc::now().timestamp();
    let response = configure(&mut ws, &token).await;
    assert_eq!(response["type"], "response");
    assert_eq!(response["code"], 200);
    assert_eq!(response["tracingId"], "cfg-1");
    let body = &response["body"];
    assert_eq!(body["connected"], true);
    assert_eq!(body["newSession"], true);
    assert_eq!(body["readOnly"], false);
    let duration = body["durationSeconds"].as_i64().unwrap();
    assert_eq!(duration, 86_400);
    let expiration = body["expirationDate"].as_i64().unwrap();
    assert!((before + duration..=before + duration + 2).contains(&expiration), "{body}");
    drop(ws);

    // A reconnect with the same token resumes the session.
    let mut again = sim.connect("").await;
    let response = configure(&mut again, &token).await;
    assert_eq!(response["body"]["newSession"], false);
    sim.stop().await;
}

#[tokio::test]
async fn on_message_echoes_inbound_then_the_agent_joins_types_and_replies() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("").await;
    configure(&mut ws, &token).await;
    send(&mut ws, message_request(&token, "my order")).await;

    let echo = next_json(&mut ws).await;
    assert_eq!((echo["type"].as_str(), echo["class"].as_str()), (Some("message"), Some("StructuredMessage")));
    assert_eq!(echo["tracingId"], "m-my order");
    assert_eq!(echo["body"]["direction"], "Inbound");
    assert_eq!(echo["body"]["text"], "my order");
    let join = next_json(&mut ws).await;
    assert_eq!(join["body"]["direction"], "Outbound");
    assert_eq!(join["body"]["type"], "Event");
    assert_eq!(join["body"]["events"][0]["presence"]["type"], "Join");
    let typing = next_json(&mut ws).await;
    assert_eq!(typing["body"]["events"][0]["eventType"], "Typing");
    assert_eq!(typing["body"]["events"][0]["typing"]["type"], "On");
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["type"], "message");
    assert_eq!(reply["body"]["direction"], "Outbound");
    assert_eq!(reply["body"]["text"], "You said: my order");
    assert!(reply.get("tracingId").is_none());

    // The agent joins only once.
    send(&mut ws, message_request(&token, "hello")).await;
    assert_eq!(next_json(&mut ws).await["body"]["direction"], "Inbound");
    assert_eq!(next_json(&mut ws).await["body"]["events"][0]["eventType"], "Typing");
    let reply = next_json(&mut ws).await;
    assert!(reply["body"]["text"].as_str().unwrap().contains("not Genesys"), "{reply}");
    sim.stop().await;
}

#[tokio::test]
async fn echo_answers_ping_with_refreshed_expiry_metadata() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("sim-expire-after=90").await;
    configure(&mut ws, &token).await;
    send(
        &mut ws,
        json!({"action": "echo", "token": token, "tracingId": "hb",
        "message": {"type": "Text", "text": "ping", "metadata": {"customMessageId": "SGVhbHRo"}}}),
    )
    .await;
    let pong = next_json(&mut ws).await;
    assert_eq!((pong["type"].as_str(), pong["class"].as_str()), (Some("response"), Some("StructuredMessage")));
    assert_eq!(pong["tracingId"], "hb");
    assert_eq!(pong["body"]["text"], "ping");
    assert_eq!(pong["body"]["metadata"]["customMessageId"], "SGVhbHRo");
    assert_eq!(pong["body"]["metadata"]["durationSeconds"], "90");
    let expires: i64 = pong["body"]["metadata"]["expirationDate"].as_str().unwrap().parse().unwrap();
    assert!(expires >= chrono::Utc::now().timestamp() + 88);
    sim.stop().await;
}

fn jwt_claims(jwt: &str) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

#[tokio::test]
async fn get_jwt_returns_a_signed_token_whose_exp_honours_jwt_ttl() {
    let sim = start(SimArgs { jwt_ttl: Some(120), ..SimArgs::default() }).await;
    for (query, ttl) in [("", 120), ("sim-jwt-ttl=5", 5)] {
        let token = new_token();
        let mut ws = sim.connect(query).await;
        configure(&mut ws, &token).await;
        send(&mut ws, json!({"action": "getJwt", "token": token, "tracingId": "j"})).await;
        let response = next_json(&mut ws).await;
        assert_eq!(response["class"], "JwtResponse");
        assert_eq!(response["tracingId"], "j");
        let signed = response["body"]["jwt"].as_str().unwrap();
        let claims = jwt_claims(signed);
        let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
        assert_eq!(exp - iat, ttl);
        assert_eq!(response["body"]["exp"], exp);
        assert!((iat - chrono::Utc::now().timestamp()).abs() <= 2);
        let sub = claims["sub"].as_str().unwrap();
        assert!(sub.starts_with("guest-") && !sub.contains(&token), "{sub}");
        assert_eq!(claims["aud"], DEPLOYMENT);
        assert_eq!(jwt::verify_hs256(signed, &sim.config.jwt_secret), Some(claims));
    }
    sim.stop().await;
}

#[tokio::test]
async fn close_session_answers_connected_false_and_ends_the_conversation() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("").await;
    configure(&mut ws, &token).await;
    send(&mut ws, json!({"action": "closeSession", "token": token, "closeAllConnections": true, "tracingId": "c"}))
        .await;
    let response = next_json(&mut ws).await;
    assert_eq!(response["class"], "SessionResponse");
    assert_eq!(response["body"]["connected"], false);
    assert_eq!(response["tracingId"], "c");
    // The conversation is gone: configuring again starts a new one on the same socket.
    let response = configure(&mut ws, &token).await;
    assert_eq!(response["body"]["newSession"], true);
    sim.stop().await;
}

#[tokio::test]
async fn get_configuration_describes_the_deployment() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("").await;
    configure(&mut ws, &token).await;
    send(&mut ws, json!({"action": "getConfiguration", "token": token, "deploymentId": DEPLOYMENT, "tracingId": "g"}))
        .await;
    let response = next_json(&mut ws).await;
    assert_eq!(response["class"], "GetConfigurationResponse");
    assert_eq!(response["tracingId"], "g");
    assert_eq!(response["body"]["id"], DEPLOYMENT);
    assert_eq!(response["body"]["messenger"]["enabled"], true);
    send(&mut ws, json!({"action": "getConfiguration", "token": token})).await;
    let response = next_json(&mut ws).await;
    assert_eq!((response["class"].as_str(), response["code"].as_i64()), (Some("string"), Some(4020)));
    sim.stop().await;
}

#[tokio::test]
async fn bad_requests_get_error_frames_with_the_documented_codes() {
    let mut config = SimConfig::from_args(&SimArgs::default()).unwrap();
    config.max_text_chars = 10;
    let sim = start_config(config).await;
    let token = new_token();
    let mut ws = sim.connect("").await;
    expect_error(
        &mut ws,
        json!({"action": "configureSession", "deploymentId": DEPLOYMENT, "tracingId": "e1"}),
        4020,
        "token",
    )
    .await;
    expect_error(
        &mut ws,
        json!({"action": "configureSession", "token": token, "tracingId": "e2"}),
        4020,
        "deploymentId",
    )
    .await;
    expect_error(&mut ws, json!({"action": "configureAuthenticatedSession", "token": token, "deploymentId": DEPLOYMENT, "tracingId": "e3"}), 4020, "data.code").await;
    configure(&mut ws, &token).await;
    expect_error(&mut ws, json!({"action": "onMessage", "token": token, "tracingId": "e4"}), 4020, "message").await;
    expect_error(&mut ws, json!({"action": "echo", "tracingId": "e5"}), 4020, "token").await;
    expect_error(&mut ws, message_request(&token, "far more than ten characters"), 4011, "too long").await;
    let big = "x".repeat(2100);
    expect_error(
        &mut ws,
        json!({"action": "onMessage", "token": token, "tracingId": "e6",
        "message": {"type": "Text", "text": "hi", "channel": {"metadata": {"customAttributes": {"big": big}}}}}),
        4013,
        "2048 bytes",
    )
    .await;
    expect_error(&mut ws, message_request(&token, "fail"), 5000, "Request failed.").await;
    expect_error(
        &mut ws,
        json!({"action": "echo", "token": "someone-else", "tracingId": "e7"}),
        4007,
        "session not found",
    )
    .await;
    expect_error(
        &mut ws,
        json!({"action": "onAttachment", "token": token, "tracingId": "e8", "fileName": "a.png"}),
        4000,
        "feature unavailable",
    )
    .await;
    expect_error(
        &mut ws,
        json!({"action": "onMessage", "token": token, "tracingId": "e9", "message": {"type": "Video"}}),
        400,
        "message.type",
    )
    .await;
    // Still open and usable after every error.
    send(&mut ws, json!({"action": "echo", "token": token, "message": {"type": "Text", "text": "ping"}})).await;
    assert_eq!(next_json(&mut ws).await["body"]["text"], "ping");
    sim.stop().await;
}

#[tokio::test]
async fn websocket_pings_are_answered() {
    let sim = start(SimArgs::default()).await;
    let mut ws = sim.connect("").await;
    ws.send(Message::Ping(b"are you there".to_vec().into())).await.unwrap();
    match next_message(&mut ws).await {
        Message::Pong(payload) => assert_eq!(&payload[..], b"are you there"),
        other => panic!("expected a Pong, got {other:?}"),
    }
    sim.stop().await;
}

#[tokio::test]
async fn guest_events_are_echoed_and_presence_clear_ends_the_session() {
    let sim = start(SimArgs::default()).await;
    let token = new_token();
    let mut ws = sim.connect("").await;
    configure(&mut ws, &token).await;
    send(
        &mut ws,
        json!({"action": "onMessage", "token": token, "tracingId": "ty",
        "message": {"type": "Event", "events": [{"eventType": "Typing", "typing": {"type": "On"}}]}}),
    )
    .await;
    let echo = next_json(&mut ws).await;
    assert_eq!(echo["body"]["direction"], "Inbound");
    assert_eq!(echo["body"]["events"][0]["eventType"], "Typing");
    assert_eq!(echo["tracingId"], "ty");
    send(
        &mut ws,
        json!({"action": "onMessage", "token": token,
        "message": {"type": "Event", "events": [{"eventType": "Presence", "presence": {"type": "Clear"}}]}}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["class"], "SessionClearedEvent");
    assert_eq!(next_close(&mut ws).await.0, 1000);
    sim.stop().await;
}

#[tokio::test]
async fn agent_script_file_drives_the_replies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.txt");
    std::fs::write(&path, "# test script\nrefund => Refunds take {text} days.\nquit => !disconnect Bye.\n").unwrap();
    let sim = start(SimArgs { agent_script: Some(path), ..SimArgs::default() }).await;
    let token = new_token();
    let mut ws = sim.connect("").await;
    configure(&mut ws, &token).await;
    send(&mut ws, message_request(&token, "refund")).await;
    for _ in 0..3 {
        next_json(&mut ws).await; // echo, join, typing
    }
    assert_eq!(next_json(&mut ws).await["body"]["text"], "Refunds take refund days.");
    // No rule matches: the agent stays silent.
    send(&mut ws, message_request(&token, "hello")).await;
    assert_eq!(next_json(&mut ws).await["body"]["direction"], "Inbound");
    send(&mut ws, message_request(&token, "quit")).await;
    assert_eq!(next_json(&mut ws).await["body"]["text"], "quit");
    next_json(&mut ws).await; // typing
    assert_eq!(next_json(&mut ws).await["body"]["text"], "Bye.");
    assert_eq!(next_json(&mut ws).await["body"]["events"][0]["presence"]["type"], "Disconnect");
    sim.stop().await;
}

#[tokio::test]
async fn bad_agent_script_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.txt");
    std::fs::write(&path, "hello => hi\nthis line has no arrow\n").unwrap();
    let err = SimConfig::from_args(&SimArgs { agent_script: Some(path.clone()), ..SimArgs::default() }).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("bad.txt") && text.contains("line 2") && text.contains("PATTERN => REPLY"), "{text}");
    let missing = dir.path().join("missing.txt");
    let err = SimConfig::from_args(&SimArgs { agent_script: Some(missing), ..SimArgs::default() }).unwrap_err();
    assert!(format!("{err:#}").contains("could not read the agent script"), "{err:#}");
}

/// An empty `--deployment-id` or `--allowed-origin` matches no client: refused as the flag's value, saying why. They
/// were accepted, and the simulator then refused every connection, even to the URL it printed
/// (`?deploymentId=` with nothing after it).
#[test]
fn empty_allow_list_values_are_refused_at_start() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }
    for flag in ["--deployment-id", "--allowed-origin"] {
        for empty in ["", " "] {
            let err = Cli::try_parse_from(["sim", flag, empty]).err().expect("refused").to_string();
            assert!(err.contains(flag) && err.contains("every connection would be refused"), "{flag} {empty:?}: {err}");
        }
        assert!(Cli::try_parse_from(["sim", flag, "x"]).is_ok());
    }
}

#[tokio::test]
async fn plain_http_request_gets_a_426_saying_what_this_is() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let sim = start(SimArgs::default()).await;
    let mut tcp = tokio::net::TcpStream::connect(sim.addr).await.unwrap();
    tcp.write_all(b"GET /v1?deploymentId=x HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(FRAME_WAIT, tcp.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"), "{answer}");
    assert!(
        answer.contains("NOT Genesys") && answer.contains(&format!("ws://{}/v1?deploymentId=", sim.addr)),
        "{answer}"
    );
    sim.stop().await;
}
