//! Diagnoses of the upgrade itself, end to end through the real proxy with the analyzer in its pipeline: a real
//! client that refuses the 101 it gets and drops TCP without sending a frame.

mod common;
#[path = "fixtures/live.rs"]
mod live;

use common::raw::{start_raw_server, Answer, Received};
use frametap::event::Record;
use live::*;
use tokio::sync::mpsc;

/// An upstream that accepts the upgrade with `extra` headers in its 101, then waits for the client to go away and
/// says so on the returned channel.
async fn upstream_answering_101_with(
    extra: Vec<(String, String)>,
) -> (std::net::SocketAddr, mpsc::UnboundedReceiver<()>) {
    let (gone_tx, gone) = mpsc::unbounded_channel();
    let (upstream, _heads) = start_raw_server(
        move |_: &str| Answer::Upgrade(extra.clone()),
        move |mut ws| {
            let gone_tx = gone_tx.clone();
            async move {
                while let Received::Frame(_) = ws.recv().await {}
                let _ = gone_tx.send(());
            }
        },
    )
    .await;
    (upstream, gone)
}

/// tungstenite, like Python's websockets (128) and unlike hyper, reads at most 124 header lines: it refuses a 101
/// with more and drops TCP at once, having sent nothing. That reads as a client that rejected the upgrade answer,
/// with the header count as the suspect and how to confirm it; it used to read "the client process or its network
/// went away".
#[tokio::test]
async fn a_client_that_refuses_the_101_is_said_to_have_rejected_it_not_to_have_lost_its_network() {
    let filler = (0..130).map(|n| (format!("X-Filler-{n}"), n.to_string())).collect();
    let (upstream, mut gone) = upstream_answering_101_with(filler).await;
    let proxy = start_analysing_proxy(upstream).await;
    let refused = tokio_tungstenite::connect_async(format!("ws://{}/chat", proxy.addr)).await;
    let error = refused.expect_err("the client refuses a 101 with 130 extra header lines");
    assert!(error.to_string().to_lowercase().contains("header"), "{error}");
    gone.recv().await.expect("the relay passed the client's end on");
    let (capture, file, _dir) = proxy.stop().await;
    // When the 101 went to the client: after the request's round trip, which leaves out reaching the upstream.
    let open = capture.records.iter().find_map(|r| if let Record::Open(open) = r { Some(open) } else { None }).unwrap();
    let (upgraded, round_trip) = (open.upgraded_ms.expect("upgraded_ms"), open.handshake_ms.expect("handshake_ms"));
    assert!(upgraded >= round_trip && upgraded < 10_000.0, "{upgraded} {round_trip}");
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    let rejected = cause(&d, "upgrade-rejected");
    assert_eq!(rejected["confidence"], "likely", "{rejected}");
    assert!(rejected["message"].as_str().unwrap().contains("having sent no frame at all"), "{rejected}");
    let evidence = rejected["evidence"].to_string();
    // 3 upgrade headers of frametap's own, the 130, and the date hyper adds.
    assert!(
        evidence.contains("the 101 the client got had 134 header lines: more than many clients read"),
        "{evidence}"
    );
    assert!(evidence.contains("WebSocket connection to '…' failed"), "{evidence}");
    let drop = cause(&d, "tcp-drop")["message"].as_str().unwrap();
    assert!(drop.contains("see upgrade-rejected") && !drop.contains("laptop"), "{drop}");
    let summary = d.details["summary"].as_str().unwrap();
    assert!(summary.contains("likely: the client dropped TCP"), "{summary}");
    assert_eq!(rules(&d), offline);
}

/// A client that accepted the 101 and sent a frame before dropping TCP did not reject the upgrade: its drop keeps the
/// usual reading.
#[tokio::test]
async fn a_client_that_spoke_before_dropping_tcp_did_not_reject_the_upgrade() {
    use futures_util::SinkExt;
    let (upstream, mut gone) = upstream_answering_101_with(Vec::new()).await;
    let proxy = start_analysing_proxy(upstream).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/chat", proxy.addr)).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text("hello")).await.unwrap();
    drop(ws);
    gone.recv().await.expect("the relay passed the client's end on");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert!(!rules(&d).contains(&"upgrade-rejected".to_owned()), "{:?}", rules(&d));
    let drop = cause(&d, "tcp-drop")["message"].as_str().unwrap();
    assert!(drop.contains("its network went away"), "{drop}");
    assert_eq!(rules(&d), offline);
}

/// A server that greets the client right after the 101, and a client that reads the greeting, then drops TCP
/// without a word, well within a second: the WebSocket was upgraded and in use (a frame passed), so it is never
/// read as a rejected upgrade (it used to be, since only the client's frames were counted); the drop keeps the
/// usual reading.
#[tokio::test]
async fn a_client_that_got_a_server_frame_before_dropping_tcp_did_not_reject_the_upgrade() {
    use frametap::event::Opcode;
    use futures_util::StreamExt;
    let (gone_tx, mut gone) = mpsc::unbounded_channel();
    let (upstream, _heads) = start_raw_server(common::raw::upgrade_all, move |mut ws| {
        let gone_tx = gone_tx.clone();
        async move {
            ws.send(true, Opcode::Text, b"welcome").await;
            while let Received::Frame(_) = ws.recv().await {}
            let _ = gone_tx.send(());
        }
    })
    .await;
    let proxy = start_analysing_proxy(upstream).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/chat", proxy.addr)).await.unwrap();
    let greeting = ws.next().await.expect("a frame").expect("the greeting");
    assert_eq!(greeting.into_text().unwrap().as_str(), "welcome");
    drop(ws);
    gone.recv().await.expect("the relay passed the client's end on");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    assert_eq!(d.details["preceding"]["from"], "server", "{}", d.details["preceding"]);
    assert!(!rules(&d).contains(&"upgrade-rejected".to_owned()), "{:?}", rules(&d));
    let drop = cause(&d, "tcp-drop")["message"].as_str().unwrap();
    assert!(drop.contains("its network went away") && !drop.contains("upgrade-rejected"), "{drop}");
    assert_eq!(rules(&d), offline);
}
