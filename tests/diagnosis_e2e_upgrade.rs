//! Diagnoses of the upgrade end to end: a real client, the real proxy with the analyzer in its pipeline, and a raw
//! upstream, all on 127.0.0.1:0. A subprotocol or extension the client did not ask for, an upstream that never
//! answers, refusals (cookies dropped, a gzipped or Latin-1 page) and a 101 with a wrong accept are each diagnosed
//! live, with `inspect` on the capture where it applies.

mod common;
#[path = "fixtures/live.rs"]
mod live;

use frametap::event::Record;
use futures_util::StreamExt;
use live::*;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The message of the first note with this code.
fn note_of(capture: &frametap::capture::CaptureFile, code: &str) -> Option<String> {
    capture.records.iter().find_map(|r| match r {
        Record::Note(n) if n.code == code => Some(n.message.clone()),
        _ => None,
    })
}

#[tokio::test]
async fn a_subprotocol_the_upstream_did_not_choose_is_why_the_client_dropped_the_connection() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    // The upstream ignores the client's subprotocols: its 101 has no Sec-WebSocket-Protocol. It then waits
    // for the client to go away, and says so.
    let (gone_tx, mut gone) = mpsc::unbounded_channel();
    let (upstream, _heads) = common::raw::start_raw_server(common::raw::upgrade_all, move |mut ws| {
        let gone_tx = gone_tx.clone();
        async move {
            while let common::raw::Received::Frame(_) = ws.recv().await {}
            let _ = gone_tx.send(());
        }
    })
    .await;
    let proxy = start_analysing_proxy(upstream).await;
    // tungstenite, like a browser, fails a handshake whose answer lacks the subprotocol it asked for.
    let mut request = format!("ws://{}/chat", proxy.addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "v1.chat".parse().unwrap());
    tokio_tungstenite::connect_async(request).await.expect_err("the client fails the handshake");
    gone.recv().await.expect("the relay passed the client's end on");
    let (capture, file, _dir) = proxy.stop().await;
    let note = note_of(&capture, "handshake-mismatch").expect("a live warning at the handshake");
    assert!(note.contains(r#"offered the subprotocols "v1.chat" and the upstream chose none"#), "{note}");
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    let mismatch = cause(&d, "handshake-mismatch");
    assert_eq!(mismatch["confidence"], "likely", "{mismatch}");
    assert!(mismatch["evidence"][0].as_str().unwrap().contains("chose none"), "{mismatch}");
    let drop = cause(&d, "tcp-drop")["message"].as_str().unwrap();
    assert!(drop.contains("see handshake-mismatch") && !drop.contains("laptop"), "{drop}");
    assert_eq!(rules(&d), offline);
}

#[tokio::test]
async fn an_extension_the_upstream_accepted_unasked_is_warned_about_and_explains_its_rsv1_frame() {
    use frametap::event::Opcode;
    let decide =
        |_: &str| common::raw::Answer::Upgrade(vec![("Sec-WebSocket-Extensions".into(), "permessage-deflate".into())]);
    let (gone_tx, mut gone) = mpsc::unbounded_channel();
    let (upstream, _heads) = common::raw::start_raw_server(decide, move |mut ws| {
        let gone_tx = gone_tx.clone();
        async move {
            // A "compressed" frame: RSV1 set on a text frame.
            let mut bytes =
                frametap::wire::encode_frame(true, Opcode::Text, b"\xf2\x48\xcd\xc9\xc9\x07\x00", None).to_vec();
            bytes[0] |= 0x40;
            ws.send_raw(&bytes).await;
            while let common::raw::Received::Frame(_) = ws.recv().await {}
            let _ = gone_tx.send(());
        }
    })
    .await;
    let proxy = start_analysing_proxy(upstream).await;
    let mut ws = connect(&proxy, &[]).await;
    // tungstenite, like a browser, fails the connection on RSV bits it did not negotiate.
    assert!(matches!(ws.next().await, Some(Err(_))), "the client fails the connection");
    drop(ws);
    gone.recv().await.expect("the relay passed the client's end on");
    let (capture, file, _dir) = proxy.stop().await;
    let note = note_of(&capture, "handshake-mismatch").expect("a live warning at the handshake");
    assert!(note.contains("accepted the extension permessage-deflate though none was offered"), "{note}");
    let (d, offline) = diagnosis_and_inspect(&capture, &file, 1);
    let violation = cause(&d, "ws-violation");
    assert_eq!(violation["confidence"], "likely", "{violation}");
    assert!(violation["evidence"].to_string().contains("accepted the extension permessage-deflate"), "{violation}");
    assert!(
        !rules(&d).contains(&"handshake-mismatch".to_owned()),
        "the client never saw the extension header: {:?}",
        rules(&d)
    );
    assert_eq!(rules(&d), offline);
}

/// An upstream that accepts TCP and never answers: the upgrade fails at the handshake timeout. The `open`
/// records when that was (it used to carry only the request's time, and the diagnosis a duration of 0), and the
/// request frametap sent, which went unanswered (it used to keep none); the notes about the request come before
/// the diagnosis (they used to follow it).
#[tokio::test]
async fn an_upstream_that_never_answers_is_diagnosed_when_the_handshake_timed_out() {
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let proxy = start_analysing_proxy(upstream).await;
    let offer = [("Sec-WebSocket-Extensions", "permessage-deflate"), ("Cookie", "local=1")];
    // (The cookie adds the `cookies-dropped` note: both notes come before the diagnosis.)
    let (head, ws, _) = common::raw::connect(proxy.addr, "/chat", &offer).await;
    assert!(head.starts_with("HTTP/1.1 502") && ws.is_none(), "{head}");
    let (capture, _file, _dir) = proxy.stop().await;
    holder.abort();
    let kinds: Vec<&str> = capture.records.iter().filter(|r| r.conn() == Some(1)).map(|r| r.kind()).collect();
    assert_eq!(kinds, ["open", "note", "note", "diagnosis"]);
    // The request was sent, unanswered: "compression is off on both legs" is not said of legs that never opened.
    let compression = capture
        .records
        .iter()
        .find_map(|r| match r {
            Record::Note(n) if n.code == "compression-off" => Some(n.message.as_str()),
            _ => None,
        })
        .expect("a compression-off note");
    assert!(
        compression.contains("from the request it sent upstream") && !compression.contains("both legs"),
        "{compression}"
    );
    let Some(Record::Open(open)) = capture.records.iter().find(|r| r.kind() == "open") else { unreachable!() };
    let failed_ms = open.failed_ms.expect("a failed upgrade says when it failed");
    assert!(failed_ms >= common::TEST_TIMEOUT.as_secs_f64() * 1000.0, "{open:?}");
    let sent = open.upstream_request.as_ref().expect("the request frametap sent, though no answer came");
    assert_eq!(sent.path, "/chat");
    assert!(frametap::event::header(&sent.headers, "sec-websocket-key").is_some(), "{sent:?}");
    // frametap removed the client's compression offer, as on every upgrade it relays.
    assert!(frametap::event::header(&sent.headers, "sec-websocket-extensions").is_none(), "{sent:?}");
    let Some(Record::Diagnosis(d)) = capture.records.iter().find(|r| r.kind() == "diagnosis") else { unreachable!() };
    assert_eq!(Some(d.ts), open.failed_at(), "dated when the upgrade failed, not when it was asked for");
    assert_eq!(d.details["duration_ms"], json!(failed_ms));
    assert!(cause(d, "upgrade-refused")["message"].as_str().unwrap().contains("timed out"), "{d:?}");
}

/// An upstream that authenticates the upgrade by cookie refuses it through frametap, which drops the
/// browser's cookies by default: the diagnosis says so (it used to give only the generic 403 hint, and the
/// `cookies-dropped` note did not connect the two).
#[tokio::test]
async fn a_refusal_from_an_upstream_that_wanted_the_cookies_frametap_dropped_says_so() {
    let decide = |head: &str| {
        if head.to_ascii_lowercase().contains("\r\ncookie:") {
            common::raw::Answer::Upgrade(Vec::new())
        } else {
            common::raw::Answer::Refuse(403, Vec::new(), b"no session".to_vec())
        }
    };
    let (upstream, _heads) = common::raw::start_raw_server(decide, |_| async {}).await;
    let proxy = start_analysing_proxy(upstream).await;
    let (head, ws, _) = common::raw::connect(proxy.addr, "/socket", &[("Cookie", "session=abc")]).await;
    assert!(head.starts_with("HTTP/1.1 403") && ws.is_none(), "{head}");
    // Without cookies the same refusal says nothing about them.
    let (head, _, _) = common::raw::connect(proxy.addr, "/socket", &[]).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let (capture, file, _dir) = proxy.stop().await;
    let (d, _) = diagnosis_and_inspect(&capture, &file, 1);
    let evidence = cause(&d, "upgrade-refused")["evidence"].to_string();
    assert!(evidence.contains("the client sent 1 Cookie header that frametap did not forward"), "{evidence}");
    assert!(evidence.contains("--forward-cookies"), "{evidence}");
    let (d, _) = diagnosis_and_inspect(&capture, &file, 2);
    assert!(!cause(&d, "upgrade-refused")["evidence"].to_string().contains("Cookie"), "{d:?}");
}

/// Browsers send `Accept-Encoding: gzip, …` on the upgrade and frametap passes it on, so a gateway may refuse it
/// with a gzipped page; another may answer in Latin-1. Either body is not UTF-8, and the diagnosis used to leave
/// out what the upstream said: it now quotes the page decompressed, or read with `�` for the odd byte.
#[tokio::test]
async fn a_refusal_page_that_is_gzipped_or_not_utf8_is_still_quoted_in_the_diagnosis() {
    use std::io::Write as _;
    let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzipped.write_all(b"<h1>403</h1> blocked by WAF rule 942100: origin not allowed").unwrap();
    let gzipped = gzipped.finish().unwrap();
    let decide = move |head: &str| {
        let gzip = vec![("Content-Encoding".to_owned(), "gzip".to_owned())];
        if head.starts_with("GET /gzip ") {
            common::raw::Answer::Refuse(403, gzip, gzipped.clone())
        } else {
            common::raw::Answer::Refuse(403, Vec::new(), b"Zugriff verweigert f\xfcr diese Origin".to_vec())
        }
    };
    let (upstream, _heads) = common::raw::start_raw_server(decide, |_| async {}).await;
    let proxy = start_analysing_proxy(upstream).await;
    for path in ["/gzip", "/latin1"] {
        let (head, ws, _) = common::raw::connect(proxy.addr, path, &[("Accept-Encoding", "gzip, deflate, br")]).await;
        assert!(head.starts_with("HTTP/1.1 403") && ws.is_none(), "{head}");
    }
    let (capture, file, _dir) = proxy.stop().await;
    let (d, _) = diagnosis_and_inspect(&capture, &file, 1);
    let evidence = cause(&d, "upgrade-refused")["evidence"].to_string();
    assert!(
        evidence.contains("the upstream said: <h1>403</h1> blocked by WAF rule 942100: origin not allowed"),
        "{evidence}"
    );
    let (d, _) = diagnosis_and_inspect(&capture, &file, 2);
    let evidence = cause(&d, "upgrade-refused")["evidence"].to_string();
    assert!(evidence.contains("the upstream said: Zugriff verweigert f\u{fffd}r diese Origin"), "{evidence}");
    // The record keeps the bytes as they came.
    let gzip_open = common::open_of(&capture, 1).response.clone().unwrap();
    assert!(gzip_open.body.is_none() && gzip_open.body_base64.is_some());
}

/// An upstream that is reached and answers, but not as a WebSocket server (a 101 with a wrong or no
/// `Sec-WebSocket-Accept`): the diagnosis says the connection failed and why, not that the upstream "could not be
/// reached" (it was), and quotes the header as sent, not as Rust's `Some("…")`. The `open` keeps the request sent
/// and the 101 as it came (it used to keep no `response`), while saying the upgrade failed.
#[tokio::test]
async fn a_101_with_a_wrong_accept_is_not_called_unreachable() {
    use tokio::io::AsyncWriteExt as _;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for accept in ["Sec-WebSocket-Accept: AAAA\r\n", ""] {
            let (mut stream, _) = listener.accept().await.unwrap();
            common::raw::read_head(&mut stream).await;
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{accept}\r\n"
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    let proxy = start_analysing_proxy(upstream).await;
    for _ in 0..2 {
        let (head, ws, _) = common::raw::connect(proxy.addr, "/chat", &[]).await;
        assert!(head.starts_with("HTTP/1.1 502") && ws.is_none(), "{head}");
    }
    let (capture, file, _dir) = proxy.stop().await;
    for (conn, problem, accept) in [
        (1, "with Sec-WebSocket-Accept \"AAAA\", not the \"", Some("AAAA")),
        (2, "without a Sec-WebSocket-Accept header", None),
    ] {
        let open = common::open_of(&capture, conn);
        assert!(open.error.is_some() && open.upstream_request.is_some(), "{open:?}");
        let response = open.response.as_ref().expect("the 101 as it came");
        assert_eq!(response.status, 101);
        assert_eq!(frametap::event::header(&response.headers, "sec-websocket-accept"), accept, "{response:?}");
        assert_eq!(frametap::event::header(&response.headers, "upgrade"), Some("websocket"), "{response:?}");
        let (d, _) = diagnosis_and_inspect(&capture, &file, conn);
        assert_eq!(d.details["opened"], false, "{d:?}");
        let message = cause(&d, "upgrade-refused")["message"].as_str().unwrap().to_owned();
        assert!(message.contains("the connection to the upstream failed: the upgrade request to"), "{message}");
        assert!(message.contains(&format!("the upstream answered 101 {problem}")), "{message}");
        assert!(message.ends_with(": not a WebSocket server"), "{message}");
        assert!(!message.contains("could not be reached") && !message.contains("Some("), "{message}");
    }
}
