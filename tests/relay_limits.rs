//! The relay's `--max-message` limit end to end: frametap's 1009, and how the capture tells what followed it.

mod common;

use common::raw::{self, raw_echo, RawWs, Received};
use common::{close_of, frames, start_proxy, test_config};
use frametap::event::{Opcode, Peer, Record};

#[tokio::test]
async fn messages_past_the_limit_are_refused_with_1009_from_the_proxy() {
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel();
    let (server, _) = raw::start_raw_server(raw::upgrade_all, move |mut ws: RawWs| {
        let got_tx = got_tx.clone();
        async move {
            loop {
                match ws.recv().await {
                    Received::Frame(f) => {
                        got_tx.send((f.header.opcode, f.payload.to_vec())).unwrap();
                        if f.header.opcode == Opcode::Close {
                            ws.send(true, Opcode::Close, &f.payload).await;
                            return;
                        }
                    }
                    _ => return,
                }
            }
        }
    })
    .await;
    let mut config = test_config(&format!("ws://{server}"));
    config.relay.max_message = 100;
    let proxy = start_proxy(config).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    // A control frame is not a message: up to RFC 6455's 125 bytes it passes whatever the limit.
    ws.send(true, Opcode::Ping, &[1u8; 120]).await;
    ws.send(true, Opcode::Text, b"small").await;
    ws.send(true, Opcode::Binary, &[7u8; 1001]).await;
    let close = ws.frame().await;
    assert_eq!(close.header.opcode, Opcode::Close);
    assert_eq!(&close.payload[..2], &1009u16.to_be_bytes());
    ws.send(true, Opcode::Close, b"\x03\xf1").await;
    assert_eq!(got_rx.recv().await.unwrap(), (Opcode::Ping, vec![1u8; 120]));
    assert_eq!(got_rx.recv().await.unwrap(), (Opcode::Text, b"small".to_vec()));
    let (opcode, payload) = got_rx.recv().await.unwrap();
    assert_eq!(
        (opcode, &payload[..2]),
        (Opcode::Close, &1009u16.to_be_bytes()[..]),
        "the server never got the big frame"
    );
    let capture = proxy.stop().await;
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.code), (Peer::Proxy, Some(1009)));
    let detail = close.detail.as_deref().unwrap_or_default();
    assert!(
        detail.starts_with("the client sent a frame of 1001 bytes, past --max-message 100 (not passed on)"),
        "the close record says why frametap closed: {detail}"
    );
    let proxy_frames: Vec<_> = frames(&capture).iter().filter(|f| f.from == Peer::Proxy).map(|f| f.to).collect();
    assert_eq!(proxy_frames.len(), 2, "one close to each side");
    assert!(capture.records.iter().any(|r| matches!(r, Record::Note(n) if n.code == "message-too-big")));
}

/// frametap closes with 1009 to both sides; the server answers and ends TCP, as RFC 6455 §7.1.1 has a server do, and
/// the client goes away without answering. The record blames only the client: the server's close answered
/// frametap's, so it did not leave "without waiting for the answer" (the detail used to say so).
#[tokio::test]
async fn a_server_that_answers_frametaps_1009_and_ends_tcp_is_not_said_to_leave_early() {
    let (gone_tx, gone_rx) = tokio::sync::oneshot::channel::<()>();
    let gone_tx = std::sync::Mutex::new(Some(gone_tx));
    let (server, _) = raw::start_raw_server(raw::upgrade_all, move |mut ws: RawWs| {
        let gone_tx = gone_tx.lock().unwrap().take();
        async move {
            while let Received::Frame(f) = ws.recv().await {
                if f.header.opcode == Opcode::Close {
                    ws.send(true, Opcode::Close, &f.payload).await;
                    break;
                }
            }
            drop(ws);
            if let Some(tx) = gone_tx {
                let _ = tx.send(());
            }
        }
    })
    .await;
    let mut config = test_config(&format!("ws://{server}"));
    config.relay.max_message = 100;
    let proxy = start_proxy(config).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    ws.send(true, Opcode::Binary, &[7u8; 1001]).await;
    let close = ws.frame().await;
    assert_eq!((close.header.opcode, &close.payload[..2]), (Opcode::Close, &1009u16.to_be_bytes()[..]));
    gone_rx.await.unwrap();
    drop(ws);
    let capture = proxy.stop().await;
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.code, close.dropped_by), (Peer::Proxy, Some(1009), Some(Peer::Client)));
    assert_eq!(
        close.detail.as_deref(),
        Some(
            "the client sent a frame of 1001 bytes, past --max-message 100 (not passed on), so frametap closed with \
             1009; then the client closed the TCP connection without a close frame"
        )
    );
}

/// The server's own close right behind its oversized frame (one write, so usually one read for frametap): the
/// client only ever gets frametap's 1009, so the connection was closed by frametap, and the record says why.
#[tokio::test]
async fn a_close_right_behind_an_oversized_frame_leaves_frametaps_1009_first() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, |mut ws: RawWs| async move {
        let mut burst = frametap::wire::encode_frame(true, Opcode::Text, &[b'b'; 80], None).to_vec();
        burst.extend_from_slice(&frametap::wire::encode_frame(true, Opcode::Close, b"\x03\xe8", None));
        ws.send_raw(&burst).await;
        while !matches!(ws.recv().await, Received::Eof | Received::Reset) {}
    })
    .await;
    let mut config = test_config(&format!("ws://{server}"));
    config.relay.max_message = 50;
    let proxy = start_proxy(config).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    let close = ws.frame().await;
    assert_eq!((close.header.opcode, &close.payload[..2]), (Opcode::Close, &1009u16.to_be_bytes()[..]));
    ws.send(true, Opcode::Close, &close.payload[..2]).await;
    let capture = proxy.stop().await;
    let close = close_of(&capture, 1);
    assert_eq!((close.initiator, close.code), (Peer::Proxy, Some(1009)), "{close:?}");
    let detail = close.detail.as_deref().unwrap_or_default();
    assert!(detail.starts_with("the server sent a frame of 80 bytes, past --max-message 50"), "{detail}");
}

/// A fragmented message that goes past `--max-message` at one fragment, with more fragments behind it: frametap
/// warns once and closes once (it used to add a `message-too-big` note for every later fragment, so the log read
/// as if several messages had been too big).
#[tokio::test]
async fn a_message_past_the_limit_in_many_fragments_is_one_warning() {
    let (server, _) = raw::start_raw_server(raw::upgrade_all, raw_echo).await;
    let mut config = test_config(&format!("ws://{server}"));
    config.relay.max_message = 100;
    let proxy = start_proxy(config).await;
    let mut ws = raw::connect(proxy.addr, "/", &[]).await.1.unwrap();
    let mut burst = frametap::wire::encode_frame(false, Opcode::Binary, &[1u8; 60], Some([1, 2, 3, 4])).to_vec();
    for fin in [false, false, false, true] {
        burst.extend_from_slice(&frametap::wire::encode_frame(
            fin,
            Opcode::Continuation,
            &[2u8; 60],
            Some([1, 2, 3, 4]),
        ));
    }
    ws.send_raw(&burst).await;
    let close = ws.frame().await;
    assert_eq!((close.header.opcode, &close.payload[..2]), (Opcode::Close, &1009u16.to_be_bytes()[..]));
    ws.send(true, Opcode::Close, &close.payload[..2]).await;
    let capture = proxy.stop().await;
    let warnings: Vec<&str> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Note(n) if n.code == "message-too-big" => Some(n.message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        warnings,
        ["the client sent a message of 120 bytes, past --max-message 100: not passed on; frametap closes with 1009"]
    );
    let proxy_closes = frames(&capture).iter().filter(|f| f.from == Peer::Proxy).count();
    assert_eq!(proxy_closes, 2, "one close to each side");
}
