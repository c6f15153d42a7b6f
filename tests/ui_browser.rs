//! The web UI in a real headless Chromium: live records, the close card, filters, search, tokens, lag, and the
//! address naming what is shown.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.
//! `FRAMETAP_UPDATE_SCREENSHOT=1` also writes docs/ui-screenshot.png.

mod cdp;
mod common;

use std::time::Duration;

use cdp::fixtures::{self, publish, publish_annotation, start_ui};
use cdp::{Browser, Page};
use frametap::event::{Opcode, Peer};
use frametap::ui::{Hub, HubOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

async fn browser() -> Browser {
    match Browser::launch().await {
        Ok(b) => b,
        Err(e) => panic!("{e:#}"),
    }
}

async fn count(page: &Page, selector: &str) -> u64 {
    let sel = serde_json::to_string(selector).unwrap();
    page.eval(&format!("document.querySelectorAll({sel}).length")).await.unwrap().as_u64().unwrap()
}

async fn text(page: &Page, selector: &str) -> String {
    let sel = serde_json::to_string(selector).unwrap();
    page.eval(&format!("document.querySelector({sel})?.textContent ?? ''")).await.unwrap().as_str().unwrap().to_string()
}

/// The visible rows' sequence numbers.
async fn rows(page: &Page) -> Vec<u64> {
    let v =
        page.eval("[...document.querySelectorAll('#frame-rows tr')].map(r => Number(r.dataset.seq))").await.unwrap();
    serde_json::from_value(v).unwrap()
}

/// Waits until the visible rows are exactly `seqs` (rendering happens on the next animation frame).
async fn wait_rows(page: &Page, seqs: &[u64]) {
    let want = serde_json::to_string(seqs).unwrap();
    let expr = format!(
        "JSON.stringify([...document.querySelectorAll('#frame-rows tr')].map(r => Number(r.dataset.seq))) === '{want}'"
    );
    if let Err(e) = page.wait_for(&expr, WAIT).await {
        panic!("{e:#}\nrows shown: {:?}, wanted {want}", rows(page).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_appear_live_and_the_close_card_flags_the_preceding_frame() {
    let browser = browser().await;
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    // The token left the address bar; the cookie carries it.
    assert!(!page.eval("location.href").await.unwrap().as_str().unwrap().contains("token="));

    // Records published while the page is open appear live.
    publish(&ui.hub, fixtures::meta());
    let note = frametap::event::Note {
        conn: None,
        ts: fixtures::at(0),
        level: "warn".into(),
        code: "insecure-upstream".into(),
        message: "upstream TLS is not verified".into(),
    };
    publish(&ui.hub, frametap::event::Record::Note(note));
    publish(&ui.hub, fixtures::open(1, "/v1?deploymentId=abc"));
    page.wait_for("document.querySelector('#conn-list li[data-conn=\"1\"]')", WAIT).await.unwrap();
    page.wait_for(
        "document.getElementById('session-notes').textContent.includes('upstream TLS is not verified')",
        WAIT,
    )
    .await
    .unwrap();
    assert!(text(&page, "#conn-list li[data-conn=\"1\"]").await.contains("open"));
    // A live connection's duration counts with the clock (a saved file's does not: ui_layout.rs).
    assert_eq!(page.eval("document.getElementById('status').textContent").await.unwrap(), json!("live"));
    assert_eq!(count(&page, "#conn-list li[data-conn=\"1\"] [data-since]").await, 1);
    publish(&ui.hub, fixtures::text(1, 1, Peer::Client, json!({"action": "configureSession", "token": "t"}), 10));
    page.wait_for("document.querySelectorAll('#frame-rows tr').length === 1", WAIT).await.unwrap();
    publish_annotation(&ui.hub, 1, 1, "configureSession");
    page.wait_for("document.querySelector('#frame-1 .c-ann').textContent === 'configureSession'", WAIT).await.unwrap();

    // The story on connection 2, while the page watches.
    fixtures::publish_story(&ui.hub, 2);
    page.wait_for("document.querySelector('#conn-list li[data-conn=\"2\"] .diag-marker.flagged')", WAIT).await.unwrap();
    let item = text(&page, "#conn-list li[data-conn=\"2\"]").await;
    assert!(item.contains("closed") && item.contains("1000 by server"), "{item}");

    // Select it: the close card shows code, meaning, who closed, causes with evidence.
    page.click("#conn-list li[data-conn=\"2\"]").await.unwrap();
    page.wait_for("document.getElementById('close-card')", WAIT).await.unwrap();
    let card = text(&page, "#close-card").await;
    for expected in [
        "Close 1000",
        "Normal Closure",
        "server",
        "none given",
        "Likely causes",
        "no `action`",
        "evidence",
        "frame #4 has no `token`",
        "180 ms after client frame #4; likely protocol-lint",
        "Ruled out",
        "nothing here expired",
        "clean close handshake",
        "30 ms (from a Ping's Pong; handshake 42 ms)",
    ] {
        assert!(card.contains(expected), "close card lacks {expected:?}: {card}");
    }
    // Every field the card shows in its rows stays out of its catch-all "More" table.
    assert!(!card.contains("upstream_rtt_source"), "{card}");
    wait_rows(&page, &[1, 2, 3, 4, 5, 6]).await;
    assert!(page
        .eval("document.getElementById('frame-4').classList.contains('preceding')")
        .await
        .unwrap()
        .as_bool()
        .unwrap());

    // The flagged preceding frame is one click away.
    page.click("#close-card .preceding.flagged a.frame-link").await.unwrap();
    page.wait_for("document.querySelector('#detail-body h3')?.textContent === 'Frame #4'", WAIT).await.unwrap();
    let detail = text(&page, "#detail-body").await;
    assert!(detail.contains("Hello from custom UI") && detail.contains("request without action"), "{detail}");
    assert!(page
        .eval("document.getElementById('frame-4').classList.contains('selected')")
        .await
        .unwrap()
        .as_bool()
        .unwrap());

    // Hide noise: pings, pongs and the typing event go in one click.
    page.click("#hide-noise").await.unwrap();
    wait_rows(&page, &[4, 5, 6]).await;
    page.click("#hide-noise").await.unwrap();
    wait_rows(&page, &[1, 2, 3, 4, 5, 6]).await;
    // Opcode and direction toggles.
    page.click("[data-op=\"close\"]").await.unwrap();
    page.click("[data-dir=\"server\"]").await.unwrap();
    wait_rows(&page, &[1, 3, 4]).await;
    page.click("[data-op=\"close\"]").await.unwrap();
    page.click("[data-dir=\"server\"]").await.unwrap();
    wait_rows(&page, &[1, 2, 3, 4, 5, 6]).await;

    // Text and regex search.
    page.type_into("#search", "custom ui").await.unwrap();
    wait_rows(&page, &[4]).await;
    page.click("#regex").await.unwrap();
    page.type_into("#search", "\"eventType\":\\s*\"Typing\"").await.unwrap();
    wait_rows(&page, &[3]).await;
    page.type_into("#search", "(unclosed").await.unwrap();
    page.wait_for("document.getElementById('search-error').textContent.includes('bad regex')", WAIT).await.unwrap();
    page.type_into("#search", "").await.unwrap();
    wait_rows(&page, &[1, 2, 3, 4, 5, 6]).await;

    // Clear forgets what is shown; new records still arrive.
    page.click("#clear").await.unwrap();
    page.wait_for("document.querySelectorAll('#conn-list li').length === 0", WAIT).await.unwrap();
    publish(&ui.hub, fixtures::frame(1, 2, Peer::Server, Opcode::Text, b"after clear", 20));
    page.wait_for("document.querySelector('#conn-list li[data-conn=\"1\"]')", WAIT).await.unwrap();

    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// A 1009 close names the largest message the other side sent, which need not be the preceding frame: the frame
/// table flags it as it flags every other cause's frame (the close card linked it, but its row was not flagged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_a_1009_close_names_is_flagged_in_the_frame_table() {
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    // The real analysis derives the diagnosis: client message #1 (9000 B) went past the server's limit, the
    // small #2 was in flight when the server closed with 1009.
    let generic = frametap::inspect::AnalysisOptions {
        profile: frametap::inspect::ProfileChoice::Generic,
        require_scopes: Vec::new(),
    };
    let mut analyzer = frametap::inspect::Analyzer::new(generic);
    let records = [
        fixtures::meta(),
        fixtures::open(1, "/chat"),
        fixtures::frame(1, 1, Peer::Client, Opcode::Text, "x".repeat(9000).as_bytes(), 100),
        fixtures::frame(1, 2, Peer::Client, Opcode::Text, b"small", 110),
        fixtures::close_frame(1, 3, Peer::Server, 1009, "too big", 120),
        fixtures::close_frame(1, 4, Peer::Client, 1009, "", 125),
        fixtures::close(1, Peer::Server, Some(1009), Some("too big"), 130.0),
    ];
    for record in records {
        let derived = analyzer.observe(&record, record.ts());
        publish(&hub, record);
        derived.into_iter().for_each(|d| publish(&hub, d));
    }
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    wait_rows(&page, &[1, 2, 3, 4]).await;
    page.click("#conn-list li[data-conn=\"1\"]").await.unwrap();
    page.wait_for("document.querySelector('#close-card a.frame-link[data-seq=\"1\"]')", WAIT).await.unwrap();
    assert!(text(&page, "#close-card").await.contains("client frame #1 (9000 B)"));
    let flag = |seq: u64| {
        format!("[document.getElementById('frame-{seq}').className, document.querySelector('#frame-{seq} .c-flag').textContent, document.querySelector('#frame-{seq} .c-flag').title]")
    };
    let culprit = page.eval(&flag(1)).await.unwrap();
    assert!(culprit[0].as_str().unwrap().contains("finding"), "{culprit}");
    assert_eq!(culprit[1], "⚠", "{culprit}");
    assert!(culprit[2].as_str().unwrap().contains("1009 Message Too Big"), "{culprit}");
    let preceding = page.eval(&flag(2)).await.unwrap();
    assert!(preceding[0].as_str().unwrap().contains("preceding"), "{preceding}");
    // The close frame itself is not flagged as a culprit.
    assert_eq!(page.eval(&flag(3)).await.unwrap()[1], "");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_count_down_and_binary_frames_show_hex() {
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_healthy(&hub, 1);
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.querySelectorAll('#frame-rows tr').length === 13", WAIT).await.unwrap();
    assert_eq!(text(&page, "#frame-4 .c-ann").await, "JwtResponse 200 (a2, 48 ms)");

    page.click("#tabs [data-tab=\"tokens\"]").await.unwrap();
    if let Err(e) = page.wait_for("document.querySelector('.token .countdown')", WAIT).await {
        panic!("{e:#}: {} / {:?}", text(&page, "#detail-body").await, browser.page_errors());
    }
    let panel = text(&page, "#detail-body").await;
    for expected in ["frame:body.jwt", "jwt", "unverified", "expiring-within-60s", "deploymentId", "guest"] {
        assert!(panel.contains(expected), "tokens panel lacks {expected:?}: {panel}");
    }
    let first = text(&page, ".countdown[data-field=\"exp\"]").await;
    assert!(first.starts_with("expires in 1m 3") || first.starts_with("expires in 1m 2"), "{first}");
    // The countdown is live: it changes without new records.
    let expr = format!(
        "document.querySelector('.countdown[data-field=\"exp\"]').textContent !== {}",
        serde_json::to_string(&first).unwrap()
    );
    page.wait_for(&expr, Duration::from_secs(5)).await.unwrap();

    page.click("#frame-13").await.unwrap();
    page.wait_for("document.querySelector('#detail-body pre.hex')", WAIT).await.unwrap();
    let hex = text(&page, "#detail-body pre.hex").await;
    assert!(hex.contains("00 01 fe ff 68 69") && hex.contains("..hi"), "{hex}");

    page.click("#frame-2").await.unwrap();
    page.wait_for("document.querySelector('#detail-body pre.json .j-key')", WAIT).await.unwrap();
    assert!(text(&page, "#detail-body pre.json").await.contains("\"SessionResponse\""));

    // A 1 MiB message arrives live and is shown truncated, not rendered in full.
    let big = format!("{{\"blob\":\"{}\"}}", "x".repeat(1 << 20));
    publish(&ui.hub, fixtures::frame(1, 14, Peer::Server, Opcode::Text, big.as_bytes(), 6000));
    page.wait_for("document.getElementById('frame-14')", WAIT).await.unwrap();
    assert!(text(&page, "#frame-14 .c-preview").await.chars().count() <= 301);
    page.click("#frame-14").await.unwrap();
    page.wait_for(
        "document.querySelector('#detail-body').textContent.includes('Showing the first 256.0 KiB of 1.0 MiB')",
        WAIT,
    )
    .await
    .unwrap();

    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_scroll_follows_new_frames_until_the_user_scrolls_up() {
    let browser = browser().await;
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    publish(&ui.hub, fixtures::open(1, "/v1"));
    for seq in 1..=100 {
        publish(&ui.hub, fixtures::text(1, seq, Peer::Server, json!({"n": seq}), seq as i64));
    }
    let at_bottom = "(() => { const s = document.getElementById('table-scroll'); \
                     return s.scrollHeight > s.clientHeight && s.scrollHeight - s.scrollTop - s.clientHeight < 24; })()";
    // The table holds all 100 (it draws only the rows in view) and shows the last.
    page.wait_for("window.frametap.table.length === 100 && document.getElementById('frame-100')", WAIT).await.unwrap();
    page.wait_for(at_bottom, WAIT).await.unwrap();
    assert!(page.eval("document.getElementById('jump-latest').hidden").await.unwrap().as_bool().unwrap());

    // Scrolling up pauses it: new frames do not move the view.
    page.eval("(() => { const s = document.getElementById('table-scroll'); s.scrollTop = 0; s.dispatchEvent(new Event('scroll')); })()")
        .await
        .unwrap();
    page.wait_for("!document.getElementById('jump-latest').hidden", WAIT).await.unwrap();
    for seq in 101..=120 {
        publish(&ui.hub, fixtures::text(1, seq, Peer::Server, json!({"n": seq}), seq as i64));
    }
    page.wait_for("window.frametap.table.length === 120 && window.frametap.idle()", WAIT).await.unwrap();
    assert_eq!(page.eval("document.getElementById('table-scroll').scrollTop").await.unwrap(), json!(0));

    // "Jump to latest" resumes it.
    page.click("#jump-latest").await.unwrap();
    page.wait_for(at_bottom, WAIT).await.unwrap();
    publish(&ui.hub, fixtures::text(1, 121, Peer::Server, json!({"n": 121}), 121));
    page.wait_for("document.getElementById('frame-121')", WAIT).await.unwrap();
    page.wait_for(at_bottom, WAIT).await.unwrap();
    ui.stop().await.unwrap();
}

/// A page that falls behind the live buffer is resynced from history and says so. The test runs on
/// one thread, so the stream task cannot forward anything while the loop below publishes.
#[tokio::test]
async fn a_lagging_page_resyncs_from_history_and_says_so() {
    let browser = browser().await;
    let hub = Hub::with_live_buffer(HubOptions::default(), 8);
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    publish(&ui.hub, fixtures::open(1, "/v1"));
    page.wait_for("window.entry = document.querySelector('#conn-list li[data-conn=\"1\"]')", WAIT).await.unwrap();
    for seq in 1..=200 {
        publish(&ui.hub, fixtures::text(1, seq, Peer::Server, json!({"n": seq}), seq as i64));
    }
    page.wait_for("document.getElementById('banner-text').textContent.includes('resynced from history')", WAIT)
        .await
        .unwrap();
    page.wait_for("window.frametap.table.length === 200 && document.getElementById('frame-200')", WAIT).await.unwrap();
    assert_eq!(count(&page, "#conn-list li").await, 1);
    // The resync did not rebuild the list: the connection's entry (under the mouse, or focused) is the one it was.
    assert_eq!(page.eval("document.querySelector('#conn-list li') === window.entry").await.unwrap(), json!(true));
    ui.stop().await.unwrap();
}

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
        Record::Note(Note {
            conn: Some(2),
            ts: fixtures::at(26),
            level: "warn".into(),
            code: "har-import".into(),
            message: "Chrome DevTools records no close codes".into(),
        }),
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
