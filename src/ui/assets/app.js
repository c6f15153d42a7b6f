// frametap UI: the page's main module: the records applied to its state, the redraw they schedule, the connection
// list's count and notes, the frame table, the detail pane and tabs, and the controls. The live stream is stream.js,
// the address bar hash.js, the filters filters.js; the shared state is page.js.
import { el, duration, showText, bidiEscaped } from './views.js';
import { frameDetail } from './payload.js';
import { closeCard, neverOpened, unclosed } from './closecard.js';
import { tokensPanel, countdownText } from './tokens.js';
import { connectionPanel } from './connpanel.js';
import { renderList } from './connlist.js';
import { FrameTable } from './table.js';
import { $, state, banner } from './page.js';
import { connect } from './stream.js';
import { writeHash, followHash } from './hash.js';
import { compileSearch, visible, syncToggles, clearFilters, toggleIn } from './filters.js';

// Drop the access token from the address bar: the cookie carries it from now on.
if (location.search.includes('token=')) history.replaceState(null, '', location.pathname + location.hash);

// For debugging from the console; `idle()` says no redraw is pending (tests wait for it before they click).
window.frametap = { state, idle: () => !markDirty.queued };

function conn(id) {
  let c = state.conns.get(id);
  if (!c) {
    c = { id, open: null, close: null, diagnosis: null, frames: [], bySeq: new Map(), annotations: new Map(), annotationRecords: new Map(), tokens: [], notes: [], rendered: 0 };
    state.conns.set(id, c);
  }
  return c;
}

// ---- records ---------------------------------------------------------------------------------

// Records change state as they arrive; the page is redrawn at most once per animation frame, whatever the number of
// records since the last one. The table draws only the rows in view (table.js), so a redraw is cheap; should one
// be dear all the same (a filter over a long connection), the page waits as long again before the next: during a
// burst the main thread keeps reading the stream instead of falling behind it (which costs a catch-up from history).
let dirty = { list: false, table: false, rows: false, detail: false, tabs: false };
/** The records each detail tab shows, besides the frame selected. */
const SHOWN_IN = { frame: [], close: ['open', 'close', 'diagnosis'], tokens: ['token'], conn: ['open', 'note'] };
const paced = { cost: 0, end: 0 }; // how long the last redraw took (its layout and paint included), and when it ended
function markDirty(what) {
  for (const k of what) dirty[k] = true;
  if (markDirty.queued) return;
  markDirty.queued = true;
  const wait = Math.min(paced.end + paced.cost - performance.now(), 1000);
  if (wait > 4) setTimeout(() => requestAnimationFrame(render), wait);
  else requestAnimationFrame(render);
}

function apply(index, kind, r) {
  if (index <= state.clearedThrough) return;
  state.lastIndex = Math.max(state.lastIndex, index);
  const id = r.conn;
  if (id == null) {
    if (kind === 'meta') state.meta = r;
    if (kind === 'end') { state.end = r; markDirty(['list', 'detail']); }
    if (kind === 'note') { state.notes.push(r); markDirty(['list']); }
    return;
  }
  const isNew = !state.conns.has(id);
  const c = conn(id);
  const w = state.wanted;
  if (w && id === w.conn && state.selected !== id) { state.selected = id; state.selectedSeq = null; state.tab = w.tab; redrawAll(); }
  // A link to a connection waits for it until the history has arrived; otherwise the first connection is shown.
  if (state.selected == null && !w) state.selected = id;
  const mine = id === state.selected;
  const changed = [];
  // The connection's latest record (timestamps share one format, so they compare as strings).
  if (typeof r.ts === 'string' && !(c.lastTs >= r.ts)) c.lastTs = r.ts;
  switch (kind) {
    case 'open': c.open = r; break;
    case 'frame':
      // Caught up: a connection's first frame since, when it does not follow the last one the page has (or, for a
      // connection the page has no frame of, is not its first), says some are missing.
      if (state.lag && !state.lag.seen.has(id)) {
        const last = state.lag.lastSeq.get(id) ?? 0;
        if (r.seq > last + 1) state.lag.gaps.push([id, last + 1, r.seq - 1]);
        state.lag.seen.add(id);
      }
      c.frames.push(r); c.bySeq.set(r.seq, r);
      if (mine) changed.push('rows');
      break;
    case 'annotation': {
      c.annotations.set(r.seq, r.text ?? '');
      c.annotationRecords.set(r.seq, r);
      const cell = mine ? rowFor(r.seq)?.querySelector('.c-ann') : null;
      if (cell) showText(cell, r.text ?? '');
      if (mine && r.seq === state.selectedSeq) changed.push('detail');
      break;
    }
    case 'token': c.tokens.push(r); break;
    case 'close': c.close = r; break;
    case 'diagnosis': c.diagnosis = r; if (mine) changed.push('table'); break;
    case 'note': c.notes.push(r); break;
    default: break;
  }
  // The detail pane is rebuilt only when what its tab shows changed (a rebuild loses a press on a link in it, and a
  // text selection); its tabs' labels follow every record.
  if (kind !== 'frame' && kind !== 'annotation') { changed.push('list'); if (mine) changed.push(SHOWN_IN[state.tab]?.includes(kind) ? 'detail' : 'tabs'); }
  if (isNew) changed.push('list', 'detail');
  if (changed.length) markDirty(changed);
}

/** What the live stream (stream.js) and the address bar (hash.js) do to the page. */
const page = { apply, reset, redrawAll, markDirty, selectConn, selectFrame };

/** Redraws the connection list, the frame table and the detail pane. */
function redrawAll() { markDirty(['list', 'table', 'detail']); }

function reset() {
  state.conns.clear();
  state.meta = null;
  state.end = null;
  state.notes = [];
  redrawAll();
}

/** Calls `then` whenever the device pixel ratio changes (a browser zoom, a window moved to another screen). */
function onResolutionChange(then) {
  matchMedia(`(resolution: ${devicePixelRatio}dppx)`).addEventListener('change', () => { then(); onResolutionChange(then); }, { once: true });
}

// ---- connection list ---------------------------------------------------------------------------

function renderConnCount() {
  $('conn-count').textContent = state.conns.size ? `(${state.conns.size})` : '';
  $('conn-empty').hidden = state.conns.size > 0;
}

function renderSessionNotes() {
  const box = $('session-notes');
  box.textContent = '';
  for (const n of state.notes) {
    box.append(el('li', null, el('span.chip.' + (n.level === 'error' ? 'bad' : n.level === 'warn' ? 'warn' : 'info'), { text: n.code || n.level }), ' ', el('span', { text: n.message || '' })));
  }
  box.hidden = state.notes.length === 0;
}

/** Shows a connection's frames (and its close card, once it closed, unless a frame of it is selected). Selecting it
 * again changes nothing: the mouse-down and the click of one press both select. */
function selectConn(id) {
  const toClose = state.tab === 'frame' && state.conns.get(id)?.close && (state.selected !== id || state.selectedSeq == null);
  if (state.selected === id && !toClose) return;
  if (state.selected !== id) { state.selected = id; state.selectedSeq = null; state.autoScroll = true; }
  if (toClose) state.tab = 'close';
  redrawAll();
}

// ---- frame table -------------------------------------------------------------------------------

function flagsFor(c) {
  const d = c.diagnosis;
  const flags = new Map();
  if (!d) return flags;
  for (const f of d.findings || []) if (f.seq != null) flags.set(f.seq, ['⚠', `${f.rule || 'finding'}: ${f.message || ''}`, 'finding']);
  // Causes that point at a frame flag it too, except those that only say who closed (they point at the close frame).
  // `close-code` points away from the close frame only to name a culprit (a 1009's message past the limit): flagged.
  const whoClosed = new Set(['client-closed', 'proxy-closed', 'close-unanswered']);
  const culprit = (cause) => !whoClosed.has(cause.rule) && !(cause.rule === 'close-code' && cause.seq === d.close_seq);
  for (const cause of d.causes || []) if (cause.seq != null && culprit(cause)) flags.set(cause.seq, ['⚠', cause.message || cause.rule || 'cause', 'finding']);
  if (d.preceding?.seq != null) flags.set(d.preceding.seq, ['⚑', 'the frame just before the close', 'preceding']);
  return flags;
}

const table = new FrameTable($('table-scroll'), document.querySelector('#frame-table thead'), $('frame-rows'),
  $('frames-above'), $('frames-below'));

window.frametap.table = table; // `table.length`: how many frames the table holds (only those in view are drawn)

function rowFor(seq) { return table.conn && table.conn === state.conns.get(state.selected) ? table.rowFor(seq) : null; }

/** What the frame table says when it shows no frame of `c`: why there is none. */
function noFramesText(c) {
  if (c.frames.length) return 'No frame matches the filters.';
  if (neverOpened(c)) return 'No frames: the WebSocket never opened (the Close tab says why).';
  if (c.close) return 'No frames: the connection ended before any was sent.';
  if (unclosed(c, state)) return 'No frames recorded.';
  return 'No frames yet.';
}

/** The note under the frame table (why it shows no frame); hidden when there is none, so that a table following
 * new frames ends at the bottom of its pane rather than above an empty note's padding. */
function showNote(text) {
  const note = $('table-note');
  note.textContent = text;
  note.hidden = !text;
}

/** Draws the selected connection's frames: all of them again (`full`: another connection, filters, flags), or only
 * those that arrived since the last draw. The table holds every matching frame; only the rows in view are drawn. */
function renderTable(full) {
  const c = state.conns.get(state.selected);
  if (!c) { table.clear(); showNote(state.conns.size ? 'Select a connection.' : ''); renderConnHeader(null); return; }
  if (full || table.conn !== c) {
    table.reset(c, c.frames.filter(f => visible(c, f)), flagsFor(c), state.selectedSeq);
  } else {
    const fresh = [];
    for (let i = c.rendered; i < c.frames.length; i++) if (visible(c, c.frames[i])) fresh.push(c.frames[i]);
    table.append(fresh);
  }
  c.rendered = c.frames.length;
  showNote(table.length ? '' : noFramesText(c));
  renderConnHeader(c);
  if (state.autoScroll) table.scrollToEnd(); else table.draw();
  $('jump-latest').hidden = state.autoScroll;
}

/** The selected connection's id, path and download links; rebuilt only when one of them changes (a link pressed
 * while frames arrive must still be there when the mouse button comes up). */
function renderConnHeader(c) {
  const h = $('conn-header');
  const info = window.frametapInfo || {};
  const dl = info.downloads || {};
  const key = c ? JSON.stringify([c.id, c.open?.request?.path, dl]) : '';
  if (h.dataset.key === key) return;
  h.dataset.key = key;
  h.textContent = '';
  if (!c) return;
  const link = (href, text, ok, why) => ok ? el('a.button', { href, download: '' , text }) : el('span.button.disabled', { title: why, text });
  const path = c.open?.request?.path || '';
  h.append(el('strong', { text: `#${c.id} ` }), el('span.conn-header-path', { text: path, title: path }),
    el('span.spacer'),
    el('span.muted', { text: 'Download: ' }),
    link(`/api/conn/${c.id}/capture`, 'capture', true),
    link(`/api/conn/${c.id}/capture?redacted=1`, 'redacted', dl.redacted_capture !== false, 'not offered by this server'),
    link(`/api/conn/${c.id}/har`, 'HAR', dl.har !== false, 'not offered by this server'),
    link(`/api/conn/${c.id}/har?redacted=1`, 'HAR redacted', dl.har !== false, 'not offered by this server'));
}

// ---- detail ------------------------------------------------------------------------------------

/** Selects a frame and scrolls the table to it: to its middle (`center`: from the keyboard or a link, the frame may be
 * far away), or just enough to show it whole (`nearest`: picked with the mouse, it is in view already). */
function selectFrame(seq, how = 'center') {
  state.selectedSeq = seq;
  state.tab = 'frame';
  const c = state.conns.get(state.selected);
  const f = c?.bySeq.get(seq);
  // A hidden frame must still be reachable: show everything again if the filters hide it.
  if (f && !visible(c, f)) { clearFilters(); markDirty(['table']); }
  markDirty(['detail']);
  render();
  table.select(seq);
  const i = table.conn === c ? table.indexOf(seq) : undefined;
  if (i != null) { state.autoScroll = false; table.reveal(i, how); $('jump-latest').hidden = false; }
}

/** In a window too short for the stacked panes (the page scrolls), brings the detail pane below the table into view
 * after a click on a row, as much of it as fits, its top first. Keyboard moves through the table do not scroll the page. */
function revealDetail() {
  const r = document.querySelector('.detail').getBoundingClientRect();
  if (r.bottom > innerHeight) window.scrollBy(0, Math.min(r.top, r.bottom - innerHeight));
}

function renderDetail() {
  const c = state.conns.get(state.selected);
  const body = $('detail-body');
  body.textContent = '';
  if (state.tab === 'frame') body.append(frameDetail(c, c?.bySeq.get(state.selectedSeq)));
  else if (state.tab === 'close') body.append(c ? closeCard(c, selectFrame, state) : el('p.muted.empty', { text: 'Select a connection.' }));
  else if (state.tab === 'tokens') body.append(tokensPanel(c));
  else body.append(connectionPanel(c));
  renderTabs();
}

/** The tabs: which one is on, the Close tab's flag, the Tokens tab's count. */
function renderTabs() {
  const c = state.conns.get(state.selected);
  for (const b of document.querySelectorAll('#tabs .tab')) {
    b.classList.toggle('on', b.dataset.tab === state.tab);
    b.setAttribute('aria-selected', String(b.dataset.tab === state.tab));
  }
  const closeTab = document.querySelector('#tabs [data-tab="close"]');
  closeTab.classList.toggle('flagged', !!c?.diagnosis);
  const tokTab = document.querySelector('#tabs [data-tab="tokens"]');
  tokTab.textContent = c?.tokens.length ? `Tokens (${c.tokens.length})` : 'Tokens';
}

function render() {
  markDirty.queued = false;
  const started = performance.now();
  // A task queued now runs once the browser has laid out and painted what this redraw changed: that is its cost.
  setTimeout(() => { paced.end = performance.now(); paced.cost = paced.end - started; }, 0);
  const d = dirty;
  // While the history syncs, the table waits: it is drawn once when the stream says `live` (drawing it batch by
  // batch made a page with a full history freeze for seconds).
  const syncing = !state.live && state.connected;
  dirty = { list: false, table: syncing && d.table, rows: syncing && d.rows, detail: false, tabs: false };
  if (d.list) { renderList($('conn-list'), state, selectConn, syncing); renderConnCount(); renderSessionNotes(); }
  if (!syncing) { if (d.table) renderTable(true); else if (d.rows) renderTable(false); }
  if (d.detail) renderDetail(); else if (d.tabs) renderTabs();
  writeHash();
}

// ---- controls ----------------------------------------------------------------------------------

function setup() {
  for (const b of document.querySelectorAll('[data-dir]')) b.addEventListener('click', () => { toggleIn(state.filters.dirs, b.dataset.dir); syncToggles(); markDirty(['table']); });
  for (const b of document.querySelectorAll('[data-op]')) b.addEventListener('click', () => { toggleIn(state.filters.ops, b.dataset.op); syncToggles(); markDirty(['table']); });
  $('hide-noise').addEventListener('click', () => { state.filters.hideNoise = !state.filters.hideNoise; syncToggles(); markDirty(['table']); });
  const onSearch = () => { state.filters.search = $('search').value; state.filters.regex = $('regex').checked; compileSearch(); markDirty(['table']); };
  // Typing redraws the table once it pauses, not on every key (a full table takes a while to filter).
  let searchTimer = null;
  $('search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(onSearch, 150); });
  $('regex').addEventListener('change', onSearch);
  for (const b of document.querySelectorAll('#tabs .tab')) b.addEventListener('click', () => { state.tab = b.dataset.tab; markDirty(['detail']); });
  $('conn-list').addEventListener('keydown', (e) => {
    const li = e.target.closest('li.conn');
    if (li && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); selectConn(Number(li.dataset.conn)); }
  });
  // A frame is picked as the mouse button goes down, like a connection (connlist.js): while frames stream in, the
  // table moves under the mouse, and the press is what the user aimed at. A click selects too (one with no press
  // behind it: an assistive tool, `element.click()`); the click that ends a press finds the frame selected already.
  const pick = (e) => {
    const tr = e.target.closest('tr');
    if (!tr || (Number(tr.dataset.seq) === state.selectedSeq && state.tab === 'frame')) return;
    selectFrame(Number(tr.dataset.seq), 'nearest');
    revealDetail();
  };
  $('frame-rows').addEventListener('mousedown', (e) => { if (e.button === 0) pick(e); });
  $('frame-rows').addEventListener('click', pick);
  // From the keyboard: the frame table takes focus; the arrow keys select the next or previous frame, Page Up and
  // Page Down move a page, Home and End go to the first and the last frame.
  $('table-scroll').addEventListener('keydown', (e) => {
    const n = table.length, page = table.pageRows();
    const at = table.conn === state.conns.get(state.selected) ? table.indexOf(state.selectedSeq) : undefined;
    const none = at == null;
    const to = {
      ArrowDown: none ? 0 : at + 1, ArrowUp: none ? n - 1 : at - 1,
      PageDown: none ? 0 : Math.min(n - 1, at + page), PageUp: none ? n - 1 : Math.max(0, at - page),
      Home: 0, End: n - 1,
    }[e.key];
    if (to === undefined || !n) return;
    e.preventDefault();
    if (to >= 0 && to < n) { selectFrame(table.frameAt(to).seq); $('table-scroll').focus(); }
  });
  const scroller = $('table-scroll');
  scroller.addEventListener('scroll', () => {
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 24;
    state.autoScroll = atBottom;
    $('jump-latest').hidden = atBottom;
    table.draw();
  });
  // A window resized, or a layout change at a breakpoint: more or fewer rows are in view.
  const relayout = () => { if (state.autoScroll) table.scrollToEnd(); else table.draw(); };
  new ResizeObserver(relayout).observe(scroller);
  // Rows of another height (a browser zoom snaps their borders to other device pixels; a font or style change): the
  // table measures them again and puts every row back in its place, without waiting for a scroll. The table changes
  // size then; the redraw waits for the next animation frame, not to resize it again inside its own observer.
  const remeasure = () => requestAnimationFrame(() => { if (table.remeasure()) relayout(); });
  new ResizeObserver(remeasure).observe($('frame-table'));
  // Another device pixel ratio also changes the tallest the table may be (`FrameTable.cap`): redraw in any case.
  onResolutionChange(() => requestAnimationFrame(() => { table.remeasure(); relayout(); }));
  $('jump-latest').addEventListener('click', () => { state.autoScroll = true; table.scrollToEnd(); $('jump-latest').hidden = true; });
  $('clear').addEventListener('click', () => {
    state.clearedThrough = state.lastIndex;
    state.selected = null; state.selectedSeq = null;
    reset();
    banner('Cleared. New records will appear as they arrive.');
  });
  $('banner-close').addEventListener('click', () => banner(''));
  // Live countdowns and open-connection durations.
  setInterval(() => {
    for (const n of document.querySelectorAll('.countdown')) n.textContent = countdownText(n.dataset.field, Number(n.dataset.epoch));
    for (const n of document.querySelectorAll('#conn-list [data-since]')) n.textContent = duration(Date.now() - Date.parse(n.dataset.since));
  }, 1000);
  fetch('/api/info').then(r => r.json()).then(info => {
    window.frametapInfo = info;
    if (info.label) { showText($('label'), info.label); document.title = `frametap · ${bidiEscaped(info.label)}`; }
    if (!info.proxy_ws_url) $('try-link').title = 'No proxy is running in this session; the try-it page needs one.';
    markDirty(['table']);
  }).catch(() => {});
  syncToggles();
  followHash(page);
  window.addEventListener('hashchange', () => followHash(page));
  connect(page);
}

setup();
