//! The frame table's rows where they belong, in a real headless Chromium: after a zoom or a style change that makes
//! them another height (with no scroll to redraw them), and at the bottom of the pane while following new frames.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

mod cdp;
mod common;

use std::time::Duration;

use cdp::fixtures::{self, publish, start_ui};
use cdp::read::browser;
use cdp::Page;
use frametap::event::{Opcode, Peer};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);
/// What the page is given to put its rows back after a zoom: no scroll comes, so only the page's own reaction can.
const SETTLE: Duration = Duration::from_secs(5);

fn frame(seq: u64) -> frametap::event::Record {
    let from = if seq % 2 == 1 { Peer::Client } else { Peer::Server };
    fixtures::frame(1, seq, from, Opcode::Text, format!("{{\"n\":{seq}}}").as_bytes(), 0)
}

async fn page_with_frames(browser: &cdp::Browser, url: &str, frames: u64) -> Page {
    let page = browser.new_page().await.unwrap();
    page.set_viewport(1400, 900).await.unwrap();
    page.goto(url).await.unwrap();
    page.bring_to_front().await.unwrap();
    page.eval(PROBES).await.unwrap();
    page.wait_for(&format!("window.frametap.idle() && window.frametap.table.length === {frames}"), WAIT).await.unwrap();
    page
}

/// `misplaced()`: null when every drawn row sits at its place in the scrolled content (below the header, at its index
/// times the rows' height as they are laid out now, within half a row, so that the row at a frame's place is that
/// frame: Chromium lays rows out in 1/64 px units, so their height is an average the table measures to 0.01 px, a few
/// pixels over thousands of rows); else the first that does not. `selectedTop()`: where the selected row is, from the top of the view.
const PROBES: &str = "window.misplaced = () => { \
    const s = document.getElementById('table-scroll'), box = s.getBoundingClientRect(); \
    const head = document.querySelector('#frame-table thead').offsetHeight; \
    const rows = [...document.getElementById('frame-rows').rows]; \
    if (rows.length < 2) return 'too few rows drawn'; \
    const h = (rows[rows.length - 1].getBoundingClientRect().bottom - rows[0].getBoundingClientRect().top) / rows.length; \
    for (const r of rows) { \
      const at = r.getBoundingClientRect().top - box.top + s.scrollTop, want = head + (Number(r.dataset.seq) - 1) * h; \
      if (Math.abs(at - want) > h / 2) return `#${r.dataset.seq} is at ${at} px, not ${want} (rows of ${h} px)`; } \
    return null; }; \
  window.selectedTop = () => { const r = document.querySelector('#frame-rows tr.selected'); \
    return r ? r.getBoundingClientRect().top - document.getElementById('table-scroll').getBoundingClientRect().top : null; };";

async fn settled(page: &Page, what: &str) {
    if let Err(e) = page.wait_for("window.misplaced() === null", SETTLE).await {
        let seen = page
            .eval("[window.misplaced(), window.frametap.table.rowHeight, document.getElementById('table-scroll').scrollTop]")
            .await;
        panic!("{what}: the rows are not where they belong ({e:#}): misplaced, row height, scrollTop: {seen:?}");
    }
}

async fn zoom(page: &Page, factor: f64) {
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1400, "height": 900, "deviceScaleFactor": factor, "mobile": false}),
    )
    .await
    .unwrap();
}

/// A zoom (the device pixel ratio from 1 to 2) and rows made taller by a style change each leave every row at its place,
/// without a scroll, and the selected frame in view where it was. Before, the table measured rows only when it drew
/// other rows: after the style change, until the next scroll, the rows were placed for the old height (frame #2,500
/// was drawn where #1,900 belongs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_are_placed_again_after_a_zoom_or_a_style_change_without_a_scroll() {
    const FRAMES: u64 = 3_000;
    let browser = browser().await;
    let ui = start_ui(fixtures::hub_with_frames(FRAMES, frame), None).await;
    let page = page_with_frames(&browser, &ui.url, FRAMES).await;
    let far = 2_500;
    page.eval(&format!("location.hash = '#conn=1&frame={far}'")).await.unwrap();
    page.wait_for(
        &format!(
            "document.querySelector('#frame-rows tr.selected')?.dataset.seq === '{far}' && window.frametap.idle()"
        ),
        WAIT,
    )
    .await
    .unwrap();
    settled(&page, "before any change").await;
    let before = page.eval("[window.frametap.table.rowHeight, window.selectedTop()]").await.unwrap();
    let (height, top) = (before[0].as_f64().unwrap(), before[1].as_f64().unwrap());

    // A zoom to 200 %: the page hears of it (a `resolution` media query), measures again and redraws. (Headless
    // Chromium lays the rows out in CSS pixels of the same height at every device pixel ratio, 0.5 to 3 tried, so the
    // rows stay put here; a desktop browser's zoom may snap their borders to another height.)
    zoom(&page, 2.0).await;
    page.wait_for("devicePixelRatio === 2", WAIT).await.unwrap();
    settled(&page, "zoomed to 200 %").await;
    let zoomed = page.eval("[window.frametap.table.rowHeight, window.selectedTop()]").await.unwrap();
    assert_selected_near(&zoomed, top, height);

    // Taller rows, as a larger font or a user style makes them (the stylesheet gives the rows a line height in pixels,
    // so the root font size alone does not change them). Through the CSS object model: the UI's content security
    // policy refuses inline style elements.
    page.eval("document.styleSheets[0].insertRule('#frame-rows td { line-height: 30px; }', document.styleSheets[0].cssRules.length)")
        .await
        .unwrap();
    settled(&page, "rows made taller").await;
    let taller = page.eval("[window.frametap.table.rowHeight, window.selectedTop()]").await.unwrap();
    assert!(taller[0].as_f64().unwrap() > 30.0, "the rows are {taller} px tall");
    assert_selected_near(&taller, top, height);
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}

/// The selected row is in view, where it was before (within a row).
fn assert_selected_near(now: &Value, top: f64, height: f64) {
    let at = now[1].as_f64().unwrap_or_else(|| panic!("the selected row is not drawn: {now}"));
    assert!((at - top).abs() < height, "the selected row moved from {top} px to {at} px in the view");
}

/// Following new frames, the last row sits at the bottom of the table's pane. Before, an empty note under the table
/// (its padding and margins) left about 52 px blank below the last row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_new_frames_puts_the_last_row_at_the_bottom_of_the_pane() {
    let browser = browser().await;
    let ui = start_ui(fixtures::hub_with_frames(200, frame), None).await;
    let page = page_with_frames(&browser, &ui.url, 200).await;
    for seq in 201..=210 {
        publish(&ui.hub, frame(seq));
    }
    page.wait_for("window.frametap.table.length === 210 && window.frametap.idle()", WAIT).await.unwrap();
    let gap = "(s => { const last = document.getElementById('frame-rows').lastElementChild, box = s.getBoundingClientRect(); \
                 return [Number(last.dataset.seq), box.top + s.clientTop + s.clientHeight - last.getBoundingClientRect().bottom, \
                         window.frametap.table.rowHeight, window.frametap.state.autoScroll]; })(document.getElementById('table-scroll'))";
    // The last redraw may be a frame behind `idle()`: wait for the last row to be drawn.
    page.wait_for(&format!("{gap}[0] === 210"), WAIT).await.unwrap();
    let seen = page.eval(gap).await.unwrap();
    let (below, row) = (seen[1].as_f64().unwrap(), seen[2].as_f64().unwrap());
    assert_eq!(seen[3], json!(true), "the table is not following: {seen}");
    assert!(
        (-0.5..row).contains(&below),
        "{below} px between the last row and the bottom of the pane (rows of {row} px)"
    );
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}
