//! The web UI in a real headless Chromium, on what exploratory testing found: markers and downloads that
//! ran off screen, a banner that pushed the table down, durations of upgrades that never opened, keyboard
//! focus lost to the list's live refresh, a table past 5,000 frames, payloads re-serialised, and a stopped frametap;
//! a saved file's connection without a close; windows narrower than the three columns (1,000, 800, 600 and 480 px);
//! the frame table's column heads in one font.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`) or `FRAMETAP_CHROMIUM=/path/to/chrome`.

// Unix only: it stops frametap with SIGTERM (or SIGKILL), which Windows cannot send to a child process.
#![cfg(unix)]

mod cdp;
mod common;
#[path = "ui_support/mod.rs"]
mod support;

use std::time::Duration;

use cdp::fixtures::{self, publish, start_ui};
use cdp::{Browser, Page};
use frametap::event::{Opcode, Peer};
use frametap::ui::{Hub, HubOptions};
use support::{frametap_ui, open_page, truth, WAIT};

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

    // A refused upgrade shows how long it took to fail (not its handshake round trip), and does not count up.
    assert!(truth(&page, "document.querySelector('#conn-list li[data-conn=\"4\"] [data-since]') === null").await);
    let refused = page.eval("document.querySelector('#conn-list li[data-conn=\"4\"]').textContent").await.unwrap();
    let refused = refused.as_str().unwrap_or_default();
    assert!(refused.contains("2.5 s") && !refused.contains("42 ms"), "{refused}");

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
    // The column heads are one font; the cells of #, time, size and preview are monospace.
    let heads = "new Set([...document.querySelectorAll('.frame-table th')].map(th => getComputedStyle(th).fontFamily + ' ' + getComputedStyle(th).fontSize)).size === 1";
    assert!(truth(&page, heads).await, "the frame table's column heads are in mixed fonts");
    let cell = "getComputedStyle(document.querySelector('#frame-1 .c-preview')).fontFamily.includes('monospace')";
    assert!(truth(&page, cell).await, "payload previews are monospace");

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

/// Past 5,000 frames the table used to show only the last 5,000 ("Showing the last 5000 of 5001"): it holds them all
/// now, drawing only those in view, and the first is a scroll away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_5000_live_frames_the_first_is_still_reachable_and_a_stopped_frametap_is_not_retried() {
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let ui = start_ui(Hub::new(HubOptions::default()), None).await;
    let page = open_page(&browser, &ui.url).await;
    publish(&ui.hub, fixtures::meta());
    publish(&ui.hub, fixtures::open(1, "/chat"));
    for seq in 1..=5001 {
        publish(&ui.hub, fixtures::frame(1, seq, Peer::Server, Opcode::Text, b"tick", seq as i64));
    }
    page.wait_for("document.getElementById('frame-5001')", WAIT).await.unwrap();
    assert!(truth(&page, "window.frametap.table.length === 5001").await);
    assert!(truth(&page, "document.getElementById('table-note').textContent === ''").await, "a note about a cut");
    assert!(truth(&page, "document.getElementById('frame-rows').rows.length < 300").await, "every row is drawn");
    page.eval("document.getElementById('table-scroll').scrollTop = 0").await.unwrap();
    page.wait_for("document.getElementById('frame-1')", WAIT).await.unwrap_or_else(|e| panic!("{e:#}"));

    ui.stop().await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'stopped'", WAIT).await.unwrap();
    let banner = page.eval("document.getElementById('banner-text').textContent").await.unwrap();
    assert!(banner.as_str().unwrap().contains("open the new URL it prints"), "{banner}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
}

/// A capture from a frametap that was killed (kill -9: no `close`, no `end`) and a Chrome HAR (Chrome records no
/// close) hold connections without a close. Opened with `frametap ui FILE`, such a connection is not `open`: the
/// page says it shows a file, the connection has no close recorded, its duration is fixed (it does not tick with
/// the wall clock), and the Close tab says the capture holds no close for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_file_shows_a_connection_without_a_close_as_such_not_as_open() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("killed.jsonl");

    // `frametap proxy` (the built-in simulator), a client that configures a session, then kill -9.
    let mut proxy = tokio::process::Command::from(crate::common::binary::frametap_command())
        .args(["proxy", "--no-ui", "--listen", "127.0.0.1:0", "--capture"])
        .arg(&capture)
        .env("FRAMETAP_HOME", dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(proxy.stderr.take().unwrap()).lines();
    let example = tokio::time::timeout(WAIT, async {
        loop {
            let line = stderr.next_line().await.unwrap().expect("frametap proxy exited before printing its address");
            if let Some(url) = line.split("point your WebSocket client at").nth(1) {
                return url.trim().to_string();
            }
        }
    })
    .await
    .expect("frametap proxy printed its address in time");
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    let deployment = example.split("deploymentId=").nth(1).unwrap().to_string();
    let (mut client, _) = tokio_tungstenite::connect_async(example.as_str()).await.unwrap();
    let configure = serde_json::json!({"action": "configureSession", "deploymentId": deployment,
        "token": "5b1f0c7e-7a43-4ad5-9d1a-0f2b7d7f1c11", "tracingId": "t1"});
    client.send(tokio_tungstenite::tungstenite::Message::Text(configure.to_string().into())).await.unwrap();
    let answer = tokio::time::timeout(WAIT, client.next()).await.unwrap().unwrap().unwrap();
    assert!(answer.to_text().unwrap().contains("SessionResponse"), "{answer:?}");
    // The capture is flushed batch by batch: wait until the answer is on disk, then kill frametap as a crash would.
    tokio::time::timeout(WAIT, async {
        while !std::fs::read_to_string(&capture).unwrap_or_default().contains("SessionResponse") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the capture holds the server's answer");
    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(proxy.id().unwrap() as i32, libc::SIGKILL) };
    proxy.wait().await.unwrap();
    let saved = std::fs::read_to_string(&capture).unwrap();
    assert!(!saved.contains("\"kind\":\"close\"") && !saved.contains("\"kind\":\"end\""), "{saved}");

    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let (mut ui, url) = frametap_ui(&capture).await;
    let page = browser.new_page().await.unwrap();
    page.goto(&url).await.unwrap();
    // The status chip says the page shows a file, not a live stream.
    if let Err(e) = page.wait_for("document.getElementById('status').textContent === 'file'", WAIT).await {
        panic!("{e:#}: status {:?}", page.eval("document.getElementById('status').textContent").await);
    }
    let item = "#conn-list li[data-conn=\"1\"]";
    page.wait_for(&format!("document.querySelector('{item}')"), WAIT).await.unwrap();
    let state = page.eval(&format!("document.querySelector('{item} .state').textContent")).await.unwrap();
    assert_eq!(state, "no close recorded");
    // Its duration is what the file shows (open to its last record), and it does not count with the wall clock.
    assert!(truth(&page, &format!("document.querySelector('{item} [data-since]') === null")).await, "it ticks");
    let shown = "[...document.querySelectorAll('#conn-list li[data-conn=\"1\"] .conn-line.muted span')].map(s => s.textContent).join('|')";
    let before = page.eval(shown).await.unwrap();
    assert!(before.as_str().unwrap().contains("≥ "), "{before}");
    page.eval("new Promise(resolve => setTimeout(resolve, 1300))").await.unwrap();
    assert_eq!(page.eval(shown).await.unwrap(), before, "the duration of a connection in a file changed");
    // The Close tab says the capture holds no close for it, and why.
    page.click(item).await.unwrap();
    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    page.wait_for("document.getElementById('close-card')", WAIT).await.unwrap();
    let card = page.eval("document.getElementById('close-card').textContent").await.unwrap();
    let card = card.as_str().unwrap();
    for expected in ["No close recorded", "The capture holds no close for this connection", "no end record", "at least"]
    {
        assert!(card.contains(expected), "the close card lacks {expected:?}: {card}");
    }
    assert!(!card.contains("still open"), "{card}");
    let notes = page.eval("document.getElementById('session-notes').textContent").await.unwrap();
    assert!(notes.as_str().unwrap().contains("capture-cut-short"), "{notes}");
    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(ui.id().unwrap() as i32, libc::SIGTERM) };
    ui.wait().await.unwrap();

    // A Chrome HAR: its WebSocket entry has messages but no close.
    let har = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har/chrome-genesys.har");
    let (mut ui, url) = frametap_ui(&har).await;
    page.goto(&url).await.unwrap();
    page.wait_for("document.getElementById('status').textContent === 'file'", WAIT).await.unwrap();
    page.wait_for(&format!("document.querySelector('{item} .state')?.textContent === 'no close recorded'"), WAIT)
        .await
        .unwrap();
    assert!(truth(&page, "document.querySelector('#conn-list [data-since]') === null").await, "it ticks");
    page.click(item).await.unwrap();
    page.click("#tabs [data-tab=\"close\"]").await.unwrap();
    page.wait_for("document.getElementById('close-card')?.textContent.includes('No close recorded')", WAIT)
        .await
        .unwrap();
    let card = page.eval("document.getElementById('close-card').textContent").await.unwrap();
    assert!(card.as_str().unwrap().contains("the HAR it was imported from records no close for it"), "{card}");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(ui.id().unwrap() as i32, libc::SIGTERM) };
    ui.wait().await.unwrap();
}

/// Where the three panes are, as the layout at that width has them.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Panes {
    /// Connections, frames and detail side by side (1,050 px and wider).
    Columns,
    /// The connections as a sidebar, the detail under the frame table.
    Sidebar,
    /// Connections, frames and detail one above the other.
    Stacked,
}

/// What is wrong with the page's geometry, as sentences (none when it is right): the page scrolls neither way, every
/// essential control is whole inside the window, no two controls of a bar overlap, and the panes do not overlap.
const GEOMETRY_PROBLEMS: &str = r#"(() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > innerWidth) problems.push(`the page scrolls sideways: ${doc.scrollWidth} px wide in a ${innerWidth} px window`);
  if (doc.scrollHeight > innerHeight) problems.push(`the page scrolls down: ${doc.scrollHeight} px high in a ${innerHeight} px window`);
  const name = (e) => e.id ? '#' + e.id : `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} "${e.textContent.trim().slice(0, 30)}"`;
  const essential = ['#status', '#clear', '#try-link', '#conn-list li.selected', '#toolbar button', '#search', '#regex',
    '#conn-header .button', '#tabs .tab', '#frame-table th.c-seq', '#frame-table th.c-dir', '#frame-table th.c-op',
    '#frame-table th.c-preview', '#frame-table th.c-ann', '#frame-rows tr:first-child .c-preview', '#detail-body'];
  for (const selector of essential) {
    const found = [...document.querySelectorAll(selector)];
    if (!found.length) problems.push(`nothing matches ${selector}`);
    for (const e of found) {
      const r = e.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) problems.push(`${name(e)} has no size`);
      else if (r.left < 0 || r.top < 0 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5)
        problems.push(`${name(e)} is not inside the window: ${Math.round(r.left)},${Math.round(r.top)} to ${Math.round(r.right)},${Math.round(r.bottom)}`);
    }
  }
  const overlap = (a, b) => Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left)) * Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top));
  for (const bar of ['.topbar', '#toolbar', '#conn-header', '#tabs', '.layout']) {
    const items = [...document.querySelector(bar).children].filter(e => !e.hidden && !e.classList.contains('spacer') && !e.classList.contains('jump'));
    for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) {
      const area = overlap(items[i].getBoundingClientRect(), items[j].getBoundingClientRect());
      if (area > 1) problems.push(`in ${bar}, ${name(items[i])} and ${name(items[j])} overlap (${Math.round(area)} px²)`);
    }
  }
  return problems;
})()"#;

/// Where the frame table's pane ends on the right (inside its scroll bar), and where the last cell with a width of
/// the table's head and of its first row end.
const TABLE_ENDS: &str = "(() => { const s = document.getElementById('table-scroll'); \
  const end = (row) => Math.max(...[...row.children].map(c => c.getBoundingClientRect()).filter(r => r.width > 0).map(r => r.right)); \
  return [s.getBoundingClientRect().left + s.clientLeft + s.clientWidth, \
          end(document.querySelector('#frame-table thead tr')), end(document.querySelector('#frame-rows tr'))]; })()";

/// The panes' rectangles: [left, top, right, bottom] of the connections, the frames and the detail.
async fn panes(page: &Page) -> [[f64; 4]; 3] {
    let rects = page
        .eval(
            "['.connections', '.frames', '.detail'].map(s => { const r = document.querySelector(s).getBoundingClientRect(); \
               return [r.left, r.top, r.right, r.bottom]; })",
        )
        .await
        .unwrap();
    serde_json::from_value(rects).unwrap()
}

async fn assert_geometry(page: &Page, width: u32, when: &str) {
    let problems = page.eval(GEOMETRY_PROBLEMS).await.unwrap();
    assert_eq!(problems, serde_json::json!([]), "at {width} px, {when}");
}

/// Waits until the page has drawn everything it was told to: a row redrawn under the mouse would not take a click.
async fn settled(page: &Page) {
    page.wait_for("window.frametapInfo && window.frametap.idle()", WAIT).await.unwrap();
}

/// Scrolls a connection into the list's view (as a user scrolls the list) and clicks it.
async fn pick_connection(page: &Page, conn: u64) {
    let item = format!("#conn-list li[data-conn=\"{conn}\"]");
    page.wait_for(&format!("document.querySelector('{item}')"), WAIT).await.unwrap();
    settled(page).await;
    page.eval(&format!("document.querySelector('{item}').scrollIntoView({{block: 'nearest'}})")).await.unwrap();
    page.click_on_screen(&item).await.unwrap_or_else(|e| panic!("{e:#}"));
    page.wait_for(&format!("document.querySelector('#conn-header strong')?.textContent === '#{conn} '"), WAIT)
        .await
        .unwrap();
}

/// A window narrower than the three columns (DevTools docked beside the page, half a laptop screen, a phone) gets a
/// layout that fits: at 1,000 px the connections are a sidebar and the detail sits under the frame table, at 800, 600
/// and 480 px the three stack, the frame table filling its pane's width. At each width the page scrolls neither way, every control is whole on screen, nothing
/// overlaps, a long path ends in an ellipsis with the downloads beside it, and a frame and a close card can be picked
/// with the mouse and read; what the narrowest table leaves out (time, size) is in the frame's detail. 1,400 px keeps
/// the three columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_windows_get_a_layout_that_fits_and_frames_can_be_picked_and_read() {
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e:#}"));
    let hub = Hub::new(HubOptions::default());
    publish(&hub, fixtures::meta());
    fixtures::publish_healthy(&hub, 1);
    fixtures::publish_story(&hub, 2);
    fixtures::publish_refused(&hub, 3);
    publish(&hub, fixtures::open(4, &format!("/v1?deploymentId=abc&access_token={}", "x".repeat(1500))));
    publish(&hub, fixtures::frame(4, 1, Peer::Client, Opcode::Text, br#"{"action":"echo"}"#, 10));
    let ui = start_ui(hub, None).await;
    let page = open_page(&browser, &ui.url).await;
    page.bring_to_front().await.unwrap();

    for (width, height, want) in [
        (1400, 900, Panes::Columns),
        (1000, 900, Panes::Sidebar),
        (800, 900, Panes::Stacked),
        (600, 900, Panes::Stacked),
        (480, 800, Panes::Stacked),
    ] {
        page.set_viewport(width, height).await.unwrap();
        pick_connection(&page, 1).await;
        page.wait_for("document.querySelectorAll('#frame-rows tr').length === 13", WAIT).await.unwrap();
        page.eval("new Promise(resolve => requestAnimationFrame(() => resolve()))").await.unwrap();
        assert_geometry(&page, width, "with connection #1 shown").await;

        // The frame table fills its pane: its head and its rows end at the pane's right edge (below 640 px the
        // hidden time and size columns used to leave a blank strip on the right, as wide as they were).
        let ends = page.eval(TABLE_ENDS).await.unwrap();
        let [edge, head, row]: [f64; 3] = serde_json::from_value(ends).unwrap();
        assert!(
            (head - edge).abs() <= 1.0 && (row - edge).abs() <= 1.0,
            "at {width} px the frame table does not fill its pane: its head ends at {head} px, its first row at \
             {row} px, the pane at {edge} px"
        );

        let [conns, frames, detail] = panes(&page).await;
        let (left, top, right, bottom) = (0, 1, 2, 3);
        let before = |a: [f64; 4], b: [f64; 4], end: usize, start: usize| a[end] <= b[start] + 1.0;
        let arrangement = if before(conns, frames, right, left) && before(frames, detail, right, left) {
            Panes::Columns
        } else if before(conns, frames, right, left)
            && before(conns, detail, right, left)
            && before(frames, detail, bottom, top)
        {
            Panes::Sidebar
        } else if before(conns, frames, bottom, top) && before(frames, detail, bottom, top) {
            Panes::Stacked
        } else {
            panic!("at {width} px the panes overlap: connections {conns:?}, frames {frames:?}, detail {detail:?}")
        };
        assert_eq!(arrangement, want, "at {width} px: connections {conns:?}, frames {frames:?}, detail {detail:?}");
        for (pane, rect) in [("connections", conns), ("frames", frames), ("detail", detail)] {
            assert!(
                rect[right] - rect[left] >= 200.0 && rect[bottom] - rect[top] >= 120.0,
                "at {width} px the {pane} pane is squeezed: {rect:?}"
            );
        }

        // A frame picked with the mouse: its detail is on screen, and says what a narrow table leaves out.
        settled(&page).await;
        page.eval("document.getElementById('frame-2').scrollIntoView({block: 'center'})").await.unwrap();
        page.click_on_screen("#frame-2").await.unwrap_or_else(|e| panic!("at {width} px: {e:#}"));
        page.wait_for("document.querySelector('#detail-body h3')?.textContent === 'Frame #2'", WAIT)
            .await
            .unwrap_or_else(|e| panic!("at {width} px, clicking frame #2 did not show it: {e:#}"));
        assert_geometry(&page, width, "with frame #2 shown").await;
        let payload = "(() => { const r = document.querySelector('#detail-body pre.json').getBoundingClientRect(); \
                         return r.left >= 0 && r.right <= innerWidth && r.top < innerHeight - 40; })()";
        assert!(truth(&page, payload).await, "at {width} px frame #2's payload is not on screen");
        let detail_text = page.eval("document.getElementById('detail-body').textContent").await.unwrap();
        let ts = page.eval("document.querySelector('#frame-2 .c-time').title").await.unwrap();
        for expected in ["\"SessionResponse\"", "142 B", ts.as_str().unwrap()] {
            assert!(
                detail_text.as_str().unwrap().contains(expected),
                "at {width} px the detail lacks {expected}: {detail_text}"
            );
        }

        // A closed connection's close card, picked from the list.
        pick_connection(&page, 2).await;
        page.wait_for("document.getElementById('close-card')", WAIT).await.unwrap();
        assert_geometry(&page, width, "with connection #2's close card shown").await;
        let card = "(() => { const r = document.getElementById('close-card').getBoundingClientRect(); \
                      return r.width > 150 && r.left >= 0 && r.right <= innerWidth && r.top < innerHeight - 40; })()";
        assert!(truth(&page, card).await, "at {width} px the close card is not on screen");

        // A 1,500-character path: it ends in an ellipsis, the downloads stay on screen.
        pick_connection(&page, 4).await;
        assert_geometry(&page, width, "with connection #4 and its long path shown").await;
        let ellipsized = "(() => { const p = document.querySelector('#conn-header .conn-header-path'), r = p.getBoundingClientRect(); \
                            return p.scrollWidth > p.clientWidth && r.width > 40 && r.right <= innerWidth; })()";
        assert!(truth(&page, ellipsized).await, "at {width} px the long path is not ellipsized in the header");
        // Its Connection tab shows the whole path, wrapped: the detail does not scroll sideways either.
        page.click_on_screen("#tabs [data-tab=\"conn\"]").await.unwrap_or_else(|e| panic!("at {width} px: {e:#}"));
        page.wait_for("document.querySelector('#detail-body h3')?.textContent === 'Connection 4'", WAIT).await.unwrap();
        let wrapped = "(() => { const d = document.getElementById('detail-body');                          return d.scrollWidth <= d.clientWidth && d.textContent.includes('x'.repeat(1500)); })()";
        assert!(truth(&page, wrapped).await, "at {width} px the Connection tab scrolls sideways");
    }

    // A window too short for the stacked panes: the page scrolls, and a frame clicked in the table brings its
    // detail into view.
    page.set_viewport(480, 420).await.unwrap();
    pick_connection(&page, 2).await;
    page.eval("window.scrollTo(0, 0)").await.unwrap();
    settled(&page).await;
    // The row in the middle of the table, the page scrolled to its top.
    let center_row = "(() => { const s = document.getElementById('table-scroll'), r = document.getElementById('frame-2'); \
                       s.scrollTop += r.getBoundingClientRect().top - s.getBoundingClientRect().top - s.clientHeight / 2; \
                       window.scrollTo(0, 0); })()";
    page.eval(center_row).await.unwrap();
    let below = "document.querySelector('.detail').getBoundingClientRect().top > innerHeight - 100";
    assert!(
        truth(&page, below).await,
        "at 480 × 420 the detail pane is already in view: the check would prove nothing"
    );
    page.click_on_screen("#frame-2").await.unwrap_or_else(|e| panic!("at 480 × 420: {e:#}"));
    page.wait_for("document.querySelector('#detail-body h3')?.textContent === 'Frame #2'", WAIT).await.unwrap();
    let shown = "(() => { const r = document.querySelector('.detail').getBoundingClientRect(); \
                  return r.top >= 0 && r.top < innerHeight - 100; })()";
    assert!(truth(&page, shown).await, "at 480 × 420 a clicked frame's detail stays below the window");
    assert_eq!(browser.page_errors(), Vec::<String>::new());
    ui.stop().await.unwrap();
}
