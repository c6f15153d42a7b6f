//! The web UI in a real headless Chromium: live records, the close card, filters, search, tokens, lag.
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
        "no \"action\"",
        "evidence",
        "ruled out",
    ] {
        assert!(card.contains(expected), "close card lacks {expected:?}: {card}");
    }
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
    assert!(detail.contains("Hello from custom UI") && detail.contains("no \"action\""), "{detail}");
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
    page.wait_for("document.querySelectorAll('#frame-rows tr').length === 100", WAIT).await.unwrap();
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
    page.wait_for("document.querySelectorAll('#frame-rows tr').length === 120", WAIT).await.unwrap();
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
    for seq in 1..=200 {
        publish(&ui.hub, fixtures::text(1, seq, Peer::Server, json!({"n": seq}), seq as i64));
    }
    page.wait_for("document.getElementById('banner-text').textContent.includes('resynced from history')", WAIT)
        .await
        .unwrap();
    page.wait_for("document.querySelectorAll('#frame-rows tr').length === 200", WAIT).await.unwrap();
    assert_eq!(count(&page, "#conn-list li").await, 1);
    ui.stop().await.unwrap();
}

/// End to end: the try-it page talks through a real frametap proxy; the UI in another tab shows the
/// session live, then its close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_through_the_proxy_from_the_try_it_page_appears_live() {
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    let upstream = cdp::proxy::start_upstream().await;
    let proxy = cdp::proxy::start_proxy(upstream, hub.clone(), None).await;
    let ui = start_ui(hub, Some(format!("ws://{}", proxy.addr))).await;

    let watch = browser.new_page().await.unwrap();
    watch.goto(&ui.url).await.unwrap();
    watch.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();

    // The cookie set by the first load lets the try-it page in without the token.
    let chat = browser.new_page().await.unwrap();
    chat.goto(&format!("http://{}/try", ui.addr)).await.unwrap();
    chat.wait_for("document.body.dataset.ready === 'yes'", WAIT).await.unwrap();
    let endpoint = chat.eval("document.getElementById('endpoint').value").await.unwrap();
    assert_eq!(endpoint, json!(format!("ws://{}/v1", proxy.addr)));
    chat.click("#connect").await.unwrap();
    chat.wait_for("document.getElementById('conn-state').textContent === 'connected'", WAIT).await.unwrap();
    chat.click("#configure").await.unwrap();
    chat.wait_for("document.getElementById('log').textContent.includes('SessionResponse')", WAIT).await.unwrap();
    chat.click("#echo").await.unwrap();
    chat.wait_for("document.getElementById('log').textContent.includes('\"text\":\"ping\"')", WAIT).await.unwrap();

    // The watching tab already shows the open connection and its frames.
    watch.bring_to_front().await.unwrap();
    watch
        .wait_for("document.querySelector('#conn-list li[data-conn=\"1\"] .state')?.textContent === 'open'", WAIT)
        .await
        .unwrap();
    wait_rows(&watch, &[1, 2, 3, 4]).await;
    assert!(text(&watch, "#frame-1 .c-preview").await.contains("configureSession"));
    assert_eq!(text(&watch, "#frame-2 .c-dir").await, "server → client");

    // The broken first message: the upstream closes 1000 with no reason.
    chat.bring_to_front().await.unwrap();
    chat.click("#broken").await.unwrap();
    chat.wait_for("document.getElementById('conn-state').textContent.startsWith('closed 1000')", WAIT).await.unwrap();
    assert!(text(&chat, "#log").await.contains("Hello from custom UI"));

    watch.bring_to_front().await.unwrap();
    watch
        .wait_for(
            "document.querySelector('#conn-list li[data-conn=\"1\"] .close-info')?.textContent === '1000 by server'",
            WAIT,
        )
        .await
        .unwrap();
    wait_rows(&watch, &[1, 2, 3, 4, 5, 6, 7]).await;
    assert!(text(&watch, "#frame-5 .c-preview").await.contains("Hello from custom UI"));
    watch.click("#tabs [data-tab=\"close\"]").await.unwrap();
    watch.wait_for("document.getElementById('close-card')", WAIT).await.unwrap();
    let card = text(&watch, "#close-card").await;
    assert!(card.contains("Close 1000") && card.contains("server") && card.contains("none given"), "{card}");

    assert_eq!(browser.page_errors(), Vec::<String>::new());
    proxy.stop().await.unwrap();
    ui.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshot_with_real_looking_data() {
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_healthy(&hub, 1);
    fixtures::publish_refused(&hub, 2);
    fixtures::publish_story(&hub, 3);
    let ui = start_ui(hub, Some("ws://127.0.0.1:9000".into())).await;
    let page = browser.new_page().await.unwrap();
    page.set_viewport(1600, 1000).await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.wait_for("document.querySelector('#conn-list li[data-conn=\"3\"]')", WAIT).await.unwrap();
    page.click("#conn-list li[data-conn=\"3\"]").await.unwrap();
    page.wait_for("document.getElementById('close-card')", WAIT).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = if std::env::var_os("FRAMETAP_UPDATE_SCREENSHOT").is_some() {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ui-screenshot.png")
    } else {
        dir.path().join("ui.png")
    };
    page.screenshot(&path).await.unwrap();
    let png = std::fs::read(&path).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "not a real screenshot: {} bytes", png.len());
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}
