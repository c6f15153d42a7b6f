//! The upstream round trip the timing rules compare gaps with: the kernel's measure of the TCP connection to the
//! upstream (`open.upstream_tcp_rtt_ms`) when frametap could read it, else the handshake's, which holds the
//! server's own time to answer the upgrade. A real upstream on 127.0.0.1:0, the real proxy, a real client.

mod common;
#[path = "fixtures/live.rs"]
mod live;

#[cfg(target_os = "linux")]
use frametap::capture::CaptureFormat;
#[cfg(target_os = "linux")]
use frametap::event::Record;
use futures_util::{SinkExt, StreamExt};
use live::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// How long the upstream takes to answer an upgrade request: far longer than a loopback round trip.
const SLOW_HANDSHAKE: Duration = Duration::from_millis(50);

/// An upstream that takes [`SLOW_HANDSHAKE`] over each upgrade request (it has the request, and thinks), then
/// echoes every text, and closes with 4001 at once when it receives "close-me".
async fn start_slow_handshake_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // The request has arrived: the server processes it before answering.
                if stream.readable().await.is_err() {
                    return;
                }
                tokio::time::sleep(SLOW_HANDSHAKE).await;
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = ws.next().await {
                    match message {
                        Message::Text(text) if text.as_str() == "close-me" => {
                            let close = CloseFrame { code: CloseCode::Library(4001), reason: "asked to".into() };
                            let _ = ws.close(Some(close)).await;
                        }
                        Message::Text(text) => {
                            let _ = ws.send(Message::Text(text)).await;
                        }
                        _ => {}
                    }
                }
            });
        }
    });
    addr
}

/// The tester's case: after a slow handshake, the client says "hello", reads the echo, waits, and sends
/// "close-me"; the server closes with 4001 right away. The handshake round trip (50 ms and more) is longer
/// than that gap, so judged by it the close "crossed" the frame it plainly answered. With the kernel's round
/// trip (microseconds on loopback) it is not called a crossing.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_fast_reply_after_a_slow_handshake_is_not_called_a_crossing() {
    let proxy = start_analysing_proxy(start_slow_handshake_upstream().await).await;
    let mut ws = connect_to(&proxy, "/chat", &[]).await;
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    // The pause is the scenario (a user who types), not a wait for readiness.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws.send(Message::text("close-me")).await.unwrap();
    drain(ws).await;
    let (capture, path, _dir) = proxy.stop().await;

    let open = common::open_of(&capture, 1);
    let handshake = open.handshake_ms.unwrap();
    let kernel = open.upstream_tcp_rtt_ms.expect("the kernel's round trip is recorded on Linux");
    assert!(handshake >= SLOW_HANDSHAKE.as_secs_f64() * 1000.0, "{open:?}");
    assert!(kernel > 0.0 && kernel < handshake, "the kernel's round trip holds no server time: {open:?}");

    let (d, offline) = diagnosis_and_inspect(&capture, &path, 1);
    assert_eq!((d.details["initiator"].as_str(), d.details["code"].as_u64()), (Some("server"), Some(4001)));
    let close_me = d.details["preceding"]["seq"].as_u64().unwrap();
    assert_eq!(d.details["preceding"]["preview"], "close-me");
    assert!(!rules(&d).contains(&"crossed-in-flight".to_owned()), "{:?}", d.details);
    let timing = cause(&d, "in-response");
    assert_eq!(timing["seq"], close_me, "{timing}");
    assert!(timing["message"].as_str().unwrap().contains("in response to frame #"), "{timing}");
    let evidence = timing["evidence"].to_string();
    assert!(evidence.contains("the kernel's measure of the TCP connection"), "says which round trip: {evidence}");
    assert_eq!(
        (d.details["upstream_rtt_source"].as_str(), d.details["upstream_rtt_ms"].as_f64()),
        (Some("kernel"), Some(kernel))
    );
    assert!(!d.details["summary"].as_str().unwrap().contains("not what it answered"), "{}", d.details["summary"]);
    assert_eq!(rules(&d), offline, "inspect reads the kernel's round trip back from the capture");
}

/// The same capture without the kernel's round trip (written by an older frametap, or off Linux): the rule
/// falls back to the handshake's, says so, and says that it is an upper bound.
#[tokio::test]
async fn without_the_kernel_round_trip_the_handshake_is_used_and_named() {
    let proxy = start_analysing_proxy(start_slow_handshake_upstream().await).await;
    let mut ws = connect_to(&proxy, "/chat", &[]).await;
    ws.send(Message::text("close-me")).await.unwrap();
    drain(ws).await;
    let (_, path, dir) = proxy.stop().await;
    // Strip the field, as a capture from before it existed has no such field.
    let text = std::fs::read_to_string(&path).unwrap();
    let old: String = text
        .lines()
        .map(|line| match serde_json::from_str::<serde_json::Value>(line) {
            Ok(mut v) if v["kind"] == "open" => {
                v.as_object_mut().unwrap().remove("upstream_tcp_rtt_ms");
                v.to_string() + "\n"
            }
            _ => format!("{line}\n"),
        })
        .collect();
    assert!(!old.contains("upstream_tcp_rtt_ms"));
    let old_path = dir.path().join("old.jsonl");
    std::fs::write(&old_path, old).unwrap();
    let old_capture = frametap::capture::read_capture(&old_path).unwrap();
    assert!(old_capture.problems.is_empty(), "{:?}", old_capture.problems);
    assert_eq!(common::open_of(&old_capture, 1).upstream_tcp_rtt_ms, None);
    let cmd = frametap::inspect::InspectCommand {
        file: old_path,
        conn: Some(1),
        json: true,
        analysis: frametap::inspect::AnalysisArgs::default(),
    };
    let report: serde_json::Value =
        serde_json::from_str(&frametap::inspect::command::inspect(&cmd, false).unwrap().stdout).unwrap();
    let d = &report["connections"][0]["diagnosis"];
    assert_eq!(d["upstream_rtt_source"], "handshake", "{d:#}");
    let crossed = d["causes"].as_array().unwrap().iter().find(|c| c["rule"] == "crossed-in-flight").expect("{d:#}");
    let message = crossed["message"].as_str().unwrap();
    assert!(message.contains("the handshake's") && message.contains("an upper bound"), "{message}");
    assert!(crossed["evidence"].to_string().contains("the server's time to answer the upgrade"), "{crossed}");
}

/// The compact form keeps the field: its `open` records are JSON lines like the JSON Lines form's.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_compact_form_records_the_kernel_round_trip() {
    let upstream = common::start_echo_server().await;
    let proxy = common::start_proxy_as(common::test_config(&format!("ws://{upstream}")), CaptureFormat::Compact).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(proxy.ws_url("/echo")).await.unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    ws.next().await.unwrap().unwrap();
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
    let (capture, bytes) = proxy.stop_with_bytes().await;
    assert!(bytes.contains(&0xF7), "frames in the compact form");
    let open = common::open_of(&capture, 1);
    assert!(open.upstream_tcp_rtt_ms.is_some_and(|ms| ms > 0.0), "{open:?}");
    assert!(capture.records.iter().any(|r| matches!(r, Record::Frame(_))));
}
