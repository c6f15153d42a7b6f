//! The web UI in a real headless Chromium: live records, the close card, filters, search, tokens, auto-scroll and
//! a lagging page (the connection tab, failed upgrades, rendering and addresses: ui_connection.rs).
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.
//! `FRAMETAP_UPDATE_SCREENSHOT=1` also writes docs/ui-screenshot.png.

mod cdp;
mod common;

use cdp::fixtures::{self, publish, publish_annotation, start_ui};
use cdp::read::{browser, count, text, wait_rows, WAIT};
use frametap::event::{Opcode, Peer};
use frametap::ui::{Hub, HubOptions};
use serde_json::json;
use std::time::Duration;

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
    let note = frametap::event::Note::warn("insecure-upstream", None, fixtures::at(0), "upstream TLS is not verified");
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

/// A page that falls behind the live buffer is caught up from history, keeps what it had, and says nothing is
/// missing. The test runs on one thread, so the stream task cannot forward anything while the loop below publishes.
#[tokio::test]
async fn a_lagging_page_catches_up_from_history_and_says_nothing_is_missing() {
    let browser = browser().await;
    let hub = Hub::with_live_buffer(HubOptions::default(), 8);
    let ui = start_ui(hub, None).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    publish(&ui.hub, fixtures::open(1, "/v1"));
    publish(&ui.hub, fixtures::text(1, 1, Peer::Server, json!({"n": 1}), 1));
    page.wait_for("window.entry = document.querySelector('#conn-list li[data-conn=\"1\"]')", WAIT).await.unwrap();
    page.wait_for("window.first = window.frametap.state.conns.get(1)?.frames[0]", WAIT).await.unwrap();
    for seq in 2..=200 {
        publish(&ui.hub, fixtures::text(1, seq, Peer::Server, json!({"n": seq}), seq as i64));
    }
    page.wait_for("document.getElementById('banner-text').textContent.includes('nothing is missing')", WAIT)
        .await
        .unwrap();
    page.wait_for("window.frametap.table.length === 200 && document.getElementById('frame-200')", WAIT).await.unwrap();
    let seqs = "window.frametap.state.conns.get(1).frames.every((f, i) => f.seq === i + 1)";
    assert_eq!(page.eval(seqs).await.unwrap(), json!(true), "frames 1 to 200, each once");
    // Kept, not read again: the first frame is the record the page had before it fell behind.
    assert_eq!(page.eval("window.frametap.state.conns.get(1).frames[0] === window.first").await.unwrap(), json!(true));
    assert_eq!(count(&page, "#conn-list li").await, 1);
    // The resync did not rebuild the list: the connection's entry (under the mouse, or focused) is the one it was.
    assert_eq!(page.eval("document.querySelector('#conn-list li') === window.entry").await.unwrap(), json!(true));
    ui.stop().await.unwrap();
}

/// Publishes text frames `{"n": seq}` of a connection, from the server.
fn publish_texts(hub: &Hub, conn: u64, seqs: std::ops::RangeInclusive<u64>) {
    for seq in seqs {
        publish(hub, fixtures::text(conn, seq, Peer::Server, json!({"n": seq}), 0));
    }
}

/// A page whose stream drops (its WebSocket closed from outside the page's code, as a network blip would) reconnects
/// and resumes after the last record it has: it keeps its records, gets those published meanwhile once each, and says
/// nothing is missing. (It used to start over: forget everything and read the whole history again.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_reconnects_resumes_after_its_last_record_and_says_nothing_is_missing() {
    let browser = browser().await;
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    publish(&ui.hub, fixtures::open(1, "/v1"));
    publish_texts(&ui.hub, 1, 1..=100);
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("window.frametap.table.length === 100 && window.frametap.state.live", WAIT).await.unwrap();
    page.eval("window.first = window.frametap.state.conns.get(1).frames[0]").await.unwrap();
    assert_eq!(page.drop_websockets().await.unwrap(), 1, "the page's live stream");
    page.wait_for("document.getElementById('status').textContent.startsWith('disconnected')", WAIT).await.unwrap();
    publish_texts(&ui.hub, 1, 101..=150);
    let resumed = "document.getElementById('banner-text').textContent === \
                   \"This page lost its connection to frametap, reconnected and caught up from the UI's history: nothing is missing.\"";
    page.wait_for(resumed, WAIT).await.unwrap();
    page.wait_for("window.frametap.table.length === 150 && window.frametap.state.live", WAIT).await.unwrap();
    let seqs = "window.frametap.state.conns.get(1).frames.every((f, i) => f.seq === i + 1)";
    assert_eq!(page.eval(seqs).await.unwrap(), json!(true), "frames 1 to 150, each once");
    assert_eq!(page.eval("window.frametap.state.conns.get(1).frames[0] === window.first").await.unwrap(), json!(true));
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// A burst of 28,000 frames while the page holds 5,000 of connection #1: the page falls behind, and the UI's history
/// (the last 20,000 frames) no longer holds frames #5001–#10000 of connection #1, nor #1–#3000 of connection #2, which
/// opened during the burst. The page keeps the 5,000 it had and the 20,000 the history holds, and the banner says
/// exactly which frames are missing (of both connections) and which capture file has them. (A resync used to throw
/// away what the page had, and show what the history held without a word about the rest; then the banner named only
/// the gaps of connections the page had frames of.) One thread, as above.
#[tokio::test]
async fn a_page_that_falls_behind_past_the_history_says_which_frames_are_missing_and_where_they_are() {
    let browser = browser().await;
    // A path a shell would split and unquote: the banner gives it as one shell word.
    let capture = std::path::PathBuf::from("/tmp/frametap test/Sam's capture-1.jsonl");
    let ui =
        fixtures::start_ui_with(Hub::new(HubOptions::default()), |options| options.capture = Some(capture.clone()))
            .await;
    publish(&ui.hub, fixtures::open(1, "/v1"));
    publish_texts(&ui.hub, 1, 1..=5_000);
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("window.frametap.table.length === 5000 && window.frametapInfo", WAIT).await.unwrap();
    publish_texts(&ui.hub, 1, 5_001..=10_000);
    publish(&ui.hub, fixtures::open(2, "/v2"));
    publish_texts(&ui.hub, 2, 1..=3_000);
    publish_texts(&ui.hub, 1, 10_001..=27_000);
    publish_texts(&ui.hub, 2, 3_001..=6_000);
    page.wait_for("window.frametap.table.length === 22000 && window.frametap.state.live", Duration::from_secs(30))
        .await
        .unwrap();
    let banner = text(&page, "#banner-text").await;
    assert!(
        banner.contains(
            "8000 of the records it missed (frames #5001–#10000 of connection #1, #1–#3000 of connection #2)"
        ) && banner.contains("keeps the last 20,000 frames and annotations")
            && banner.contains(r"open it with `frametap ui '/tmp/frametap test/Sam'\''s capture-1.jsonl'`."),
        "{banner}"
    );
    let seqs = "(f => f.slice(0, 5000).every((f, i) => f.seq === i + 1) && f.slice(5000).every((f, i) => f.seq === i + 10001))\
                (window.frametap.state.conns.get(1).frames)";
    assert_eq!(page.eval(seqs).await.unwrap(), json!(true), "frames 1 to 5000, then 10001 to 27000, each once");
    let seqs =
        "(f => f.length === 3000 && f.every((f, i) => f.seq === i + 3001))(window.frametap.state.conns.get(2).frames)";
    assert_eq!(page.eval(seqs).await.unwrap(), json!(true), "frames 3001 to 6000 of connection #2, each once");
    // A path is quoted only when a shell would change it.
    let words = "import('/assets/views.js').then(v => ['/tmp/a-b_c.1.jsonl', 'a b', '$HOME/x', '*.jsonl', 'x;y', ''].map(v.shellWord))";
    let quoted = json!(["/tmp/a-b_c.1.jsonl", "'a b'", "'$HOME/x'", "'*.jsonl'", "'x;y'", "''"]);
    assert_eq!(page.eval(words).await.unwrap(), quoted);
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// A page falls behind while connection #2 opens and sends 200 frames that all leave the UI's history (it keeps 100)
/// before the page is caught up: none of connection #2's frames is left to show where its gap is, yet the banner
/// names it with connection #1's gap. (It used to count those frames in the records lost without naming them.) One
/// thread, as above: the page's stream cannot read while the frames are published.
#[tokio::test]
async fn a_page_that_falls_behind_names_a_connection_whose_every_frame_left_the_history() {
    let browser = browser().await;
    let hub = Hub::with_live_buffer(HubOptions { history_limit: 100, redacted: false }, 16);
    let ui = start_ui(hub, None).await;
    publish(&ui.hub, fixtures::open(1, "/v1"));
    publish_texts(&ui.hub, 1, 1..=50);
    let page = browser.new_page().await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("window.frametap.table.length === 50 && window.frametap.state.live", WAIT).await.unwrap();
    publish(&ui.hub, fixtures::open(2, "/v2"));
    publish_texts(&ui.hub, 2, 1..=200);
    publish_texts(&ui.hub, 1, 51..=250);
    page.wait_for("window.frametap.table.length === 150 && window.frametap.state.live", WAIT).await.unwrap();
    let banner = text(&page, "#banner-text").await;
    assert!(
        banner.contains("300 of the records it missed (frames #51–#150 of connection #1, #1–#200 of connection #2)"),
        "{banner}"
    );
    assert_eq!(page.eval("document.querySelectorAll('#conn-list li').length").await.unwrap(), json!(2));
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}
