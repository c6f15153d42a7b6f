//! The web UI in a real headless Chromium while records stream in: a click is a mouse-down and a mouse-up on the
//! same element, so a redraw that replaced the element between the two lost the click; and a burst of frames through
//! `frametap proxy` that the table must hold whole, every frame reachable, with only the rows in view in the page.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod cdp;
mod common;

use std::time::Duration;

use cdp::fixtures::{self, publish, start_ui};
use cdp::{Browser, Page};
use frametap::event::{Diagnosis, Note, Peer, Record, Token};
use frametap::ui::{Hub, HubOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

async fn browser() -> Browser {
    Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"))
}

async fn open_page(browser: &Browser, url: &str) -> Page {
    let page = browser.new_page().await.unwrap();
    page.set_viewport(1400, 900).await.unwrap();
    page.goto(url).await.unwrap();
    page.bring_to_front().await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'live'", WAIT).await.unwrap();
    page
}

async fn wait(page: &Page, expression: &str) {
    if let Err(e) = page.wait_for(expression, WAIT).await {
        let body = page.eval("document.body.innerText").await.unwrap_or_default();
        panic!("{e:#}\npage text:\n{}", body.as_str().unwrap_or(""));
    }
}

/// Waits until the page has drawn everything it was told to.
async fn settled(page: &Page) {
    wait(page, "window.frametapInfo && window.frametap.idle()").await;
}

fn note(conn: u64, message: &str) -> Record {
    Record::Note(Note::info("heartbeat", Some(conn), fixtures::at(0), message))
}

/// A mouse-down on a connection, then records that redraw the list (a note and a close on another connection, a new
/// connection, frames for both), then the mouse-up: the connection is selected, and its entry in the list is
/// the same element it was (updated in place, not rebuilt).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_a_connection_survives_records_arriving_between_press_and_release() {
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    publish(&hub, fixtures::open(1, "/v1?first"));
    for seq in 1..=3 {
        publish(&hub, fixtures::text(1, seq, Peer::Server, json!({"n": seq}), seq as i64));
    }
    publish(&hub, fixtures::open(2, "/v1?second"));
    publish(&hub, fixtures::text(2, 1, Peer::Client, json!({"hello": 2}), 5));
    let ui = start_ui(hub, None).await;
    let page = open_page(&browser, &ui.url).await;
    let item = "#conn-list li[data-conn=\"2\"]";
    wait(&page, "document.querySelector('#conn-header strong')?.textContent === '#1 '").await;
    settled(&page).await;
    page.eval(&format!("window.pressed = document.querySelector('{item}')")).await.unwrap();

    let (x, y) = page.point_on_screen(&format!("{item} .conn-path")).await.unwrap();
    page.mouse("mousePressed", x, y).await.unwrap();
    // A live session's heartbeat: a note and a close for another connection, a new connection, frames for both.
    publish(&ui.hub, note(1, "still there"));
    publish(&ui.hub, fixtures::open(3, "/v1?third"));
    for seq in 2..=4 {
        publish(&ui.hub, fixtures::text(1, seq + 2, Peer::Server, json!({"n": seq + 2}), seq as i64));
        publish(&ui.hub, fixtures::text(2, seq, Peer::Server, json!({"n": seq}), seq as i64));
    }
    publish(&ui.hub, fixtures::close(1, Peer::Client, Some(1000), None, 50.0));
    wait(&page, "document.querySelector('#conn-list li[data-conn=\"3\"]')").await;
    wait(
        &page,
        "document.querySelector('#conn-list li[data-conn=\"1\"] .close-info')?.textContent === '1000 by client'",
    )
    .await;
    settled(&page).await;
    page.mouse("mouseReleased", x, y).await.unwrap();

    wait(&page, "document.querySelector('#conn-header strong')?.textContent === '#2 '").await;
    assert_eq!(
        page.eval(&format!("document.querySelector('{item}') === window.pressed")).await.unwrap(),
        json!(true),
        "the connection's entry was replaced by a redraw"
    );
    assert_eq!(
        page.eval(&format!("document.querySelector('{item}').classList.contains('selected')")).await.unwrap(),
        json!(true)
    );
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// A mouse-down on a frame selects it; then frames arrive (appended) and the connection's diagnosis (which flags
/// frames, so the whole table is redrawn), then the mouse-up: the frame is still selected, and its row is the same
/// element it was, flagged. Records the detail and the connection header do not show leave them as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_a_frame_survives_the_table_redrawing_between_press_and_release() {
    let browser = browser().await;
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    publish(&hub, fixtures::open(1, "/v1"));
    for seq in 1..=4 {
        publish(&hub, fixtures::text(1, seq, Peer::Client, json!({"n": seq}), seq as i64));
    }
    let ui = start_ui(hub, None).await;
    let page = open_page(&browser, &ui.url).await;
    wait(&page, "document.getElementById('frame-4')").await;
    settled(&page).await;
    page.eval("window.pressed = document.getElementById('frame-2')").await.unwrap();

    let (x, y) = page.point_on_screen("#frame-2 .c-preview").await.unwrap();
    page.mouse("mousePressed", x, y).await.unwrap();
    // Selected as the button goes down (as in Chrome's network panel): the row pressed, whatever moves before the release.
    wait(&page, "document.querySelector('#detail-body h3')?.textContent === 'Frame #2'").await;
    for seq in 5..=8 {
        publish(&ui.hub, fixtures::text(1, seq, Peer::Server, json!({"n": seq}), seq as i64));
    }
    publish(&ui.hub, fixtures::close_frame(1, 9, Peer::Server, 1000, "", 20));
    publish(&ui.hub, fixtures::close(1, Peer::Server, Some(1000), None, 20.0));
    publish(
        &ui.hub,
        Record::Diagnosis(Diagnosis {
            conn: 1,
            ts: fixtures::at(20),
            details: fixtures::details(json!({
                "initiator": "server", "code": 1000, "clean": true, "duration_ms": 20.0, "close_seq": 9,
                "preceding": {"seq": 8, "from": "server", "opcode": "text", "len": 7, "preview": "{\"n\":8}", "gap_ms": 1.0},
                "summary": "server closed", "causes": [], "ruled_out": [],
                "findings": [{"rule": "test-finding", "severity": "warn", "seq": 2, "message": "frame 2 looks odd"}]
            })),
        }),
    );
    wait(
        &page,
        "document.getElementById('frame-9') && document.getElementById('frame-8').classList.contains('preceding')",
    )
    .await;
    settled(&page).await;
    page.mouse("mouseReleased", x, y).await.unwrap();

    wait(&page, "document.querySelector('#detail-body h3')?.textContent === 'Frame #2'").await;
    assert_eq!(
        page.eval("document.getElementById('frame-2') === window.pressed").await.unwrap(),
        json!(true),
        "the frame's row was replaced by a redraw"
    );
    // The row kept in place took the diagnosis's flag all the same.
    assert_eq!(
        page.eval("[document.getElementById('frame-2').classList.contains('finding'), document.querySelector('#frame-2 .c-flag').textContent]")
            .await
            .unwrap(),
        json!([true, "⚠"])
    );

    // The frame's detail and the download links are not rebuilt by records they do not show (a press on a link in them
    // would be lost too, and a text selection in the payload): a token, another frame. The Tokens tab counts it.
    page.eval("window.head = document.querySelector('#detail-body h3'); window.link = document.querySelector('#conn-header a')")
        .await
        .unwrap();
    publish(
        &ui.hub,
        Record::from(Token {
            conn: 1,
            ts: fixtures::at(21),
            seq: Some(1),
            source: "frame:token".into(),
            details: fixtures::details(json!({"token_kind": "opaque"})),
        }),
    );
    publish(&ui.hub, fixtures::text(1, 10, Peer::Client, json!({"late": true}), 21));
    wait(&page, "document.querySelector('#tabs [data-tab=\"tokens\"]').textContent === 'Tokens (1)' && document.getElementById('frame-10')").await;
    settled(&page).await;
    assert_eq!(
        page.eval("[document.querySelector('#detail-body h3') === window.head, document.querySelector('#conn-header a') === window.link]")
            .await
            .unwrap(),
        json!([true, true]),
        "[the detail's heading, the first download link] survived"
    );
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// Rows the page may hold at once: the rows in view and a margin above and below (a 900 px window shows about 40).
const MAX_ROWS_DRAWN: u64 = 300;

/// 7,500 frames through `frametap proxy` to an echo upstream, as fast as it relays them, while the UI is open: 15,000
/// frames on one connection. The table follows them to the last, never holds more than a few hundred rows in the page
/// (a table of every row froze the page for seconds, and cut it to the last 5,000), and every frame stays reachable:
/// scrolled to the top it shows frame #1, in the middle the frames that belong there, and Home and End select the
/// first and the last frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_15000_frames_keeps_a_few_hundred_rows_in_the_page_and_every_frame_reachable() {
    let echo = common::start_echo_server().await;
    let frametap = fixtures::start_proxy_with_ui(&format!("ws://{echo}")).await;
    let browser = browser().await;
    let page = open_page(&browser, &frametap.ui).await;
    // The most rows the page held at any animation frame, from before the burst to the end.
    page.eval(
        "window.mostRows = 0; (function sample() { window.mostRows = Math.max(window.mostRows, \
           document.getElementById('frame-rows').rows.length); requestAnimationFrame(sample); })()",
    )
    .await
    .unwrap();

    let started = std::time::Instant::now();
    fixtures::burst(&frametap.proxy, 7_500).await;
    let relayed = started.elapsed();
    // A long wait: on a busy 2-core machine the page can take many seconds to catch up (it is not stuck meanwhile:
    // the failure says how far it got, following or not).
    if let Err(e) = page.wait_for("document.getElementById('frame-15000')", Duration::from_secs(60)).await {
        let shown = "(() => { const t = window.frametap.table, s = window.frametap.state; return { held: t.length, \
                     frames: s.conns.get(s.selected)?.frames.length, following: s.autoScroll, status: \
                     document.getElementById('status').textContent, note: document.getElementById('table-note').textContent, \
                     banner: document.getElementById('banner-text').textContent }; })()";
        panic!("{e:#}: the table never showed the last frame; the page: {:?}", page.eval(shown).await);
    }
    settled(&page).await;
    eprintln!("relayed in {relayed:?}, the last frame shown {:?} after", started.elapsed() - relayed);
    let most = page.eval("window.mostRows").await.unwrap().as_u64().unwrap();
    assert!(most <= MAX_ROWS_DRAWN, "the page held {most} rows at once");
    assert_eq!(page.eval("document.getElementById('table-note').textContent").await.unwrap(), json!(""));
    let at_bottom = "(() => { const s = document.getElementById('table-scroll'); \
                     return s.scrollHeight - s.scrollTop - s.clientHeight < 24; })()";
    assert_eq!(page.eval(at_bottom).await.unwrap(), json!(true), "the table did not follow the burst");

    // Scrolled to the top, as a user drags the scrollbar there: frame #1.
    page.eval("document.getElementById('table-scroll').scrollTop = 0").await.unwrap();
    wait(&page, "document.getElementById('frame-1') && !document.getElementById('jump-latest').hidden").await;
    settled(&page).await;
    // The row under the middle of the table is the frame that belongs there: the space above it stands for as many
    // rows, each of the height the table measured from its drawn rows. That height is checked against the rows drawn
    // now, but the row expected comes from the table's own: the table keeps a height within 0.01 px of a new
    // measurement (so it does not redraw for rounding), and at row 7,500 that alone moves the middle by up to 3 rows.
    let middle = "(() => { const s = document.getElementById('table-scroll'); s.scrollTop = s.scrollHeight / 2; \
                  return new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => { \
                    const r = s.getBoundingClientRect(), row = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2).closest('tr'); \
                    const head = document.querySelector('#frame-table thead').getBoundingClientRect().height; \
                    const rows = document.getElementById('frame-rows').rows; \
                    const drawn = (rows[rows.length - 1].getBoundingClientRect().bottom - rows[0].getBoundingClientRect().top) / rows.length; \
                    const height = window.frametap.table.rowHeight; \
                    const expected = Math.floor((s.scrollTop + s.clientHeight / 2 - head) / height) + 1; \
                    resolve([Number(row.dataset.seq), expected, height, drawn]); }))); })()";
    let found = page.eval(middle).await.unwrap();
    let (seq, expected) = (found[0].as_i64().unwrap(), found[1].as_i64().unwrap());
    let (height, drawn) = (found[2].as_f64().unwrap(), found[3].as_f64().unwrap());
    assert!((height - drawn).abs() < 0.05, "the table places rows {height} px apart, but they are {drawn} px tall");
    assert!(
        (seq - expected).abs() <= 1 && (7000..=8000).contains(&seq),
        "mid-table shows frame #{seq}, not #{expected} (rows {height} px apart)"
    );
    let rows = page.eval("document.getElementById('frame-rows').rows.length").await.unwrap().as_u64().unwrap();
    assert!(rows <= MAX_ROWS_DRAWN, "the page holds {rows} rows");

    // From the keyboard: Home selects the first frame, End the last, Page Up moves a page back.
    let key = |k: &str| {
        format!(
            "document.getElementById('table-scroll').dispatchEvent(new KeyboardEvent('keydown', {{key: '{k}', bubbles: true}}))"
        )
    };
    page.eval(&key("Home")).await.unwrap();
    wait(&page, "document.querySelector('#detail-body h3')?.textContent === 'Frame #1' && document.getElementById('frame-1')?.classList.contains('selected')").await;
    page.eval(&key("End")).await.unwrap();
    // The last frame: the echo of the client's close, after the 15,000.
    let last = "window.frametap.table.frameAt(window.frametap.table.length - 1).seq";
    wait(&page, &format!("{last} > 15000 && document.querySelector('#detail-body h3')?.textContent === 'Frame #' + {last} && document.getElementById('frame-' + {last})?.classList.contains('selected')")).await;
    page.eval(&key("PageUp")).await.unwrap();
    wait(
        &page,
        "(n => n > 14900 && n < 15002)(Number(document.querySelector('#detail-body h3')?.textContent.slice(7)))",
    )
    .await;
    page.eval(&key("ArrowDown")).await.unwrap();
    let after = page.eval("Number(document.querySelector('#detail-body h3').textContent.slice(7))").await.unwrap();
    assert!(after.as_i64().unwrap() > 14900, "{after}");
    let selected =
        page.eval("[...document.querySelectorAll('#frame-rows tr.selected')].map(r => r.dataset.seq)").await.unwrap();
    assert_eq!(selected, json!([after.to_string()]), "one row is marked selected, the frame shown");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
}
