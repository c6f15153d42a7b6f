//! The web UI in a real headless Chromium, on what exploratory testing found: markers and downloads that
//! ran off screen, a banner that pushed the table down, durations of upgrades that never opened, keyboard
//! focus lost to the list's live refresh, the 5,000-row note, payloads re-serialised, and a stopped frametap.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod cdp;
mod common;

use std::time::Duration;

use cdp::fixtures::{self, publish, start_ui};
use cdp::{Browser, Page};
use frametap::event::{Opcode, Peer};
use frametap::ui::{Hub, HubOptions};

const WAIT: Duration = Duration::from_secs(10);

async fn open_page(browser: &Browser, url: &str) -> Page {
    let page = browser.new_page().await.unwrap();
    page.set_viewport(1400, 900).await.unwrap();
    page.goto(url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    page
}

async fn truth(page: &Page, expression: &str) -> bool {
    page.eval(expression).await.unwrap().as_bool().unwrap_or_else(|| panic!("not a boolean: {expression}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_downloads_and_the_table_stay_on_screen_and_focus_stays_put() {
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_story(&hub, 2);
    publish(&hub, fixtures::open(3, &format!("/v1?deploymentId=abc&access_token={}", "x".repeat(1500))));
    let as_sent = r#"{"n": 12345678901234567890123, "a": 1, "a": 2}"#;
    publish(&hub, fixtures::frame(3, 1, Peer::Client, Opcode::Text, as_sent.as_bytes(), 10));
    fixtures::publish_refused(&hub, 4);
    let ui = start_ui(hub, None).await;
    let page = open_page(&browser, &ui.url).await;

    // The diagnosis marker fits in the connection list.
    let marker = "document.querySelector('#conn-list li[data-conn=\"2\"] .diag-marker')";
    page.wait_for(marker, WAIT).await.unwrap();
    let fits = format!(
        "(() => {{ const m = {marker}.getBoundingClientRect(), l = document.getElementById('conn-list').getBoundingClientRect(); return m.width > 0 && m.right <= l.right; }})()"
    );
    assert!(truth(&page, &fits).await, "the ⚑ diagnosis marker is cut off by the list's edge");

    // A refused upgrade shows its handshake time and does not count up.
    assert!(truth(&page, "document.querySelector('#conn-list li[data-conn=\"4\"] [data-since]') === null").await);

    // A long path: the downloads stay reachable, the page does not scroll sideways; the payload is shown as sent.
    page.click("#conn-list li[data-conn=\"3\"]").await.unwrap();
    page.wait_for(
        "document.querySelector('#conn-header strong')?.textContent === '#3 ' && document.querySelectorAll('#frame-rows tr').length === 1",
        WAIT,
    )
    .await
    .unwrap();
    let reachable = "(() => { const b = [...document.querySelectorAll('#conn-header .button')].pop().getBoundingClientRect(); return b.right <= innerWidth && document.documentElement.scrollWidth <= innerWidth; })()";
    assert!(truth(&page, reachable).await, "the download buttons ran off screen");
    let preview = page.eval("document.querySelector('#frame-1 .c-preview').textContent").await.unwrap();
    assert_eq!(preview, as_sent, "the preview is the payload as sent, not re-serialised");

    // From the keyboard: arrow keys in the frame table select frames; toggles and tabs say their state.
    page.click("#conn-list li[data-conn=\"2\"]").await.unwrap();
    page.wait_for("document.querySelectorAll('#frame-rows tr').length === 6", WAIT).await.unwrap();
    let arrow_down = "document.getElementById('table-scroll').dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowDown', bubbles: true}))";
    page.eval(arrow_down).await.unwrap();
    page.wait_for("document.querySelector('#detail-body h3')?.textContent === 'Frame #1'", WAIT).await.unwrap();
    page.eval(arrow_down).await.unwrap();
    page.wait_for("document.querySelector('#detail-body h3')?.textContent === 'Frame #2'", WAIT).await.unwrap();
    assert!(
        truth(&page, "document.querySelector('#tabs [data-tab=\"frame\"]').getAttribute('aria-selected') === 'true'")
            .await
    );
    page.click("[data-op=\"close\"]").await.unwrap();
    assert!(
        truth(&page, "document.querySelector('[data-op=\"close\"]').getAttribute('aria-pressed') === 'false'").await
    );
    page.click("[data-op=\"close\"]").await.unwrap();
    assert!(
        truth(&page, "document.querySelector('[data-op=\"close\"]').getAttribute('aria-pressed') === 'true'").await
    );

    // Keyboard focus on a connection survives the list being rebuilt (a new connection arrives).
    page.eval("document.querySelector('#conn-list li[data-conn=\"2\"]').focus()").await.unwrap();
    publish(&ui.hub, fixtures::open(5, "/later"));
    page.wait_for("document.querySelector('#conn-list li[data-conn=\"5\"]')", WAIT).await.unwrap();
    assert!(truth(&page, "document.activeElement?.dataset?.conn === '2'").await, "focus left the list");

    // A banner does not push the table below the window.
    page.click("#clear").await.unwrap();
    page.wait_for("!document.getElementById('banner').hidden", WAIT).await.unwrap();
    assert!(truth(&page, "document.documentElement.scrollHeight <= innerHeight").await, "the page overflows");

    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_5000_live_frames_the_table_says_so_and_a_stopped_frametap_is_not_retried() {
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let page = open_page(&browser, &ui.url).await;
    publish(&ui.hub, fixtures::meta());
    publish(&ui.hub, fixtures::open(1, "/chat"));
    for seq in 1..=5001 {
        publish(&ui.hub, fixtures::frame(1, seq, Peer::Server, Opcode::Text, b"tick", seq as i64));
    }
    page.wait_for("document.getElementById('frame-5001')", WAIT).await.unwrap();
    page.wait_for(
        "document.getElementById('table-note').textContent === 'Showing the last 5000 of 5001 matching frames.'",
        WAIT,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));

    ui.stop().await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'stopped'", WAIT).await.unwrap();
    let banner = page.eval("document.getElementById('banner-text').textContent").await.unwrap();
    assert!(banner.as_str().unwrap().contains("open the new URL it prints"), "{banner}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
}
