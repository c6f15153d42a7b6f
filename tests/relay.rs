//! The relay end to end: real clients, a real proxy and real servers on 127.0.0.1:0, checked frame by frame
//! on the wire and in the capture.

mod common;

use common::raw::{self, Answer, RawWs, Received};
use common::{close_of, frames, open_of, start_echo_server, start_proxy, test_config};
use frametap::event::{NoteLevel, Opcode, Peer, Record};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

/// A raw server that echoes data frames and answers a close with the same close, then ends TCP.
async fn raw_echo(mut ws: RawWs) {
    loop {
        match ws.recv().await {
            Received::Frame(f) if f.header.opcode == Opcode::Close => {
                ws.send(true, Opcode::Close, &f.payload).await;
                return;
            }
            Received::Frame(f) if f.header.opcode.is_data() => ws.send(f.header.fin, f.header.opcode, &f.payload).await,
            Received::Frame(_) => {}
            _ => return,
        }
    }
}

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
        frametap::proxy::stream::reset_on_close(std::os::fd::AsRawFd::as_raw_fd(&ws.stream));
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
async fn handshake_headers_cross_as_they_should() {
    let (server, mut heads) = raw::start_raw_server(
        |_| {
            Answer::Upgrade(vec![
                ("Sec-WebSocket-Protocol".into(), "v2.chat".into()),
                ("Set-Cookie".into(), "session=s1; HttpOnly".into()),
            ])
        },
        raw_echo,
    )
    .await;
    let mut config = test_config(&format!("ws://{server}/base"));
    config.set_headers = vec![("X-Added".into(), "yes".into())];
    let proxy = start_proxy(config).await;
    let (head, ws, _) = raw::connect(
        proxy.addr,
        "/v1?deploymentId=d1",
        &[
            ("Origin", "https://shop.example"),
            ("Authorization", "Bearer abc"),
            ("User-Agent", "test-agent/1"),
            ("Sec-WebSocket-Protocol", "v1.chat, v2.chat"),
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
            ("Cookie", "local_app=secret"),
            ("Cookie", "other_app=1"),
            ("X-Custom", "kept"),
        ],
    )
    .await;
    assert!(ws.is_some(), "{head}");
    let client_sees = raw::head_headers(&head);
    assert_eq!(raw::head_header(&client_sees, "sec-websocket-protocol"), Some("v2.chat"));
    assert_eq!(raw::head_header(&client_sees, "set-cookie"), Some("session=s1; HttpOnly"));
    assert_eq!(raw::head_header(&client_sees, "sec-websocket-extensions"), None);
    let upstream_head = heads.recv().await.unwrap();
    assert!(upstream_head.starts_with("GET /base/v1?deploymentId=d1 HTTP/1.1"), "{upstream_head}");
    let server_sees = raw::head_headers(&upstream_head);
    assert_eq!(raw::head_header(&server_sees, "host"), Some(server.to_string().as_str()));
    assert_eq!(raw::head_header(&server_sees, "origin"), Some("https://shop.example"));
    assert_eq!(raw::head_header(&server_sees, "authorization"), Some("Bearer abc"));
    assert_eq!(raw::head_header(&server_sees, "user-agent"), Some("test-agent/1"));
    assert_eq!(raw::head_header(&server_sees, "sec-websocket-protocol"), Some("v1.chat, v2.chat"));
    assert_eq!(raw::head_header(&server_sees, "x-custom"), Some("kept"));
    assert_eq!(raw::head_header(&server_sees, "x-added"), Some("yes"));
    assert_eq!(raw::head_header(&server_sees, "cookie"), None, "cookies for 127.0.0.1 are not forwarded");
    assert_eq!(raw::head_header(&server_sees, "sec-websocket-extensions"), None);
    assert_ne!(raw::head_header(&server_sees, "sec-websocket-key"), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    drop(ws);
    let capture = proxy.stop().await;
    let notes: Vec<(&str, &str)> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Note(n) => Some((n.code.as_str(), n.message.as_str())),
            _ => None,
        })
        .collect();
    let note = |code: &str| notes.iter().find(|(c, _)| *c == code).map(|(_, message)| *message);
    assert!(note("compression-off").is_some(), "{notes:?}");
    // Counted in words (it used to read "2 Cookie header(s)"; the golden session has the one-header wording).
    let cookies = note("cookies-dropped").expect("a cookies-dropped note");
    assert!(cookies.starts_with("dropped the client's 2 Cookie headers: cookies a browser sends"), "{cookies}");
}

/// `--set-header 'Host: …'` replaces the upstream's Host (it used to be sent as a second Host header).
#[tokio::test]
async fn a_set_host_replaces_the_upstreams_host() {
    let (server, mut heads) = raw::start_raw_server(raw::upgrade_all, raw_echo).await;
    let mut config = test_config(&format!("ws://{server}"));
    config.set_headers = vec![("Host".into(), "vhost.example".into())];
    let proxy = start_proxy(config).await;
    let (head, ws, _) = raw::connect(proxy.addr, "/", &[]).await;
    assert!(ws.is_some(), "{head}");
    let server_sees = raw::head_headers(&heads.recv().await.unwrap());
    let hosts: Vec<&str> = server_sees.iter().filter(|(n, _)| n == "host").map(|(_, v)| v.as_str()).collect();
    assert_eq!(hosts, ["vhost.example"]);
    drop(ws);
    let capture = proxy.stop().await;
    let sent = &open_of(&capture, 1).upstream_request.as_ref().unwrap().headers;
    assert_eq!(sent.iter().filter(|(n, _)| n.eq_ignore_ascii_case("host")).count(), 1, "{sent:?}");
}

#[tokio::test]
async fn cookies_are_forwarded_when_asked() {
    let (server, mut heads) = raw::start_raw_server(raw::upgrade_all, raw_echo).await;
    let mut config = test_config(&format!("ws://{server}"));
    config.forward_cookies = true;
    let proxy = start_proxy(config).await;
    let (_, ws, _) = raw::connect(proxy.addr, "/", &[("Cookie", "a=1")]).await;
    let head = heads.recv().await.unwrap();
    assert_eq!(raw::head_header(&raw::head_headers(&head), "cookie"), Some("a=1"));
    drop(ws);
    proxy.stop().await;
}

#[tokio::test]
async fn a_refused_upgrade_reaches_the_client_as_it_was() {
    let (server, _) = raw::start_raw_server(
        |_| {
            Answer::Refuse(
                403,
                vec![("X-Reason".into(), "origin".into())],
                b"access refused: origin not allowed".to_vec(),
            )
        },
        |_ws: RawWs| async {},
    )
    .await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let (head, ws, body) = raw::connect(proxy.addr, "/v1", &[("Origin", "https://evil.example")]).await;
    assert!(ws.is_none());
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert_eq!(raw::head_header(&raw::head_headers(&head), "x-reason"), Some("origin"));
    assert_eq!(&body[..], b"access refused: origin not allowed");
    let capture = proxy.stop().await;
    let response = open_of(&capture, 1).response.clone().unwrap();
    assert_eq!(response.status, 403);
    assert_eq!(response.body.as_deref(), Some("access refused: origin not allowed"));
}

/// An upstream that takes the upgrade request and resets the connection without answering: the 502 and the `open`
/// record say what happened (the reset), not only hyper's bare "connection error".
#[tokio::test]
async fn an_upstream_that_resets_instead_of_answering_gets_a_502_naming_the_reset() {
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = upstream.accept().await {
            // Closing with most of the request unread makes the kernel answer with a reset.
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut [0u8; 1]).await;
            drop(stream);
        }
    });
    let proxy = start_proxy(test_config(&format!("ws://{upstream_addr}"))).await;
    let (head, ws, body) = raw::connect(proxy.addr, "/v1", &[]).await;
    assert!(ws.is_none());
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    let body = String::from_utf8_lossy(&body).into_owned();
    assert!(body.contains("reset by peer"), "{body}");
    let capture = proxy.stop().await;
    let error = open_of(&capture, 1).error.clone().unwrap();
    assert!(error.contains("reset by peer"), "{error}");
}

#[tokio::test]
async fn a_dead_upstream_gets_a_502_that_names_the_failure() {
    let (_held, free) = common::ports::refusing_addr();
    let proxy = start_proxy(test_config(&format!("ws://{free}"))).await;
    let (head, ws, body) = raw::connect(proxy.addr, "/v1", &[]).await;
    assert!(ws.is_none());
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    let body = String::from_utf8_lossy(&body).into_owned();
    let body = if body.is_empty() { head.clone() } else { body };
    assert!(body.contains("could not connect to") || head.contains("chunked"), "{body}");
    let capture = proxy.stop().await;
    assert!(open_of(&capture, 1).error.as_deref().unwrap().contains("could not connect"));
}

#[tokio::test]
async fn a_plain_http_request_gets_a_page_saying_what_this_is() {
    let proxy = start_proxy(test_config("ws://127.0.0.1:1")).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 426"), "{text}");
    assert!(text.contains("WebSocket debugging proxy") && text.contains("/v1?deploymentId="), "{text}");
    proxy.stop().await;
}

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

/// An upgrade whose answer has more header lines than hyper allows by default (100): a 101 with 150 Set-Cookie
/// lines (a load balancer's, an SSO's) is relayed whole, as a browser would take it, and a client request with
/// 150 header lines reaches the upstream. Before, the 101 was refused as "message head is too large" and the
/// client got a 502, and the request a silent 431.
#[tokio::test]
async fn heads_with_many_header_lines_pass_both_ways() {
    let cookies: Vec<(String, String)> =
        (0..150).map(|i| ("Set-Cookie".to_owned(), format!("c{i}=v{i}; Path=/"))).collect();
    let answer = cookies.clone();
    let (server, mut heads) = raw::start_raw_server(move |_: &str| Answer::Upgrade(answer.clone()), raw_echo).await;
    let proxy = start_proxy(test_config(&format!("ws://{server}"))).await;
    let names: Vec<String> = (0..150).map(|i| format!("X-Custom-{i}")).collect();
    let extra: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "1")).collect();
    let (head, ws, _) = raw::connect(proxy.addr, "/v1", &extra).await;
    let mut ws = ws.unwrap_or_else(|| panic!("not upgraded: {head}"));
    let relayed = raw::head_headers(&head).into_iter().filter(|(name, _)| name == "set-cookie").count();
    assert_eq!(relayed, 150, "every Set-Cookie line reaches the client: {head}");
    let upstream_head = heads.recv().await.unwrap();
    let custom =
        raw::head_headers(&upstream_head).into_iter().filter(|(name, _)| name.starts_with("x-custom-")).count();
    assert_eq!(custom, 150, "every header line of the client reaches the upstream");
    ws.send(true, Opcode::Text, b"hi").await;
    assert_eq!(&ws.frame().await.payload[..], b"hi");
    drop(ws);
    let capture = proxy.stop().await;
    let response = open_of(&capture, 1).response.as_ref().unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(response.headers.iter().filter(|(name, _)| name == "set-cookie").count(), 150);
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

/// An upstream that reads the upgrade request and hangs up without answering (a gateway that dislikes a header):
/// the client gets a 502, and the capture keeps the request as frametap wrote it, `--set-header` included, so the
/// header can be checked. It used to be left out of every failed upgrade's `open` record.
#[tokio::test]
async fn a_failed_upgrade_records_the_request_frametap_sent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let (head, _) = raw::read_head(&mut stream).await;
        head_tx.send(head).unwrap();
    });
    let mut config = test_config(&format!("ws://{server}"));
    config.set_headers = vec![("authorization".to_owned(), "Bearer abc".to_owned())];
    let proxy = start_proxy(config).await;
    let (head, ws, _) = raw::connect(proxy.addr, "/v1?x=1", &[("X-Client", "yes")]).await;
    assert!(head.starts_with("HTTP/1.1 502") && ws.is_none(), "{head}");
    let written = raw::head_headers(&head_rx.await.unwrap());
    let capture = proxy.stop().await;
    let open = open_of(&capture, 1);
    assert!(open.error.as_deref().is_some_and(|e| e.contains("the upgrade request to")), "{open:?}");
    let sent = open.upstream_request.as_ref().expect("the request frametap wrote upstream is recorded");
    assert_eq!(sent.path, "/v1?x=1");
    assert_eq!(
        sent.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect::<Vec<_>>(),
        written,
        "the record holds what the upstream read"
    );
    assert!(written.contains(&("authorization".to_owned(), "Bearer abc".to_owned())), "{written:?}");
}

/// Sends `request` as it is and reads the whole answer (the request asks the server to close after it).
async fn raw_answer(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut text).await.unwrap();
    text
}

/// An upgrade request no WebSocket server would accept is answered as RFC 6455 has a server answer it (400 without a
/// Sec-WebSocket-Key; 426 naming version 13 for another version), is never dialled upstream, and is recorded as a
/// session note. Before, the 400 left no trace in the log or the capture, and a version-8 client was upgraded with
/// version 13 upstream.
#[tokio::test]
async fn an_upgrade_no_server_would_accept_is_refused_and_recorded() {
    let proxy = start_proxy(test_config("ws://127.0.0.1:1")).await;
    let upgrade = |extra: &str| {
        format!(
            "GET /v1?deploymentId=x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n{extra}\r\n"
        )
    };
    let no_key = raw_answer(proxy.addr, &upgrade("Sec-WebSocket-Version: 13\r\n")).await;
    assert!(no_key.starts_with("HTTP/1.1 400") && no_key.contains("no Sec-WebSocket-Key"), "{no_key}");
    let old =
        raw_answer(proxy.addr, &upgrade("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"))
            .await;
    assert!(old.starts_with("HTTP/1.1 426"), "{old}");
    let head = raw::head_headers(old.split("\r\n\r\n").next().unwrap());
    assert_eq!(raw::head_header(&head, "sec-websocket-version"), Some("13"), "{old}");
    let capture = proxy.stop().await;
    assert!(!capture.records.iter().any(|r| matches!(r, Record::Open(_))), "nothing was dialled upstream");
    let notes: Vec<&str> = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Note(n) if n.code == "upgrade-malformed" && n.conn.is_none() && n.level == NoteLevel::Warn => {
                Some(n.message.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains("/v1?deploymentId=x: it has no Sec-WebSocket-Key header; answered 400"), "{notes:?}");
    assert!(notes[1].contains("asks for WebSocket version \"8\"") && notes[1].contains("answered 426"), "{notes:?}");
}
