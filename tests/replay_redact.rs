//! `replay serve --redact`: a replay of a capture with secrets, talked to by a client with other secrets, quotes
//! neither in its divergences or its capture.

mod common;
#[path = "replay_support/mod.rs"]
mod support;

use common::raw;
use frametap::event::{Opcode, Peer};
use frametap::replay::serve::{serve, Front, ServeOptions};
use frametap::replay::{Pace, Script};
use support::*;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// No piece of `secret` (12 characters or more) is in `text`.
fn assert_no_piece_of(secret: &str, text: &str, what: &str) {
    for start in 0..=secret.len() - 12 {
        let piece = &secret[start..start + 12];
        assert!(!text.contains(piece), "{what} quotes {piece:?} of a secret:\n{text}");
    }
}

#[tokio::test]
async fn a_redacting_replay_quotes_neither_recorded_nor_live_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let recorded_key = "k7Qx2mVb9RtL4wZp8NcJ3yHd6FsG1aUe5XoK0iBq7TvM2nCr9PlW4jYh8DgS3fAz6EkN1uOx5RbI0tVc7QmL2w";
    let live_key = format!("{}DIFFERENT-TAIL-8f3a9c2e", &recorded_key[..60]);
    let (recorded_token, live_token) = ("a3c1d1e2-77b4-4c0b-bb0c-91f5a4e0d2c7", "5e9f0b7d-1c2a-4e3b-9d8c-7f6a5b4c3d2e");
    let (recorded_query, live_query) = ("Zr8Lq2Wv7Xn4Pk9Ty3Hs", "Mb5Gc1Jd8Ue4Kf7Yw2Qa");
    let frames = |token: &str, key: &str| {
        [format!(r#"{{"action":"configureSession","token":"{token}"}}"#), format!(r#"{{"apiKey":"{key}"}}"#)]
    };
    let [recorded_first, recorded_second] = frames(recorded_token, recorded_key);
    let capture = conversation_capture(
        dir.path(),
        "secrets.jsonl",
        &format!("ws://example.com/chat?access_token={recorded_query}"),
        101,
        &[
            (Peer::Client, &recorded_first),
            (Peer::Server, "ok"),
            (Peer::Client, &recorded_second),
            (Peer::Server, "ok"),
        ],
        Some(server_close(true, Some(1000), None)),
    );
    let script = Script::load(&capture, None, false).unwrap();
    let out = dir.path().join("served.jsonl");
    let session = session_with(&out, "replay-serve", true).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let mut play = play_options(Pace::Fast);
    play.redactor = session.redactor.clone();
    let options = ServeOptions { play, handshake_timeout: SHORT };
    let stopped = async {
        let _ = stopped.await;
    };
    let server =
        tokio::spawn(serve(listener, Front::Plain, script, options, session.sink.clone(), stopped, Some(report_tx)));

    let (head, ws, _) = raw::connect(addr, &format!("/chat?access_token={live_query}"), &[]).await;
    let mut ws = ws.unwrap_or_else(|| panic!("no upgrade: {head}"));
    for frame in frames(live_token, &live_key) {
        ws.send(true, Opcode::Text, frame.as_bytes()).await;
        assert_eq!(read(&mut ws).await.unwrap().2, b"ok");
    }
    let close = read(&mut ws).await.unwrap();
    ws.send(true, Opcode::Close, &close.2).await;
    assert_eq!(read(&mut ws).await, None);
    drop(ws);
    let report = reports.recv().await.unwrap().played().expect("a played connection");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    session.finish().await;

    assert_eq!(report.divergences.len(), 2, "both client frames differ: {:?}", report.divergences);
    let first = &report.divergences[0];
    assert!(first.starts_with("client frame 1 (recorded seq 1): $.token is "), "{first}");
    assert_eq!(first.matches("-0000-4000-8000-").count(), 2, "both values are placeholders: {first}");
    assert!(report.divergences[1].contains("$.apiKey is"), "{:?}", report.divergences);
    let summary = report.divergences.join("\n");
    let captured = std::fs::read_to_string(&out).unwrap();
    assert!(captured.contains("replay-path"), "the path note is there");
    for secret in [recorded_key, live_key.as_str(), recorded_token, live_token, recorded_query, live_query] {
        assert_no_piece_of(secret, &summary, "the divergences printed in the summary");
        assert_no_piece_of(secret, &captured, "the replay's capture");
    }
}
