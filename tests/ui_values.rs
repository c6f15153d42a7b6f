//! The web UI in a real headless Chromium with what a double or a Date cannot hold, text that would reorder itself on
//! screen, and a file still loading: numbers past what a double holds (the pretty view and token claims show them as
//! sent), token times past what a Date holds, bidirectional controls from the wire (shown escaped, as the terminal log
//! shows them), and a saved file's connection while the file is still loading.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

// Unix only: it stops frametap with SIGTERM (or SIGKILL), which Windows cannot send to a child process.
#![cfg(unix)]

mod cdp;
mod common;
#[path = "ui_support/mod.rs"]
mod support;

use cdp::fixtures::{self, publish, start_ui};
use cdp::read::{text, wait_rows};
use cdp::Browser;
use frametap::event::{Opcode, Peer};
use frametap::ui::{Hub, HubOptions};
use support::{frametap_ui, open_page, truth, WAIT};

/// The pretty view shows every number as it was sent, never as a double reads it: 12345678901234567890 (not
/// 12345678901234567000), -0, 1e400 (not Infinity), 0.1000000000000000055511151231257827 (not 0.1), 2.50; and keys as
/// sent, in their order, a repeated key twice. A JWT claim past 2^53 reads exactly too (the Tokens tab).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pretty_view_and_token_claims_show_numbers_exactly_as_sent() {
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    publish(&hub, fixtures::open(1, "/v1"));
    let sent = r#"{"id": 12345678901234567890, "neg": -0, "huge": 1e400, "tenth": 0.1000000000000000055511151231257827,
        "nested": {"list": [1, 2.50, {"deep": -12345678901234567890123}], "empty": {}, "none": [], "ok": true, "nil": null,
        "esc": "caf\u00e9 \"q\""}, "b": 1, "2": 2, "b": 3}"#;
    publish(&hub, fixtures::frame(1, 1, Peer::Server, Opcode::Text, sent.as_bytes(), 10));
    publish(
        &hub,
        frametap::event::Record::from(frametap::event::Token {
            conn: 1,
            ts: fixtures::at(11),
            seq: Some(1),
            source: "frame:body.jwt".into(),
            details: fixtures::details(serde_json::json!({"token_kind": "jwt", "verified": false,
                "claims": {"sub": "guest", "uid": 12345678901234567890u64, "ids": [9007199254740993u64, 7]}})),
        }),
    );
    let ui = start_ui(hub, None).await;
    let page = open_page(&browser, &ui.url).await;
    // The first connection is selected as it arrives.
    page.wait_for("document.getElementById('frame-1')", WAIT).await.unwrap();
    page.click("#frame-1").await.unwrap();
    page.wait_for("document.querySelector('#detail-body pre.json')", WAIT).await.unwrap();

    let shown = page.eval("document.querySelector('#detail-body pre.json').textContent").await.unwrap();
    let expected = r#"{
  "id": 12345678901234567890,
  "neg": -0,
  "huge": 1e400,
  "tenth": 0.1000000000000000055511151231257827,
  "nested": {
    "list": [
      1,
      2.50,
      {
        "deep": -12345678901234567890123
      }
    ],
    "empty": {},
    "none": [],
    "ok": true,
    "nil": null,
    "esc": "caf\u00e9 \"q\""
  },
  "b": 1,
  "2": 2,
  "b": 3
}"#;
    assert_eq!(shown.as_str().unwrap(), expected);
    let numbers = page
        .eval("[...document.querySelectorAll('#detail-body pre.json .j-num')].map(n => n.textContent)")
        .await
        .unwrap();
    let want = [
        "12345678901234567890",
        "-0",
        "1e400",
        "0.1000000000000000055511151231257827",
        "1",
        "2.50",
        "-12345678901234567890123",
        "1",
        "2",
        "3",
    ];
    assert_eq!(numbers, serde_json::json!(want), "each number is highlighted as a number, as sent");
    let keys = page
        .eval("[...document.querySelectorAll('#detail-body pre.json .j-key')].map(n => n.textContent).join(' ')")
        .await
        .unwrap();
    assert_eq!(keys, r#""id" "neg" "huge" "tenth" "nested" "list" "deep" "empty" "none" "ok" "nil" "esc" "b" "2" "b""#);

    page.click("#tabs [data-tab=\"tokens\"]").await.unwrap();
    page.wait_for("document.querySelector('#detail-body .token')", WAIT).await.unwrap();
    let claims = page
        .eval("[...document.querySelectorAll('#detail-body .token h5 + table.kv tr')].map(r => r.textContent).join(' | ')")
        .await
        .unwrap();
    assert_eq!(claims, "subguest | uid12345678901234567890 | ids9007199254740993, 7");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// A JWT may say `"exp": 1e300`: a number, but past what a JavaScript Date holds, so the Tokens tab threw
/// (`RangeError: Invalid time value`) and stayed blank, hiding the connection's other tokens with it. The tokens
/// here come from frametap's own token tracker, as the live pipeline makes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_time_past_what_a_date_holds_leaves_the_tokens_tab_whole() {
    use frametap::inspect::jwt::encode_part;
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    publish(&hub, fixtures::open(1, "/v1"));
    let jwt = |claims: &str| format!("{}.{}.c2ln", encode_part(br#"{"alg":"HS256"}"#), encode_part(claims.as_bytes()));
    let far = jwt(r#"{"sub":"far-future","exp":1e300}"#);
    let soon = jwt(&format!(r#"{{"sub":"an-hour","exp":{}}}"#, chrono::Utc::now().timestamp() + 3600));
    let mut tracker = frametap::inspect::tokens::TokenTracker::new(Vec::new());
    for (seq, token) in [(1, &far), (2, &soon)] {
        let record = fixtures::text(1, seq, Peer::Server, serde_json::json!({"body": {"jwt": token}}), seq as i64);
        publish(&hub, record.clone());
        for found in tracker.observe(&record, frametap::event::Ts::now()) {
            publish(&hub, found.into());
        }
    }
    let ui = start_ui(hub, None).await;
    let page = open_page(&browser, &ui.url).await;
    page.wait_for("document.getElementById('frame-2')", WAIT).await.unwrap();
    page.click("#tabs [data-tab=\"tokens\"]").await.unwrap();
    if let Err(e) = page.wait_for("document.querySelectorAll('#detail-body .token').length === 2", WAIT).await {
        panic!(
            "{e:#}: {:?} / {:?}",
            page.eval("document.getElementById('detail-body').textContent").await,
            browser.page_errors()
        );
    }
    let panel = page.eval("document.getElementById('detail-body').textContent").await.unwrap();
    let panel = panel.as_str().unwrap();
    assert!(panel.contains("far-future") && panel.contains("an-hour"), "{panel}");
    assert!(panel.contains("out of range · after any date a clock can show"), "{panel}");
    let countdowns = page.eval("[...document.querySelectorAll('.countdown')].map(c => c.textContent)").await.unwrap();
    let countdowns: Vec<String> = serde_json::from_value(countdowns).unwrap();
    assert_eq!(countdowns.len(), 1, "only the date a clock shows counts down: {countdowns:?}");
    assert!(
        countdowns[0].starts_with("expires in 59m") || countdowns[0].starts_with("expires in 1h"),
        "{countdowns:?}"
    );
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// Whether any text on the page, or any hover text, holds a raw bidirectional override, embedding or isolate.
const RAW_BIDI_SHOWN: &str = "(() => { const re = /[\\u202a-\\u202e\\u2066-\\u2069]/; \
    return re.test(document.body.textContent) || [...document.querySelectorAll('[title]')].some(e => re.test(e.title)); })()";

/// A bidirectional override or isolate from the wire (U+202A–U+202E, U+2066–U+2069) is shown escaped, `\u{202e}` as
/// the terminal log shows it, wherever the page shows it: the frame table, the Frame tab's text and pretty JSON (a key
/// too), the close card's reason, an annotation, a token's claim, a header, the connection's path. Left raw, it
/// reordered what the user reads: `attachment: \u{202e}fdp.exe` read `attachment: exe.pdf`, and
/// `{"amount":"\u{202e}0001$"}` read `"amount": ""$1000`. Copy still copies the payload as sent, and the search still
/// finds it by its own text (and by the escaped text shown).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidirectional_controls_from_the_wire_are_shown_escaped() {
    use frametap::event::Record;
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    let mut open = fixtures::open(1, "/v1?file=\u{202e}fdp.exe");
    if let Record::Open(open) = &mut open {
        open.request.headers.push(("X-File".into(), "\u{202e}fdp.exe".into()));
    }
    publish(&hub, open);
    let attachment = "attachment: \u{202e}fdp.exe";
    publish(&hub, fixtures::frame(1, 1, Peer::Server, Opcode::Text, attachment.as_bytes(), 10));
    let amount = "{\"amount\":\"\u{202e}0001$\",\"\u{2067}note\u{2069}\":1}";
    publish(&hub, fixtures::frame(1, 2, Peer::Client, Opcode::Text, amount.as_bytes(), 20));
    fixtures::publish_annotation(&hub, 1, 2, "amount \u{202e}0001$");
    publish(
        &hub,
        Record::from(frametap::event::Token {
            conn: 1,
            ts: fixtures::at(21),
            seq: Some(2),
            source: "frame:token".into(),
            details: fixtures::details(serde_json::json!({"token_kind": "jwt", "claims": {"name": "\u{202e}nimda"}})),
        }),
    );
    publish(&hub, fixtures::close_frame(1, 3, Peer::Server, 4000, "bye \u{202e}txt.exe", 30));
    publish(&hub, fixtures::close(1, Peer::Server, Some(4000), Some("bye \u{202e}txt.exe"), 40.0));
    let ui = start_ui(hub, None).await;
    let page = open_page(&browser, &ui.url).await;
    page.wait_for("document.getElementById('frame-3') && window.frametap.idle()", WAIT).await.unwrap();

    assert_eq!(text(&page, "#frame-1 .c-preview").await, r"attachment: \u{202e}fdp.exe");
    assert_eq!(text(&page, "#frame-2 .c-ann").await, r"amount \u{202e}0001$");
    assert_eq!(text(&page, "#frame-3 .c-preview").await, r"4000 application-defined · bye \u{202e}txt.exe");
    let entry = text(&page, "#conn-list li[data-conn=\"1\"]").await;
    assert!(entry.contains(r"/v1?file=\u{202e}fdp.exe"), "{entry}");
    assert!(text(&page, "#conn-header").await.contains(r"/v1?file=\u{202e}fdp.exe"));

    page.click("#frame-1").await.unwrap();
    page.wait_for("document.querySelector('#detail-body pre.text')", WAIT).await.unwrap();
    assert_eq!(text(&page, "#detail-body pre.text").await, r"attachment: \u{202e}fdp.exe");
    assert!(!truth(&page, RAW_BIDI_SHOWN).await, "a raw control shows with frame 1's text");
    // Copy takes the payload as sent, the control itself included.
    page.eval("Object.defineProperty(navigator, 'clipboard', { value: { writeText: async (t) => { window.__copied = t; } } })")
        .await
        .unwrap();
    page.click("#detail-body button.copy").await.unwrap();
    assert_eq!(page.wait_for("window.__copied", WAIT).await.unwrap(), attachment);

    page.click("#frame-2").await.unwrap();
    page.wait_for("document.querySelector('#detail-body pre.json')", WAIT).await.unwrap();
    let pretty = "{\n  \"amount\": \"\\u{202e}0001$\",\n  \"\\u{2067}note\\u{2069}\": 1\n}";
    assert_eq!(text(&page, "#detail-body pre.json").await, pretty);
    // Each escape is marked, so it reads as frametap's, not as text the payload sent.
    let marked = page.eval("[...document.querySelectorAll('#detail-body .escaped')].map(e => e.textContent)").await;
    assert_eq!(marked.unwrap(), serde_json::json!([r"\u{202e}", r"\u{202e}", r"\u{2067}", r"\u{2069}"]));
    assert!(!truth(&page, RAW_BIDI_SHOWN).await, "a raw control shows with frame 2's JSON");

    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    page.wait_for("document.getElementById('close-card')", WAIT).await.unwrap();
    let card = text(&page, "#close-card").await;
    assert!(card.contains(r"bye \u{202e}txt.exe"), "{card}");
    page.click("#tabs [data-tab=\"tokens\"]").await.unwrap();
    page.wait_for("document.querySelector('#detail-body .token')", WAIT).await.unwrap();
    let token = text(&page, "#detail-body .token").await;
    assert!(token.contains(r"\u{202e}nimda"), "{token}");
    page.click("#tabs [data-tab=\"conn\"]").await.unwrap();
    page.wait_for("document.querySelector('#detail-body table.headers')", WAIT).await.unwrap();
    let headers = text(&page, "#detail-body table.headers").await;
    assert!(headers.contains(r"X-File\u{202e}fdp.exe"), "{headers}");
    assert!(!truth(&page, RAW_BIDI_SHOWN).await, "a raw control shows in the page");

    // The search reads the payload as sent: its own text finds it, and so does the escaped text the page shows.
    for search in ["\u{202e}fdp.exe", r"\u{202e}fdp.exe"] {
        page.type_into("#search", search).await.unwrap();
        wait_rows(&page, &[1]).await;
        page.type_into("#search", "").await.unwrap();
        wait_rows(&page, &[1, 2, 3]).await;
    }
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// Installed before the page's own script: the live stream's messages after its first batch are held back until
/// `window.__release()`, so the test sees the page with part of a file read, whatever the machine's speed.
const HOLD_THE_STREAM_AFTER_ITS_FIRST_BATCH: &str = r#"(() => {
  const Native = window.WebSocket;
  let holding = true, batches = 0, deliver = () => {};
  window.__held = [];
  window.__release = () => { holding = false; for (const ev of window.__held.splice(0)) deliver(ev); };
  window.WebSocket = function (url, protocols) {
    const ws = new Native(url, protocols);
    if (!String(url).includes('/api/stream')) return ws;
    let handler = null;
    Object.defineProperty(ws, 'onmessage', { get: () => handler, set: (fn) => { handler = fn; } });
    deliver = (ev) => handler && handler(ev);
    ws.addEventListener('message', (ev) => {
      const t = JSON.parse(ev.data).t;
      if (t === 'batch') batches += 1;
      if (holding && t !== 'hello' && !(t === 'batch' && batches === 1)) window.__held.push(ev); else deliver(ev);
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();"#;

/// While `frametap ui FILE` is still streaming a large capture into the page, a connection whose close comes later
/// in the file reads `loading…` (no ticking duration; the Close tab says the file is loading), never `no close
/// recorded`; once the file is read in full it reads `closed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_of_a_file_still_loading_reads_loading_not_no_close_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("large.jsonl");
    let mut writer = frametap::capture::CaptureWriter::create(&capture).unwrap();
    writer.write(&fixtures::meta());
    writer.write(&fixtures::open(1, "/v1?deploymentId=abc"));
    // Six frames of 100 KB: more than one batch of the stream (256 KiB), the close in a later one than the open.
    let payload = "x".repeat(100_000);
    for seq in 1..=6 {
        writer.write(&fixtures::frame(1, seq, Peer::Client, Opcode::Text, payload.as_bytes(), seq as i64 * 10));
    }
    writer.write(&fixtures::close_frame(1, 7, Peer::Client, 1000, "bye", 80));
    writer.write(&fixtures::close(1, Peer::Client, Some(1000), Some("bye"), 90.0));
    writer.finish(0, Vec::new());

    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let (mut ui, url) = frametap_ui(&capture).await;
    let page = browser.new_page().await.unwrap();
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        serde_json::json!({"source": HOLD_THE_STREAM_AFTER_ITS_FIRST_BATCH}),
    )
    .await
    .unwrap();
    page.goto(&url).await.unwrap();
    let item = "#conn-list li[data-conn=\"1\"]";
    let part_read = format!("window.__held.length > 0 && document.querySelector('{item}') && window.frametap.idle()");
    page.wait_for(&part_read, WAIT).await.unwrap_or_else(|e| panic!("{e:#}"));
    let held_close = "window.frametap.state.conns.get(1).close === null";
    assert!(truth(&page, held_close).await, "the close came in the first batch: the file is too small for this test");
    let state = page.eval(&format!("document.querySelector('{item} .state').textContent")).await.unwrap();
    assert_eq!(state, "loading…", "a connection of a file still loading");
    assert!(truth(&page, &format!("document.querySelector('{item} [data-since]') === null")).await, "it ticks");
    page.click(item).await.unwrap();
    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    let loading_card = "document.getElementById('detail-body')?.textContent.includes('Loading the file')";
    if let Err(e) = page.wait_for(loading_card, WAIT).await {
        panic!("{e:#}: {:?}", page.eval("document.getElementById('detail-body')?.textContent").await);
    }

    page.eval("window.__release()").await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'file' && window.frametap.idle()", WAIT)
        .await
        .unwrap();
    page.wait_for(&format!("document.querySelector('{item} .state').textContent === 'closed'"), WAIT).await.unwrap();
    page.wait_for("document.getElementById('close-card')?.textContent.includes('Close 1000')", WAIT).await.unwrap();
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(ui.id().unwrap() as i32, libc::SIGTERM) };
    ui.wait().await.unwrap();
}
