//! The web UI in a real headless Chromium: the connection tab, refused and failed upgrades, closes and fragments as
//! they render, and the address naming the connection, frame and tab shown.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod cdp;
mod common;

use cdp::fixtures::{self, publish, start_ui};
use cdp::read::{browser, text, wait_rows, WAIT};
use frametap::event::{Opcode, Peer};
use frametap::ui::{Hub, HubOptions};
use serde_json::json;

/// A refused upgrade whose body is not UTF-8 (a gateway's 403 page gzipped, as a browser's `Accept-Encoding` invites;
/// deflated; in Latin-1; in an encoding a browser cannot undo) still reads in the Connection tab, as it does in the
/// log and the diagnosis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upgrades_body_that_is_not_utf8_reads_in_the_connection_tab() {
    use base64::Engine as _;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use std::io::Write as _;
    let page_text = "<h1>403 Forbidden</h1> origin not allowed for this deployment";
    let mut gzip = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(page_text.as_bytes()).unwrap();
    let mut zlib = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(page_text.as_bytes()).unwrap();
    let bodies: [(&str, Vec<u8>); 4] = [
        ("gzip", gzip.finish().unwrap()),
        ("deflate", zlib.finish().unwrap()),
        ("", b"acc\xe8s refus\xe9".to_vec()),
        ("br", vec![0x1b, 0x03, 0x00, 0xf8]),
    ];
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    for (conn, (encoding, bytes)) in (1..).zip(&bodies) {
        let mut record = fixtures::open(conn, "/v1?deploymentId=abc");
        if let frametap::event::Record::Open(open) = &mut record {
            let headers =
                if encoding.is_empty() { vec![] } else { vec![("Content-Encoding".into(), encoding.to_string())] };
            open.response = Some(frametap::event::HttpResponse {
                status: 403,
                headers,
                body: None,
                body_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            });
            open.failed_ms = Some(40.0);
        }
        publish(&hub, record);
    }
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    let expected =
        [page_text, page_text, "acc�s refus�", "<4 bytes with Content-Encoding br that frametap cannot decode"];
    for (conn, shown) in (1..).zip(expected) {
        let entry = format!("#conn-list li[data-conn=\"{conn}\"]");
        page.wait_for(&format!("document.querySelector({})", json!(entry)), WAIT).await.unwrap();
        page.click(&entry).await.unwrap();
        page.click("#tabs [data-tab=\"conn\"]").await.unwrap();
        let body = "document.querySelector('#detail-body pre.response-body')?.textContent";
        let arrived = format!("({body} || '').includes({})", json!(shown));
        if page.wait_for(&arrived, WAIT).await.is_err() {
            panic!("connection {conn}: the body reads {:?}, not {shown:?}", page.eval(body).await.unwrap());
        }
    }
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// An upgrade that failed after frametap sent it on (a 101 with a wrong `Sec-WebSocket-Accept`) shows in the
/// Connection tab what was sent upstream and the 101 as it came, next to the error (the tab used to show neither the
/// request sent upstream nor, since the record kept none, that 101).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_shows_the_request_sent_upstream_and_the_answer_that_came() {
    let header = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    let mut record = fixtures::open(1, "/v1?deploymentId=abc");
    if let frametap::event::Record::Open(open) = &mut record {
        open.upstream_request = Some(frametap::event::HttpRequest {
            method: "GET".into(),
            path: "/base/v1?deploymentId=abc".into(),
            headers: vec![header("host", "upstream.example"), header("sec-websocket-key", "k3y")],
        });
        open.response = Some(frametap::event::HttpResponse {
            status: 101,
            headers: vec![header("upgrade", "websocket"), header("sec-websocket-accept", "AAAA")],
            body: None,
            body_base64: None,
        });
        open.error = Some("the upstream answered 101 with Sec-WebSocket-Accept \"AAAA\"".into());
        open.failed_ms = Some(3.0);
    }
    publish(&hub, record);
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    let entry = "#conn-list li[data-conn=\"1\"]";
    page.wait_for(&format!("document.querySelector({})", json!(entry)), WAIT).await.unwrap();
    page.click(entry).await.unwrap();
    page.click("#tabs [data-tab=\"conn\"]").await.unwrap();
    let tab = "document.querySelector('#detail-body')?.textContent || ''";
    let shown = format!("({tab}).includes('Sent upstream: GET /base/v1?deploymentId=abc')");
    if page.wait_for(&shown, WAIT).await.is_err() {
        panic!("the Connection tab reads {:?}", page.eval(tab).await.unwrap());
    }
    let text = page.eval(tab).await.unwrap().as_str().unwrap_or_default().to_owned();
    for part in ["sec-websocket-keyk3y", "Response 101", "sec-websocket-acceptAAAA", "the upstream answered 101"] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// The records the analysis, the relay and HAR import emit render as such: a refused upgrade's diagnosis
/// (`opened: false`), a close the other side answered by dropping TCP (`dropped_by`), annotation details,
/// an opaque session token (`token_kind`) and a note from a HAR import.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upgrades_dropped_closes_annotations_tokens_and_notes_render() {
    use frametap::event::{Annotation, Close, Diagnosis, Note, Record, Token};
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_refused(&hub, 1);
    publish(&hub, fixtures::open(2, "/v1?deploymentId=abc"));
    publish(
        &hub,
        fixtures::text(
            2,
            1,
            Peer::Client,
            json!({"action": "configureSession", "token": "5b1f0c7e-7a43-4ad5-9d1a-0f2b7d7f1c11"}),
            10,
        ),
    );
    publish(
        &hub,
        Record::from(Annotation {
            conn: 2,
            ts: fixtures::at(11),
            seq: 1,
            profile: "genesys".into(),
            text: "configureSession".into(),
            details: fixtures::details(json!({"action": "configureSession", "tracing_id": "t-1", "findings": []})),
        }),
    );
    publish(
        &hub,
        Record::from(Token {
            conn: 2,
            ts: fixtures::at(11),
            seq: Some(1),
            source: "frame:token".into(),
            details: fixtures::details(
                json!({"token_kind": "opaque", "flags": [], "fingerprint": "0123456789ab", "preview": "5b1f0c…",
            "note": "opaque credential: Genesys session token (a UUID the client generates; anyone holding it can resume the session)"}),
            ),
        }),
    );
    publish(&hub, fixtures::close_frame(2, 2, Peer::Server, 1000, "", 20));
    publish(
        &hub,
        Record::Close(Close {
            conn: 2,
            ts: fixtures::at(25),
            initiator: Peer::Server,
            initiator_unknown: false,
            code: Some(1000),
            reason: None,
            clean: false,
            dropped_by: Some(Peer::Client),
            duration_ms: 25.0,
            detail: Some("client ended TCP without answering the close".into()),
        }),
    );
    publish(
        &hub,
        Record::Diagnosis(Diagnosis {
            conn: 2,
            ts: fixtures::at(25),
            details: fixtures::details(json!({
        "initiator": "server", "code": 1000, "clean": false, "dropped_by": "client",
        "how": "closed, then the client dropped TCP without answering the close", "duration_ms": 25.0,
        "summary": "server closed, no reason; the client dropped TCP", "causes": [], "ruled_out": [], "findings": []})),
        }),
    );
    publish(
        &hub,
        Record::Note(Note::warn("har-import", Some(2), fixtures::at(26), "Chrome DevTools records no close codes")),
    );
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.querySelector('#conn-list li[data-conn=\"2\"]')", WAIT).await.unwrap();
    let refused = text(&page, "#conn-list li[data-conn=\"1\"]").await;
    assert!(refused.contains("refused 403") && refused.contains("⚑ diagnosis"), "{refused}");
    let dropped = text(&page, "#conn-list li[data-conn=\"2\"]").await;
    assert!(dropped.contains("1000 by server") && dropped.contains("client dropped TCP"), "{dropped}");

    page.click("#conn-list li[data-conn=\"1\"]").await.unwrap();
    // No frame table to wait for: it says why there is none (it said "No frames yet." of an upgrade that failed).
    page.wait_for("document.getElementById('table-note').textContent.includes('never opened')", WAIT).await.unwrap();
    assert_eq!(text(&page, "#table-note").await, "No frames: the WebSocket never opened (the Close tab says why).");
    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    page.wait_for("document.getElementById('close-card')?.textContent.includes('never opened')", WAIT).await.unwrap();
    let card = text(&page, "#close-card").await;
    assert!(card.contains("WebSocket never opened (HTTP 403)") && card.contains("upgrade-refused"), "{card}");
    assert!(!card.contains("Preceding frame"), "{card}");

    page.click("#conn-list li[data-conn=\"2\"]").await.unwrap();
    page.wait_for("document.getElementById('close-card')?.textContent.includes('dropped TCP')", WAIT).await.unwrap();
    let card = text(&page, "#close-card").await;
    assert!(card.contains("closed, then the client dropped TCP without answering the close"), "{card}");
    assert!(card.contains("the client dropped TCP") && !card.contains("More"), "{card}");
    page.click("#tabs [data-tab=\"tokens\"]").await.unwrap();
    page.wait_for("document.querySelector('.token')", WAIT).await.unwrap();
    let tokens = text(&page, ".token").await;
    assert!(
        tokens.contains("frame:token") && tokens.contains("opaque") && tokens.contains("Genesys session token"),
        "{tokens}"
    );
    page.click("#tabs [data-tab=\"conn\"]").await.unwrap();
    page.wait_for(
        "document.getElementById('detail-body').textContent.includes('Chrome DevTools records no close codes')",
        WAIT,
    )
    .await
    .unwrap();
    page.click("#frame-1").await.unwrap();
    page.wait_for("document.querySelector('#detail-body .annotation-details')", WAIT).await.unwrap();
    let annotation = text(&page, "#detail-body .annotation-details").await;
    assert!(annotation.contains("genesys annotation") && annotation.contains("t-1"), "{annotation}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// A close whose closer the record does not know (`initiator_unknown`: a HAR import without close frames) names no
/// side: the connection list and the close card say "unknown", not the record's placeholder `initiator`, also before
/// (or without) a diagnosis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_by_an_unknown_side_names_no_side() {
    use frametap::event::{Close, Record};
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    publish(&hub, fixtures::open(1, "/v1?deploymentId=abc"));
    publish(&hub, fixtures::text(1, 1, Peer::Client, json!({"action": "echo", "message": "hi"}), 10));
    // A TCP drop whose side the record does not know (its `initiator` is a placeholder).
    let Record::Close(dropped) = fixtures::close(1, Peer::Server, None, None, 30.0) else { unreachable!() };
    publish(&hub, Record::Close(Close { initiator_unknown: true, dropped_by: None, ..dropped }));
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.querySelector('#conn-list li[data-conn=\"1\"]')?.textContent.includes('closed')", WAIT)
        .await
        .unwrap();
    let entry = text(&page, "#conn-list li[data-conn=\"1\"]").await;
    assert!(entry.contains("drop by unknown") && !entry.contains("server"), "{entry}");
    page.click("#conn-list li[data-conn=\"1\"]").await.unwrap();
    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    page.wait_for("document.querySelector('#close-card .who')", WAIT).await.unwrap();
    assert_eq!(text(&page, "#close-card .who").await, "unknown");
    let card = text(&page, "#close-card").await;
    assert!(!card.contains("server"), "{card}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// The close card's rows wrap their prose at spaces: a long close reason, read in a detail pane narrower than it,
/// keeps every word whole, and a token longer than the pane still wraps inside it. Before, every cell of those rows
/// broke anywhere (`word-break: break-all`): the round trip read "hand" and "shake" on two lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_close_cards_rows_wrap_at_spaces_and_keep_words_whole() {
    let reason = "the agent ended this conversation because the customer stopped answering questions";
    let token = "x".repeat(120);
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    publish(&hub, fixtures::open(1, "/v1?deploymentId=abc"));
    publish(&hub, fixtures::close_frame(1, 1, Peer::Server, 4000, reason, 20));
    publish(&hub, fixtures::close(1, Peer::Server, Some(4000), Some(&format!("{reason} {token}")), 30.0));
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.set_viewport(1400, 900).await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.querySelector('#conn-list li[data-conn=\"1\"]')?.textContent.includes('closed')", WAIT)
        .await
        .unwrap();
    page.click("#conn-list li[data-conn=\"1\"]").await.unwrap();
    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    page.wait_for("document.querySelector('#close-card table.kv')", WAIT).await.unwrap();
    // Each word of each row's value: on how many lines it is drawn (a range's boxes, one a line), and whether it is
    // wider than its cell (its boxes' widths together).
    let words = page
        .eval(
            "[...document.querySelectorAll('#close-card table.kv td')].flatMap(td => { \
               const node = [...td.querySelectorAll('*'), td].flatMap(e => [...e.childNodes]).find(n => n.nodeType === 3 && n.textContent.includes(' ')); \
               if (!node) return []; \
               const found = []; const re = /\\S+/g; let m; \
               while ((m = re.exec(node.textContent))) { \
                 const r = document.createRange(); r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length); \
                 const lines = new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; \
                 const wide = [...r.getClientRects()].reduce((sum, b) => sum + b.width, 0); \
                 found.push([m[0], lines, wide > td.clientWidth - 1]); } \
               return found; })",
        )
        .await
        .unwrap();
    let words = words.as_array().unwrap();
    let lines_of = |word: &str| words.iter().find(|w| w[0] == word).map(|w| w[1].as_u64().unwrap());
    assert!(lines_of("conversation").is_some() && lines_of(&token).is_some(), "the reason's words: {words:?}");
    for word in words {
        let (said, lines, wider) = (word[0].as_str().unwrap(), word[1].as_u64().unwrap(), word[2].as_bool().unwrap());
        assert!(lines == 1 || wider, "{said:?} is broken over {lines} lines though it fits its cell: {words:?}");
    }
    assert!(lines_of(&token).unwrap() > 1, "the token wraps inside the pane");
    let (pane, card) = (
        page.eval("document.querySelector('.detail-body').clientWidth").await.unwrap(),
        page.eval("document.querySelector('#close-card').scrollWidth").await.unwrap(),
    );
    assert!(card.as_f64().unwrap() <= pane.as_f64().unwrap(), "the card fits its pane: {card} > {pane}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// A text message sent in fragments that split "é" and "😀" between them: each fragment's preview in the frame table
/// reads as text, the split character's piece at the edge shown as U+FFFD (as the terminal log shows it), not as
/// hex; a fragment with bytes that are not UTF-8 inside still shows hex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_that_splits_a_character_previews_as_text_in_the_frame_table() {
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    publish(&hub, fixtures::open(1, "/v1?deploymentId=abc"));
    let fragments: [(Opcode, bool, &[u8]); 4] = [
        (Opcode::Text, false, b"caf\xc3"),
        (Opcode::Continuation, false, b"\xa9 \xf0\x9f"),
        (Opcode::Continuation, false, b"\x98\x80 ok"),
        (Opcode::Continuation, true, b"a\xffb"),
    ];
    for (seq, (opcode, fin, payload)) in fragments.into_iter().enumerate() {
        let mut record = fixtures::frame(1, seq as u64 + 1, Peer::Client, opcode, payload, seq as i64);
        if let frametap::event::Record::Frame(frame) = &mut record {
            frame.fin = fin;
            frame.text_message = true;
        }
        publish(&hub, record);
    }
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    wait_rows(&page, &[1, 2, 3, 4]).await;
    let shown = [
        text(&page, "#frame-1 .c-preview").await,
        text(&page, "#frame-2 .c-preview").await,
        text(&page, "#frame-3 .c-preview").await,
    ];
    assert_eq!(shown, ["caf\u{FFFD}", "\u{FFFD} \u{FFFD}", "\u{FFFD} ok"]);
    assert_eq!(text(&page, "#frame-4 .c-preview").await, "61 ff 62", "bytes that are not UTF-8 inside stay hex");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
}

/// The address bar names what is shown (`#conn=3&frame=2`, `#conn=3&tab=close`): a page opened or reloaded on such
/// an address shows that connection, frame or tab, not the first connection; editing the address goes where it
/// says; an address naming a connection the session does not hold says so and shows the first one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_names_the_connection_frame_and_tab_shown_and_a_reload_comes_back_to_them() {
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 1);
    fixtures::publish_healthy(&hub, 2);
    fixtures::publish_story(&hub, 3);
    let ui = start_ui(hub, None).await;
    let base = format!("http://{}/", ui.addr);
    let shows = |conn: u64, what: &str| {
        format!(
            "document.querySelector('#conn-header strong')?.textContent === '#{conn} ' && {}",
            match what.strip_prefix("frame ") {
                Some(seq) => format!("document.querySelector('#detail-body h3')?.textContent === 'Frame #{seq}'"),
                None => format!(
                    "document.querySelector('#tabs [data-tab=\"{what}\"]').getAttribute('aria-selected') === 'true'"
                ),
            }
        )
    };
    let address_is = |hash: &str| format!("location.hash === '{hash}' && !location.search.includes('token')");

    // Opened on a link to a frame of the third connection: that frame, scrolled into view and selected.
    let page = browser.new_page().await.unwrap();
    page.goto(&format!("{}#conn=3&frame=4", ui.url)).await.unwrap();
    page.wait_for(&shows(3, "frame 4"), WAIT).await.unwrap();
    page.wait_for("document.querySelector('#frame-rows tr.selected')?.dataset.seq === '4'", WAIT).await.unwrap();
    page.wait_for(&address_is("#conn=3&frame=4"), WAIT).await.unwrap();

    // What the user picks is written to the address.
    page.click("#frame-rows tr[data-seq=\"2\"]").await.unwrap();
    page.wait_for(&address_is("#conn=3&frame=2"), WAIT).await.unwrap();
    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    page.wait_for(&address_is("#conn=3&tab=close"), WAIT).await.unwrap();

    // A reload (the token is in the cookie now, not the address) comes back to the same connection and tab.
    page.eval("window.beforeReload = true").await.unwrap();
    page.call("Page.reload", json!({})).await.unwrap();
    page.wait_for(&format!("window.beforeReload === undefined && {}", shows(3, "close")), WAIT).await.unwrap();
    page.wait_for("document.querySelector('#close-card')", WAIT).await.unwrap();

    // Editing the address goes where it says.
    page.eval("location.hash = '#conn=1&frame=5'").await.unwrap();
    page.wait_for(&shows(1, "frame 5"), WAIT).await.unwrap();

    // A connection the session does not hold: said, and the first connection is shown.
    // Opened in another tab (the cookie carries the token).
    let other = browser.new_page().await.unwrap();
    other.goto(&format!("{base}#conn=99&frame=1")).await.unwrap();
    other.wait_for("!document.getElementById('banner').hidden", WAIT).await.unwrap();
    let said = text(&other, "#banner-text").await;
    assert!(said.contains("Connection #99") && said.contains("not in this session"), "{said}");
    other.wait_for("document.querySelector('#conn-header strong')?.textContent === '#1 '", WAIT).await.unwrap();
    other.wait_for(&address_is("#conn=1"), WAIT).await.unwrap();
    // A frame the connection does not hold, from an edited address: said too.
    other.eval("location.hash = '#conn=2&frame=999'").await.unwrap();
    other.wait_for("document.getElementById('banner-text').textContent.includes('Frame #999')", WAIT).await.unwrap();
    other.wait_for("document.querySelector('#conn-header strong')?.textContent === '#2 '", WAIT).await.unwrap();

    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// An address the user edits right after a click stays theirs: the page writes a selection to the address a moment
/// later (at most a few times a second), and HTML does not order that delayed write against the edited address's
/// `hashchange` (the address test above timed out once on a loaded machine in a way a write that went first
/// explains). Here the event is held back until the delayed write's time has passed, as a busy browser may do: the
/// edited address is kept, and then followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_edited_while_a_selection_waits_to_be_written_is_followed_not_overwritten() {
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 1);
    fixtures::publish_story(&hub, 2);
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    // Listeners run in the order they were added: this one, added before the page's own, can hold the event back.
    let hold = "window.holdingHashchange = false; \
                window.addEventListener('hashchange', e => { if (window.holdingHashchange) e.stopImmediatePropagation(); });";
    page.call("Page.addScriptToEvaluateOnNewDocument", json!({ "source": hold })).await.unwrap();
    page.goto(&format!("{}#conn=2&frame=4", ui.url)).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    page.wait_for(
        "document.querySelector('#detail-body h3')?.textContent === 'Frame #4' && location.hash === '#conn=2&frame=4'",
        WAIT,
    )
    .await
    .unwrap();

    // A click, and once the page has drawn the selection (and so set its delayed write going), the address edited
    // at once, its event held back until after the write's time.
    let address = page
        .eval(
            "new Promise(resolve => { \
               const row = document.querySelector('#frame-rows tr[data-seq=\"2\"]'); \
               row.dispatchEvent(new MouseEvent('mousedown', {bubbles: true})); \
               row.click(); \
               const edit = () => { \
                 if (document.querySelector('#detail-body h3')?.textContent !== 'Frame #2') return requestAnimationFrame(edit); \
                 window.holdingHashchange = true; \
                 location.hash = '#conn=1&frame=5'; \
                 /* Due after the page's delayed write (300 ms, set first), so it runs after it. */ \
                 setTimeout(() => { \
                   window.holdingHashchange = false; \
                   const kept = location.hash; \
                   window.dispatchEvent(new HashChangeEvent('hashchange')); \
                   resolve(kept); \
                 }, 600); \
               }; \
               requestAnimationFrame(edit); })",
        )
        .await
        .unwrap();
    assert_eq!(address, json!("#conn=1&frame=5"), "the delayed write replaced the edited address");
    page.wait_for(
        "document.querySelector('#conn-header strong')?.textContent === '#1 ' && document.querySelector('#detail-body h3')?.textContent === 'Frame #5'",
        WAIT,
    )
    .await
    .unwrap();
    // Selections after it are written again.
    page.click("#frame-rows tr[data-seq=\"3\"]").await.unwrap();
    page.wait_for("location.hash === '#conn=1&frame=3'", WAIT).await.unwrap();
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}
