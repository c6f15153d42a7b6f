//! `replay serve` and `replay send` on hand-made captures and a Chrome HAR: TCP drops and resets, refused upgrades,
//! shutdown, a client's close answered (also during a recorded pause), an upstream that refuses or stays silent.

mod common;
#[path = "replay_support/mod.rs"]
mod support;

use common::raw::{self, RawWs, Received};
use frametap::event::{Opcode, Peer};
use frametap::replay::send::send;
use frametap::replay::{Pace, Script};
use std::path::Path;
use std::time::Duration;
use support::*;
use tokio::sync::{mpsc, watch};

#[tokio::test]
async fn recorded_tcp_drops_and_resets_are_replayed_as_such() {
    let dir = tempfile::tempdir().unwrap();
    for (detail, reset) in [
        ("the server reset the TCP connection", true),
        ("the server closed the TCP connection without a close frame", false),
    ] {
        let capture = handmade_capture(
            dir.path(),
            &format!("drop-{reset}.jsonl"),
            101,
            Some(server_close(false, None, Some(detail))),
        );
        let (addr, _stop, mut reports) = start_serving(&capture, &capture.with_extension("out.jsonl")).await;
        let mut ws = connect(addr, "/chat").await;
        ws.send(true, Opcode::Text, b"hi").await;
        assert_eq!(read(&mut ws).await, Some((Opcode::Text, true, b"hello".to_vec())));
        let end = tokio::time::timeout(Duration::from_secs(5), ws.recv()).await.unwrap();
        match (reset, end) {
            (true, Received::Reset) | (false, Received::Eof) => {}
            (_, other) => panic!("{detail}: the client saw {other:?}"),
        }
        let report = reports.recv().await.unwrap();
        assert!(!report.close.clean && report.close.code.is_none(), "{:?}", report.close);
        assert_eq!(report.close.initiator, Peer::Server);
    }
}

#[tokio::test]
async fn a_refused_upgrade_is_answered_as_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let capture = handmade_capture(dir.path(), "refused.jsonl", 403, None);
    let (addr, _stop, _reports) = start_serving(&capture, &dir.path().join("out.jsonl")).await;
    let (head, ws, body) = raw::connect(addr, "/chat", &[]).await;
    assert!(ws.is_none() && head.starts_with("HTTP/1.1 403"), "{head}");
    assert_eq!(raw::head_header(&raw::head_headers(&head), "content-type"), Some("text/plain"));
    assert!(String::from_utf8_lossy(&body).contains("deployment not allowed"), "{body:?}");
}

#[tokio::test]
async fn shutdown_closes_a_served_connection_with_1001() {
    let dir = tempfile::tempdir().unwrap();
    let capture = handmade_capture(dir.path(), "open.jsonl", 101, None);
    let (addr, stop, mut reports) = start_serving(&capture, &dir.path().join("out.jsonl")).await;
    let mut ws = connect(addr, "/chat").await;
    ws.send(true, Opcode::Text, b"hi").await;
    assert_eq!(read(&mut ws).await, Some((Opcode::Text, true, b"hello".to_vec())));
    stop.send(()).unwrap();
    let close = read(&mut ws).await.unwrap();
    assert_eq!((close.0, &close.2[..2]), (Opcode::Close, &1001u16.to_be_bytes()[..]));
    ws.send(true, Opcode::Close, &close.2).await;
    assert_eq!(read(&mut ws).await, None);
    drop(ws);
    let report = reports.recv().await.unwrap();
    assert_eq!((report.close.initiator, report.close.code, report.close.clean), (Peer::Proxy, Some(1001), true));
}

#[tokio::test]
async fn a_chrome_har_is_served_and_the_clients_close_is_answered() {
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har/chrome-genesys.har");
    let script = Script::load(&har, None, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (addr, _stop, mut reports) = start_serving(&har, &dir.path().join("out.jsonl")).await;
    let mut ws = connect(addr, &script.open.request.path).await;
    for frame in &script.frames {
        match frame.from {
            Peer::Client => ws.send(true, frame.opcode, &frame.payload).await,
            _ => assert_eq!(read(&mut ws).await, Some((frame.opcode, true, frame.payload.to_vec()))),
        }
    }
    ws.send(true, Opcode::Close, b"\x03\xe8Guest client disconnect").await;
    let answer = read(&mut ws).await.unwrap();
    assert_eq!((answer.0, &answer.2[..]), (Opcode::Close, &b"\x03\xe8"[..]), "the close is answered with its code");
    assert_eq!(read(&mut ws).await, None);
    drop(ws);
    let report = reports.recv().await.unwrap();
    assert!(report.divergences.is_empty(), "{:?}", report.divergences);
    assert_eq!((report.close.initiator, report.close.code, report.close.clean), (Peer::Client, Some(1000), true));
    assert_eq!(report.sent, 6, "five recorded frames and the answer to the close");
}

#[tokio::test]
async fn an_upstream_refusing_the_recorded_upgrade_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let capture = handmade_capture(dir.path(), "accepted.jsonl", 101, None);
    let refuse = |_: &str| raw::Answer::Refuse(403, Vec::new(), b"deployment not allowed".to_vec());
    let (addr, mut heads) = raw::start_raw_server(refuse, |_| async {}).await;
    let script = Script::load(&capture, None, false).unwrap();
    let session = session_to(&dir.path().join("out.jsonl"), "replay-send").await;
    let mut options = send_options(addr, play_options(Pace::Fast));
    options.headers = vec![("Origin".into(), "https://replay.example".into())];
    let (_stop, stop_rx) = watch::channel(false);
    let err = send(&script, options, session.sink.clone(), stop_rx).await.unwrap_err().to_string();
    session.finish().await;
    assert!(
        err.contains("refused the upgrade with HTTP 403 (deployment not allowed) where the recording shows HTTP 101"),
        "{err}"
    );
    let head = heads.recv().await.unwrap();
    assert!(
        head.starts_with("GET /chat HTTP/1.1") && head.to_ascii_lowercase().contains("origin: https://replay.example"),
        "{head}"
    );
}

#[tokio::test]
async fn a_server_frame_that_never_comes_is_reported_after_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let capture = handmade_capture(dir.path(), "silent.jsonl", 101, None);
    let (got_tx, mut got) = mpsc::unbounded_channel();
    let silent = move |mut ws: RawWs| {
        let got_tx = got_tx.clone();
        async move {
            while let Some(frame) = read(&mut ws).await {
                let _ = got_tx.send(frame);
            }
        }
    };
    let (addr, _heads) = raw::start_raw_server(raw::upgrade_all, silent).await;
    let script = Script::load(&capture, None, false).unwrap();
    let session = session_to(&dir.path().join("out.jsonl"), "replay-send").await;
    let mut play = play_options(Pace::Fast);
    play.wait_timeout = Some(Duration::from_millis(300));
    let options = send_options(addr, play);
    let (_stop, stop_rx) = watch::channel(false);
    let report = send(&script, options, session.sink.clone(), stop_rx).await.unwrap();
    session.finish().await;
    assert_eq!(got.recv().await.unwrap(), (Opcode::Text, true, b"hi".to_vec()));
    let play = report.play.unwrap();
    assert_eq!(play.divergences.len(), 1, "{:?}", play.divergences);
    assert!(play.divergences[0]
        .contains("server frame 1 (recorded seq 2, a text frame) did not come within 0.3 s; went on"));
    assert!(!play.close.clean, "{:?}", play.close);
}

/// A recording without an end (a Chrome HAR records no close frame; a cut-off capture): once the upstream has been
/// silent for `--wait`, `replay send` closes with 1000 and says why, instead of dropping TCP (the server saw a 1006)
/// and calling that a close handshake that did not finish within the close timeout.
#[tokio::test]
async fn replay_send_closes_with_1000_where_the_recording_ends_without_a_close() {
    let dir = tempfile::tempdir().unwrap();
    let capture = handmade_capture(dir.path(), "no-end.jsonl", 101, None);
    let (got_tx, mut got) = mpsc::unbounded_channel();
    let answers_then_closes = move |mut ws: RawWs| {
        let got_tx = got_tx.clone();
        async move {
            while let Some((opcode, fin, payload)) = read(&mut ws).await {
                let _ = got_tx.send((opcode, fin, payload.clone()));
                match opcode {
                    Opcode::Text => ws.send(true, Opcode::Text, b"hello").await,
                    Opcode::Close => return ws.send(true, Opcode::Close, &payload).await,
                    _ => {}
                }
            }
        }
    };
    let (addr, _heads) = raw::start_raw_server(raw::upgrade_all, answers_then_closes).await;
    let script = Script::load(&capture, None, false).unwrap();
    let session = session_to(&dir.path().join("out.jsonl"), "replay-send").await;
    let mut play = play_options(Pace::Fast);
    play.wait_timeout = Some(Duration::from_millis(300));
    let (_stop, stop_rx) = watch::channel(false);
    let report = send(&script, send_options(addr, play), session.sink.clone(), stop_rx).await.unwrap();
    session.finish().await;
    assert_eq!(got.recv().await.unwrap(), (Opcode::Text, true, b"hi".to_vec()));
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"frametap replay: the recording ends here");
    // The replay has ended: the close came, or it never will.
    let after_hi = tokio::time::timeout(Duration::from_secs(1), got.recv()).await;
    assert_eq!(after_hi.ok().flatten(), Some((Opcode::Close, true, close)));
    let play = report.play.unwrap();
    assert!(play.divergences.is_empty(), "{:?}", play.divergences);
    let end = &play.close;
    assert_eq!((end.initiator, end.code, end.clean), (Peer::Client, Some(1000), true), "{end:?}");
    let detail = end.detail.as_deref().unwrap_or_default();
    assert!(
        detail.starts_with("the recording ends without a close, and the server sent none within 0.3 s"),
        "{detail}"
    );
}

#[tokio::test]
async fn the_recorded_subprotocol_is_answered_only_to_a_client_that_offers_it() {
    use frametap::replay::serve::{serve, Front, ServeOptions};
    let dir = tempfile::tempdir().unwrap();
    // The recording's upstream chose "chat.v2".
    let capture = handmade_capture(dir.path(), "subprotocol.jsonl", 101, None);
    let out = dir.path().join("out.jsonl");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let session = session_to(&out, "replay-serve").await;
    let options = ServeOptions { play: play_options(Pace::Fast), handshake_timeout: SHORT };
    let script = Script::load(&capture, None, false).unwrap();
    let sink = session.sink.clone();
    let stopped = async { drop(stopped.await) };
    let server = tokio::spawn(serve(listener, Front::Plain, script, options, sink, stopped, None));

    let chosen = |head: &str| raw::head_header(&raw::head_headers(head), "sec-websocket-protocol").map(str::to_owned);
    let (offered, ws, _) = raw::connect(addr, "/chat", &[("Sec-WebSocket-Protocol", "chat.v1, chat.v2")]).await;
    assert_eq!(chosen(&offered), Some("chat.v2".to_owned()), "{offered}");
    drop(ws);
    // A client that offers none (or others) would fail a 101 naming one: the replay answers without it.
    let (unoffered, ws, _) = raw::connect(addr, "/chat", &[]).await;
    assert!(ws.is_some() && chosen(&unoffered).is_none(), "{unoffered}");
    drop(ws);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    session.finish().await;
    let notes: Vec<String> = frametap::capture::read_capture(&out)
        .unwrap()
        .records
        .into_iter()
        .filter_map(|r| match r {
            frametap::event::Record::Note(n) if n.code == "replay-subprotocol" => Some(n.message),
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains(r#"chose the subprotocol "chat.v2", which this client did not offer (it offered none)"#),
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_clients_close_during_a_recorded_pause_is_answered_at_once_and_nothing_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let messages = [(Peer::Client, "hi"), (Peer::Server, "much later")];
    let capture = conversation_capture(dir.path(), "pause.jsonl", "ws://example.com/chat", 101, &messages, None);
    // Recorded 1 ms apart, played 10 000 times slower: the server's next frame is 10 s away when the client leaves.
    let (addr, _stop, mut reports) = start_serving_paced(
        &capture,
        &dir.path().join("out.jsonl"),
        frametap::replay::serve::Front::Plain,
        Pace::Factor(0.0001),
    )
    .await;
    let mut ws = connect(addr, "/chat").await;
    ws.send(true, Opcode::Text, b"hi").await;
    let mut goodbye = 1000u16.to_be_bytes().to_vec();
    goodbye.extend_from_slice(b"page unload");
    ws.send(true, Opcode::Close, &goodbye).await;
    let answer = read(&mut ws).await.expect("the replay answers the close instead of ending TCP");
    assert_eq!(
        (answer.0, &answer.2[..2]),
        (Opcode::Close, &1000u16.to_be_bytes()[..]),
        "no data frame after the close"
    );
    assert_eq!(read(&mut ws).await, None, "then the server ends TCP");
    drop(ws);
    let report = reports.recv().await.unwrap();
    assert_eq!((report.close.initiator, report.close.code, report.close.clean), (Peer::Client, Some(1000), true));
    assert_eq!(report.sent, 1, "only the close answer: {report:?}");
    assert!(
        report.divergences.iter().any(|d| d.contains("the client closed before the recording did")),
        "{:?}",
        report.divergences
    );
}
