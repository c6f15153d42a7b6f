//! The relay's handshakes end to end: headers crossing as they should, refused and failed upgrades, dead or
//! resetting upstreams, plain HTTP requests and upgrade requests no server would accept.

mod common;

use common::raw::{self, raw_echo, Answer, RawWs};
use common::{open_of, start_proxy, test_config};
use frametap::event::{NoteLevel, Opcode, Record};
use tokio::io::AsyncWriteExt;

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

/// `--forward-cookies` forwards the page's cookies, but never frametap's own UI cookie: a page on 127.0.0.1 (the UI's
/// Try page, an app on another port) sends it with its upgrade, since browsers send a host's cookies to every port,
/// and the UI's access token is neither recorded nor forwarded.
#[tokio::test]
async fn cookies_are_forwarded_when_asked_but_never_frametaps_own_ui_cookie() {
    let (server, mut heads) = raw::start_raw_server(raw::upgrade_all, raw_echo).await;
    let mut config = test_config(&format!("ws://{server}"));
    config.forward_cookies = true;
    let proxy = start_proxy(config).await;
    let (_, ws, _) = raw::connect(proxy.addr, "/", &[("Cookie", "a=1; frametap_ui_9001=uitoken; b=2")]).await;
    let head = heads.recv().await.unwrap();
    assert_eq!(raw::head_header(&raw::head_headers(&head), "cookie"), Some("a=1; b=2"));
    drop(ws);
    let capture = proxy.stop().await;
    let recorded = serde_json::to_string(&capture.records).unwrap();
    assert!(!recorded.contains("uitoken"), "{recorded}");
    assert_eq!(raw::head_header(&open_of(&capture, 1).request.headers, "cookie"), Some("a=1; b=2"));
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
    let offer = [("Sec-WebSocket-Extensions", "permessage-deflate")];
    let (head, ws, body) = raw::connect(proxy.addr, "/v1", &offer).await;
    assert!(ws.is_none());
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    let body = String::from_utf8_lossy(&body).into_owned();
    let body = if body.is_empty() { head.clone() } else { body };
    assert!(body.contains("could not connect to") || head.contains("chunked"), "{body}");
    let capture = proxy.stop().await;
    assert!(open_of(&capture, 1).error.as_deref().unwrap().contains("could not connect"));
    // No request reached an upstream, so nothing is said of the offer ("off on both legs" would be of legs that never
    // existed).
    let said_compression = capture.records.iter().any(|r| matches!(r, Record::Note(n) if n.code == "compression-off"));
    assert!(!said_compression, "{:?}", capture.records);
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
