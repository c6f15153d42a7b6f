//! The relay end to end: real clients, a real proxy and real servers on 127.0.0.1:0, checked frame by frame
//! on the wire and in the capture: data, fragments, pings, closes, drops and resets, shutdown, many connections
//! (handshakes: relay_handshake.rs; `--max-message`: relay_limits.rs).

mod common;

use common::raw::{self, raw_echo, RawWs, Received};
use common::{close_of, frames, open_of, start_echo_server, start_proxy, test_config};
use frametap::event::{Opcode, Peer, Record};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn text_and_binary_pass_both_ways_and_are_captured() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, raw_echo).await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let (head, ws, _) = raw::connect(proxy.addr, "/v1?deploymentId=abc", &[]).await;
    let mut ws = ws.unwrap_or_else(|| panic!("not upgraded: {head}"));
    ws.send(true, Opcode::Text, br#"{"action":"echo"}"#).await;
    let echoed = ws.frame().await;
    assert_eq!((echoed.header.opcode, &echoed.payload[..]), (Opcode::Text, &br#"{"action":"echo"}"#[..]));
    ws.send(true, Opcode::Binary, &[0, 1, 2, 255]).await;
    assert_eq!(&ws.frame().await.payload[..], &[0, 1, 2, 255]);
    ws.send(true, Opcode::Close, b"\x03\xe8bye").await;
    let close = ws.frame().await;
    assert_eq!(&close.payload[..], b"\x03\xe8bye");
    assert!(matches!(ws.recv().await, Received::Eof), "the server's TCP close passes on");
    drop(ws);
    let capture = proxy.stop().await;
    let open = open_of(&capture, 1);
    assert_eq!(open.request.path, "/v1?deploymentId=abc");
    assert_eq!(open.upstream.as_deref(), Some(format!("ws://{server}/v1?deploymentId=abc").as_str()));
    assert_eq!(open.response.as_ref().unwrap().status, 101);
    assert!(open.handshake_ms.unwrap() >= 0.0);
    let f = frames(&capture);
    let summary: Vec<_> = f.iter().map(|f| (f.seq, f.from, f.opcode)).collect();
    assert_eq!(
        summary,
        vec![
            (1, Peer::Client, Opcode::Text),
            (2, Peer::Server, Opcode::Text),
            (3, Peer::Client, Opcode::Binary),
            (4, Peer::Server, Opcode::Binary),
            (5, Peer::Client, Opcode::Close),
            (6, Peer::Server, Opcode::Close),
        ]
    );
    assert_eq!(f[0].text(), Some(r#"{"action":"echo"}"#));
    assert_eq!(f[4].close_parts(), (Some(1000), Some("bye".into())));
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.code, close.clean), (Peer::Client, Some(1000), true));
    assert!(capture.has_end);
}

#[tokio::test]
async fn large_messages_pass_intact() {
    let server = start_echo_server().await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(proxy.ws_url("/big"), Some(config), false).await.unwrap();
    for size in [1 << 20, 8 << 20] {
        let payload: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        ws.send(Message::binary(payload.clone())).await.unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back.into_data().as_ref(), payload.as_slice(), "{size} bytes came back intact");
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let capture = proxy.stop().await;
    let sizes: Vec<u64> = frames(&capture).iter().filter(|f| f.opcode == Opcode::Binary).map(|f| f.len).collect();
    assert_eq!(sizes, vec![1 << 20, 1 << 20, 8 << 20, 8 << 20]);
}

#[tokio::test]
async fn fragments_pass_as_fragments() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let (server, _) = raw::start_raw_server(raw::upgrade_all, move |mut ws: RawWs| {
        let seen_tx = seen_tx.clone();
        async move {
            for _ in 0..3 {
                let f = ws.frame().await;
                seen_tx.send((f.header.fin, f.header.opcode, f.payload.to_vec())).unwrap();
            }
        }
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    ws.send(false, Opcode::Text, b"Hel").await;
    ws.send(false, Opcode::Continuation, b"lo ").await;
    ws.send(true, Opcode::Continuation, b"world").await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(seen_rx.recv().await.unwrap());
    }
    assert_eq!(
        seen,
        vec![
            (false, Opcode::Text, b"Hel".to_vec()),
            (false, Opcode::Continuation, b"lo ".to_vec()),
            (true, Opcode::Continuation, b"world".to_vec()),
        ]
    );
    drop(ws);
    let capture = proxy.stop().await;
    let f = frames(&capture);
    assert_eq!(f.len(), 3);
    assert!(!f[0].fin && !f[1].fin && f[2].fin);
    assert_eq!(f[2].text(), Some("world"), "continuations of a text message are recorded as text");
}

#[tokio::test]
async fn pings_are_answered_by_the_far_end_only() {
    // This server answers the first ping with a pong, and the second with a text frame only.
    let (server, _) = raw::start_raw_server(raw::upgrade_all, |mut ws: RawWs| async move {
        let ping = ws.frame().await;
        assert_eq!(ping.header.opcode, Opcode::Ping);
        ws.send(true, Opcode::Pong, &ping.payload).await;
        let second = ws.frame().await;
        assert_eq!(second.header.opcode, Opcode::Ping);
        ws.send(true, Opcode::Text, b"no pong from me").await;
        let _ = ws.recv().await;
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    ws.send(true, Opcode::Ping, b"are you there").await;
    let pong = ws.frame().await;
    assert_eq!((pong.header.opcode, &pong.payload[..]), (Opcode::Pong, &b"are you there"[..]));
    ws.send(true, Opcode::Ping, b"again").await;
    let next = ws.frame().await;
    assert_eq!(next.header.opcode, Opcode::Text, "frametap must not answer a ping itself");
    drop(ws);
    let capture = proxy.stop().await;
    assert!(frames(&capture).iter().all(|f| f.from != Peer::Proxy || f.opcode == Opcode::Close));
    let pongs: Vec<_> = frames(&capture).iter().filter(|f| f.opcode == Opcode::Pong).map(|f| f.from).collect();
    assert_eq!(pongs, vec![Peer::Server]);
}

#[tokio::test]
async fn unusual_close_codes_reasons_and_invalid_utf8_pass_unchanged() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, |mut ws: RawWs| async move {
        let bad = ws.frame().await;
        assert_eq!(&bad.payload[..], &[0xc3, 0x28, b'!'], "invalid UTF-8 reaches the server as sent");
        // A code tungstenite would rewrite (1004 is reserved), with a reason.
        ws.send(true, Opcode::Close, b"\x03\xecreserved code").await;
        let reply = ws.frame().await;
        assert_eq!(&reply.payload[..], b"\x03\xec");
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    ws.send(true, Opcode::Text, &[0xc3, 0x28, b'!']).await;
    let close = ws.frame().await;
    assert_eq!(&close.payload[..], b"\x03\xecreserved code");
    ws.send(true, Opcode::Close, b"\x03\xec").await;
    assert!(matches!(ws.recv().await, Received::Eof));
    drop(ws);
    let capture = proxy.stop().await;
    let f = frames(&capture);
    assert!(f[0].invalid_utf8());
    let close = close_of(&capture, 1);
    assert_eq!(
        (close.initiator, close.code, close.reason.as_deref()),
        (Peer::Server, Some(1004), Some("reserved code"))
    );
    assert!(close.clean, "{close:?}");
}

#[tokio::test]
async fn a_tcp_drop_is_mirrored_never_turned_into_a_clean_close() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, |mut ws: RawWs| async move {
        let _ = ws.frame().await;
        // Drop TCP without a close frame (FIN).
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    ws.send(true, Opcode::Text, b"hello").await;
    assert!(matches!(ws.recv().await, Received::Eof), "the client sees the TCP end, not a close frame");
    let capture = proxy.stop().await;
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.code, close.clean), (Peer::Server, None, false));
    assert!(close.detail.as_deref().unwrap().contains("without a close frame"), "{close:?}");
    assert!(frames(&capture).iter().all(|f| f.opcode != Opcode::Close));
}

#[tokio::test]
async fn a_tcp_reset_is_mirrored_as_a_reset() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, |mut ws: RawWs| async move {
        let _ = ws.frame().await;
        frametap::proxy::stream::reset_on_close(frametap::proxy::stream::tcp_raw_socket(&ws.stream));
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    ws.send(true, Opcode::Text, b"hello").await;
    assert!(matches!(ws.recv().await, Received::Reset), "the client sees a reset, as it would directly");
    let capture = proxy.stop().await;
    let close = close_of(&capture, 1);
    assert!(!close.clean);
    assert!(close.detail.as_deref().unwrap().contains("reset"), "{close:?}");
}

#[tokio::test]
async fn the_client_dropping_tcp_is_mirrored_to_the_server() {
    let (ended_tx, mut ended_rx) = tokio::sync::mpsc::unbounded_channel();
    let (server, _) = raw::start_raw_server(raw::upgrade_all, move |mut ws: RawWs| {
        let ended_tx = ended_tx.clone();
        async move {
            let _ = ws.frame().await;
            let end = ws.recv().await;
            ended_tx.send(format!("{end:?}")).unwrap();
        }
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    ws.send(true, Opcode::Text, b"bye without closing").await;
    drop(ws);
    assert_eq!(ended_rx.recv().await.unwrap(), "Eof");
    let capture = proxy.stop().await;
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.clean), (Peer::Client, false));
}

/// A browser failing a connection sends its close and ends TCP at once; a server that then hangs up without
/// answering is not the first to have left.
#[tokio::test]
async fn a_client_that_left_right_after_its_close_is_named_before_the_server_that_hung_up() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, |mut ws: RawWs| async move {
        // Read the close and the end of TCP behind it, then hang up without a close frame.
        while let Received::Frame(_) = ws.recv().await {}
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    ws.send(true, Opcode::Close, b"\x03\xea").await;
    ws.stream.shutdown().await.unwrap();
    assert!(matches!(ws.recv().await, Received::Eof | Received::Reset));
    let capture = proxy.stop().await;
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.clean, close.dropped_by), (Peer::Client, false, Some(Peer::Server)));
    let detail = close.detail.as_deref().unwrap();
    assert!(
        detail.starts_with("the client ended its TCP connection right after its close frame")
            && detail.contains("then the server closed the TCP connection without a close frame"),
        "{detail}"
    );
}

#[tokio::test]
async fn shutdown_closes_open_connections_with_1001_and_saves_the_capture() {
    let (server_saw_tx, mut server_saw) = tokio::sync::mpsc::unbounded_channel();
    let (server, _) = raw::start_raw_server(raw::upgrade_all, move |mut ws: RawWs| {
        let tx = server_saw_tx.clone();
        async move {
            let f = ws.frame().await;
            tx.send(f.payload.to_vec()).unwrap();
            let close = ws.frame().await;
            tx.send(close.payload.to_vec()).unwrap();
            ws.send(true, Opcode::Close, &close.payload[..2]).await;
        }
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    ws.send(true, Opcode::Text, b"first").await;
    assert_eq!(server_saw.recv().await.unwrap(), b"first");
    let stopping = tokio::spawn(proxy.stop());
    let close = ws.frame().await;
    assert_eq!(&close.payload[..2], &1001u16.to_be_bytes());
    ws.send(true, Opcode::Close, &close.payload[..2]).await;
    assert_eq!(&server_saw.recv().await.unwrap()[..2], &1001u16.to_be_bytes());
    let capture = stopping.await.unwrap();
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.code), (Peer::Proxy, Some(1001)));
    assert!(close.detail.as_deref().is_some_and(|d| d.starts_with("frametap was shutting down")), "{close:?}");
    let replies: Vec<_> = frames(&capture)
        .iter()
        .filter(|f| f.opcode == Opcode::Close && f.from != Peer::Proxy)
        .map(|f| f.relayed)
        .collect();
    assert_eq!(replies, vec![false, false], "the endpoints' replies to frametap's close are not relayed");
}

/// A proxy in front of a server that answers frametap's shutdown 1001 and hangs up at once, as servers do (RFC 6455
/// §7.1.1), stopped as Ctrl-C stops it, with one client: returned once that client got the 1001 (its payload) and the
/// server has gone.
async fn shutdown_after_the_server_answered_and_hung_up(
) -> (RawWs, bytes::Bytes, tokio::task::JoinHandle<frametap::capture::CaptureFile>) {
    let (gone_tx, mut gone) = tokio::sync::mpsc::unbounded_channel();
    let (server, _) = raw::start_raw_server(raw::upgrade_all, move |mut ws: RawWs| {
        let gone = gone_tx.clone();
        async move {
            let close = ws.frame().await;
            ws.send(true, Opcode::Close, &close.payload[..2]).await;
            drop(ws);
            gone.send(()).unwrap();
        }
    })
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    let stopping = tokio::spawn(proxy.stop());
    let close = ws.frame().await;
    assert_eq!(&close.payload[..2], &1001u16.to_be_bytes());
    gone.recv().await.unwrap();
    (ws, close.payload, stopping)
}

/// On Ctrl-C frametap waits up to the close timeout for each side to answer its 1001 (README). The server's answer and
/// hang-up are its own close handshake: mirroring that FIN to the client cut the client's short, and a client that
/// then went recorded as "the client closed the TCP connection without a close frame".
#[tokio::test]
async fn at_shutdown_a_server_that_hung_up_does_not_cut_the_clients_answer_short() {
    let (mut ws, _, stopping) = shutdown_after_the_server_answered_and_hung_up().await;
    let server_gone = std::time::Instant::now();
    // This client does not answer: frametap's wait for it is the close timeout, not the server's hang-up.
    assert!(matches!(ws.recv().await, Received::Eof | Received::Reset));
    let waited = server_gone.elapsed();
    assert!(waited >= common::TEST_TIMEOUT / 2, "the client's TCP was closed {waited:?} after the server's");
    let capture = stopping.await.unwrap();
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.clean, close.dropped_by), (Peer::Proxy, false, None), "{close:?}");
    let detail = close.detail.as_deref().unwrap();
    assert!(detail.contains("the close handshake did not finish within 2.0 s"), "{detail}");
}

/// The client that answers frametap's 1001 after the server answered and hung up completes its close handshake: a
/// clean close, and its TCP closed at once (not after the close timeout).
#[tokio::test]
async fn at_shutdown_a_client_that_answers_after_the_server_hung_up_closes_cleanly_at_once() {
    let (mut ws, close, stopping) = shutdown_after_the_server_answered_and_hung_up().await;
    ws.send(true, Opcode::Close, &close[..2]).await;
    let answered = std::time::Instant::now();
    assert!(matches!(ws.recv().await, Received::Eof), "frametap closes TCP once the handshake is done");
    let waited = answered.elapsed();
    assert!(waited < common::TEST_TIMEOUT / 2, "the client's TCP was closed {waited:?} after its answer");
    let capture = stopping.await.unwrap();
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.clean, close.dropped_by), (Peer::Proxy, true, None), "{close:?}");
    assert_eq!(close.detail.as_deref(), Some("frametap was shutting down (Ctrl-C or SIGTERM), so it closed with 1001"));
    let client_answer = frames(&capture).into_iter().find(|f| f.from == Peer::Client && f.opcode == Opcode::Close);
    assert!(client_answer.is_some_and(|f| !f.relayed), "the client's answer is recorded");
}

#[tokio::test]
async fn two_hundred_connections_run_independently() {
    let server = start_echo_server().await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let url = proxy.ws_url("/many");
    let mut clients = Vec::new();
    for i in 0..200 {
        let url = url.clone();
        clients.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            for j in 0..5 {
                let text = format!("client {i} message {j}");
                ws.send(Message::text(text.clone())).await.unwrap();
                assert_eq!(ws.next().await.unwrap().unwrap().into_text().unwrap().as_str(), text);
            }
            ws.close(None).await.unwrap();
            while ws.next().await.is_some() {}
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let capture = proxy.stop().await;
    let closes = capture.records.iter().filter(|r| matches!(r, Record::Close(c) if c.clean)).count();
    assert_eq!(closes, 200);
    assert_eq!(frames(&capture).iter().filter(|f| f.opcode == Opcode::Text).count(), 200 * 10);
}

/// The spans a relayed connection's records hold (`handshake_ms`, `duration_ms`) are milliseconds to the
/// nanosecond measured, written as such: never float noise such as `1.7288379999999999` (a span taken in seconds
/// and multiplied by 1000 came out so about one time in four).
#[tokio::test]
async fn spans_in_the_capture_are_written_without_float_noise() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, raw_echo).await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    for _ in 0..16 {
        let (head, ws, _) = raw::connect(proxy.addr, "/", &[]).await;
        let mut ws = ws.unwrap_or_else(|| panic!("not upgraded: {head}"));
        ws.send(true, Opcode::Close, b"\x03\xe8").await;
        ws.frame().await;
        assert!(matches!(ws.recv().await, Received::Eof));
    }
    let (_, text) = proxy.stop_with_text().await;
    let mut spans = Vec::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        for field in ["handshake_ms", "duration_ms", "failed_ms"] {
            if let Some(value) = record.get(field) {
                spans.push((field, value.to_string()));
            }
        }
    }
    assert_eq!(spans.len(), 32, "{spans:?}");
    for (field, written) in spans {
        let decimals = written.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 6, "{field} written as {written}: more digits than nanoseconds in milliseconds");
    }
}
