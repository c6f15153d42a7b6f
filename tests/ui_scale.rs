//! The frame table past Chromium's tallest element, in a real headless Chromium. Chromium lays out no element taller
//! than about 33.5 M px, so spacers as tall as the rows they stand for stopped there: at the usual 23 px a row, the
//! frames past about 1.5 M could not be scrolled to. Rather than stream 1.5 M frames to the page (a minute of CI),
//! this test makes the rows 207 px tall, as a page style may (the same `line-height` the UI's stylesheet sets), and
//! holds 200,000 frames: 41 M px of rows, past the real limit of the real browser, with the UI's code as it ships.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod cdp;
mod common;

use std::time::Duration;

use cdp::fixtures::{self, publish, start_ui};
use cdp::read::{browser, text};
use cdp::Page;
use frametap::event::{Opcode, Peer};
use serde_json::json;

const FRAMES: u64 = 200_000;
/// Chromium's tallest element, 2^31 layout units of 1/64 px.
const CHROMIUM_MAX_HEIGHT: f64 = 33_554_432.0;
/// Streaming 200,000 frames to the page and drawing them is slow on a busy 2-core machine.
const LONG_WAIT: Duration = Duration::from_secs(90);

fn frame(seq: u64) -> frametap::event::Record {
    let from = if seq % 2 == 1 { Peer::Client } else { Peer::Server };
    // Every tenth frame of the first ones is binary, so that hiding binary frames leaves most of them.
    let opcode = if seq <= FRAMES && seq % 10 == 0 { Opcode::Binary } else { Opcode::Text };
    fixtures::frame(1, seq, from, opcode, format!("{{\"n\":{seq}}}").as_bytes(), 0)
}

async fn wait(page: &Page, expression: &str) {
    if let Err(e) = page.wait_for(expression, LONG_WAIT).await {
        let seen = page
            .eval(
                "(t => [window.seqAt(0.02), window.seqAt(0.5), window.seqAt(0.9), window.gaps(), t.length, t.rowHeight, \
                   t.drawn, t.scroller.scrollTop, t.scroller.scrollHeight])(window.frametap.table)",
            )
            .await;
        panic!(
            "{e:#}\nrows at the top, middle and bottom of the view, their gaps, frames held, row height, rows drawn, \
             scrollTop, scrollHeight: {seen:?}"
        );
    }
}

/// Sets the table's scrollTop and waits for the scroll event's redraw.
async fn scroll(page: &Page, to: &str) {
    page.eval(&format!(
        "(() => {{ const s = document.getElementById('table-scroll'); s.scrollTop = {to}; \
           return new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => resolve(true)))); }})()"
    ))
    .await
    .unwrap();
}

async fn key(page: &Page, key: &str) {
    page.eval(&format!(
        "document.getElementById('table-scroll').dispatchEvent(new KeyboardEvent('keydown', {{key: '{key}', bubbles: true}}))"
    ))
    .await
    .unwrap();
}

async fn seq_at(page: &Page, fraction: f64) -> i64 {
    page.eval(&format!("window.seqAt({fraction})")).await.unwrap().as_i64().unwrap_or(-1)
}

/// `seqAt(f)`: the frame whose row is at `f` of the way down the rows' part of the view (below the header);
/// `gaps()`: true when the rows drawn are in order, each right below the one before, else where they are not.
const PROBES: &str =
    "window.seqAt = (f) => { const s = document.getElementById('table-scroll').getBoundingClientRect(); \
  const head = s.top + document.querySelector('#frame-table thead').offsetHeight; \
  const row = document.elementFromPoint(s.left + 60, head + (s.bottom - head) * f)?.closest('#frame-rows tr'); \
  return row ? Number(row.dataset.seq) : null; }; \
  window.gaps = () => { const rows = [...document.getElementById('frame-rows').rows]; \
  for (let i = 1; i < rows.length; i++) { const a = rows[i - 1], b = rows[i]; \
    const gap = b.getBoundingClientRect().top - a.getBoundingClientRect().bottom; \
    if (Math.abs(gap) > 0.5) return `#${a.dataset.seq} and #${b.dataset.seq} are ${gap} px apart`; } return true; }";

/// 200,000 frames of 207 px: every one is reachable by scrolling (the top, the middle, the last), with the keyboard
/// (Home, End, the arrows), from the address (`#conn=1&frame=N`); the rows drawn sit each right below the one before;
/// a filter keeps the table past the limit working; and the table follows new frames to the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_frame_is_reachable_past_chromiums_tallest_element() {
    let browser = browser().await;
    let ui = start_ui(fixtures::hub_with_frames(FRAMES, frame), None).await;
    let page = browser.new_page().await.unwrap();
    page.set_viewport(1400, 1200).await.unwrap();
    page.goto(&ui.url).await.unwrap();
    page.bring_to_front().await.unwrap();
    page.eval(PROBES).await.unwrap();
    wait(&page, &format!("window.frametap.idle() && window.frametap.table.length === {FRAMES}")).await;
    // Taller rows; scrolled to the top, the table measures them, and shows frame #1. Then "jump to latest".
    // (Through the CSS object model: the UI's content security policy refuses inline style elements.)
    page.eval("document.styleSheets[0].insertRule('#frame-rows td { line-height: 200px; }', document.styleSheets[0].cssRules.length)")
        .await
        .unwrap();
    scroll(&page, "0").await;
    wait(&page, "window.frametap.table.rowHeight > 200 && window.seqAt(0.02) === 1").await;
    page.click("#jump-latest").await.unwrap();
    wait(&page, &format!("window.seqAt(0.9) === {FRAMES}")).await;
    let heights = page
        .eval("[window.frametap.table.rowHeight * window.frametap.table.length, document.getElementById('table-scroll').scrollHeight]")
        .await
        .unwrap();
    let (rows, scrolled) = (heights[0].as_f64().unwrap(), heights[1].as_f64().unwrap());
    assert!(rows > CHROMIUM_MAX_HEIGHT * 1.2, "the rows are {rows} px tall: not past Chromium's limit");
    assert!(scrolled < CHROMIUM_MAX_HEIGHT, "the table is {scrolled} px tall: past Chromium's limit");
    assert_eq!(page.eval("window.gaps()").await.unwrap(), json!(true));

    // Half way down: the frame half way down the connection.
    scroll(&page, "(s => (s.scrollHeight - s.clientHeight) / 2)(document.getElementById('table-scroll'))").await;
    let middle = seq_at(&page, 0.5).await;
    assert!((middle - FRAMES as i64 / 2).abs() <= 3, "half way down the table shows frame #{middle}");
    assert_eq!(page.eval("window.gaps()").await.unwrap(), json!(true));
    // Scrolled by 300 px from there, as a wheel does: rows move on, in order.
    scroll(&page, "document.getElementById('table-scroll').scrollTop + 300").await;
    let further = seq_at(&page, 0.5).await;
    assert!(further > middle && further < middle + 5, "300 px further down shows frame #{further}, from #{middle}");
    assert_eq!(page.eval("window.gaps()").await.unwrap(), json!(true));
    // A real mouse wheel: a step of three rows' height moves the rows three rows, down then up, as on a small
    // table. (Scaled, the browser's own step moved them about 2.6 times as far here, and 3 times at 2 M frames.)
    let (x, y) = page.point_on_screen("#frame-rows").await.unwrap();
    let step = 3.0 * page.eval("window.frametap.table.rowHeight").await.unwrap().as_f64().unwrap();
    for (delta, rows) in [(step, 3), (-step, 0)] {
        page.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": delta}),
        )
        .await
        .unwrap();
        wait(&page, &format!("window.seqAt(0.5) === {} && window.gaps() === true", further + rows)).await;
    }

    // The keyboard: End selects the last frame and shows it whole, the arrow keys move from there; Home goes back.
    let whole = |seq: u64| {
        format!(
            "(r => r && (s => r.top >= s.top + document.querySelector('#frame-table thead').offsetHeight - 0.5 \
               && r.bottom <= s.bottom + 0.5)(document.getElementById('table-scroll').getBoundingClientRect()))\
             (document.getElementById('frame-{seq}')?.getBoundingClientRect())"
        )
    };
    let shown = |seq: u64| {
        format!(
            "document.querySelector('#detail-body h3')?.textContent === 'Frame #{seq}' && \
             document.getElementById('frame-{seq}')?.classList.contains('selected') && {}",
            whole(seq)
        )
    };
    key(&page, "End").await;
    wait(&page, &shown(FRAMES)).await;
    key(&page, "ArrowUp").await;
    wait(&page, &shown(FRAMES - 1)).await;
    key(&page, "Home").await;
    wait(&page, &shown(1)).await;

    // From the address: a frame far down, selected and in the middle of the view.
    let far = 123_457;
    page.eval(&format!("location.hash = '#conn=1&frame={far}'")).await.unwrap();
    wait(&page, &format!("{} && window.seqAt(0.5) === {far}", shown(far))).await;
    assert_eq!(page.eval("window.gaps()").await.unwrap(), json!(true));

    // Binary frames hidden: 180,000 frames, still past the limit; the selection stays; End and Home still reach.
    page.click("[data-op=\"binary\"]").await.unwrap();
    wait(&page, &format!("window.frametap.table.length === {}", FRAMES / 10 * 9)).await;
    assert_eq!(text(&page, "#detail-body h3").await, format!("Frame #{far}"));
    key(&page, "End").await;
    wait(&page, &shown(FRAMES - 1)).await;
    key(&page, "Home").await;
    wait(&page, &shown(1)).await;

    // Following the tail: new frames arrive and the table shows the last.
    page.click("#jump-latest").await.unwrap();
    for seq in FRAMES + 1..=FRAMES + 10 {
        publish(&ui.hub, frame(seq));
    }
    wait(&page, &format!("window.seqAt(0.9) === {}", FRAMES + 10)).await;
    assert_eq!(page.eval("window.gaps()").await.unwrap(), json!(true));
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}
