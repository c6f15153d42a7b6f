// frametap UI: live state from /api/stream, the connection list, the frame table, filters and tabs.
import {
  el, clock, duration, humanBytes, preview, isTyping, frameText, closeName,
  frameDetail, closeCard, tokensPanel, connectionPanel, countdownText, unclosed,
} from './views.js';
import { parseExact } from './json.js';

const MAX_ROWS = 5000;
// Records are written by serde_json: integers past 2^53 have 16 digits or more, and a float is written in its
// shortest form, which a double reads back, except -0.0. Only a message that may hold such a number (a JWT's
// 64-bit id among its claims) is read the slow, exact way (json.js); a frame's payload is a string either way.
const MAYBE_INEXACT = /\d{16}|-0\.0/;
const $ = (id) => document.getElementById(id);

// Drop the access token from the address bar: the cookie carries it from now on.
if (location.search.includes('token=')) history.replaceState(null, '', location.pathname + location.hash);

const state = {
  conns: new Map(),
  meta: null,
  end: null,         // the capture's end record (a saved file)
  source: 'live',    // 'live', or 'file' for a saved file (`frametap ui FILE`): nothing live follows its history
  notes: [],         // session-level notes (no connection)
  selected: null,     // connection id
  selectedSeq: null,  // frame seq within the selected connection
  tab: 'frame',
  clearedThrough: 0,  // records with an index up to this were cleared by the user
  lastIndex: 0,
  live: false,
  autoScroll: true,
  filters: {
    dirs: new Set(['client', 'server', 'proxy']),
    ops: new Set(['text', 'binary', 'close', 'ping', 'pong', 'continuation']),
    hideNoise: false, search: '', regex: false, matcher: null,
  },
};
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
// records since the last one. A redraw of a full table is dear (the browser lays out all of its rows: hundreds of
// ms for 5,000), so after one the page waits as long again before the next: during a burst the main thread keeps
// reading the stream instead of falling behind it (which costs a resync from history), and the table catches up
// in a few redraws, each adding every frame that arrived meanwhile.
let dirty = { list: false, table: false, rows: false, detail: false };
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
  if (state.selected == null) state.selected = id;
  const mine = id === state.selected;
  const changed = [];
  // The connection's latest record (timestamps share one format, so they compare as strings).
  if (typeof r.ts === 'string' && !(c.lastTs >= r.ts)) c.lastTs = r.ts;
  switch (kind) {
    case 'open': c.open = r; break;
    case 'frame':
      c.frames.push(r); c.bySeq.set(r.seq, r);
      if (mine) changed.push('rows');
      break;
    case 'annotation': {
      c.annotations.set(r.seq, r.text ?? '');
      c.annotationRecords.set(r.seq, r);
      const cell = mine ? rowFor(r.seq)?.querySelector('.c-ann') : null;
      if (cell) cell.textContent = r.text ?? '';
      if (mine && r.seq === state.selectedSeq) changed.push('detail');
      break;
    }
    case 'token': c.tokens.push(r); break;
    case 'close': c.close = r; break;
    case 'diagnosis': c.diagnosis = r; if (mine) changed.push('table'); break;
    case 'note': c.notes.push(r); break;
    default: break;
  }
  if (kind !== 'frame' && kind !== 'annotation') { changed.push('list'); if (mine) changed.push('detail'); }
  if (isNew) changed.push('list', 'detail');
  if (changed.length) markDirty(changed);
}

function reset() {
  state.conns.clear();
  state.meta = null;
  state.end = null;
  state.notes = [];
  markDirty(['list', 'table', 'detail']);
}

// ---- the live stream ---------------------------------------------------------------------------

let retryDelay = 500;
function setStatus(text, cls) { const s = $('status'); s.textContent = text; s.className = 'status ' + cls; }
function banner(text) { $('banner-text').textContent = text; $('banner').hidden = !text; }

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/stream`);
  ws.onopen = () => { retryDelay = 500; state.connected = true; setStatus('syncing…', 'connecting'); };
  ws.onmessage = (ev) => {
    const msg = MAYBE_INEXACT.test(ev.data) ? parseExact(ev.data) : JSON.parse(ev.data);
    if (msg.t === 'hello') {
      const keepSelection = state.selected;
      reset();
      state.selected = keepSelection;
      state.live = false;
      state.source = msg.source === 'file' ? 'file' : 'live';
      $('redacted-badge').hidden = !msg.redacted;
      if (msg.reason === 'lag') banner(`This page fell behind the live stream by ${msg.missed} records; it was resynced from history.`);
      else if (msg.forgotten > 0) banner(`${msg.forgotten} older records were trimmed from the history and are not shown.`);
    } else if (msg.t === 'batch') {
      for (const item of msg.recs) apply(item.i, item.k || item.r.kind, item.r);
    } else if (msg.t === 'live') {
      state.live = true;
      // A saved file is shown whole: nothing live follows, so the page says so rather than "live".
      if (state.source === 'file') setStatus('file', 'file');
      else setStatus('live', 'live');
      markDirty(['list', 'table', 'detail']);
    }
  };
  ws.onclose = (ev) => {
    state.live = false;
    state.connected = false;
    markDirty(['table']);
    // 1001: frametap stopped. A new run has a new access token, so this page cannot follow it: say so, stop.
    if (ev.code === 1001) {
      setStatus('stopped', 'down');
      banner('frametap stopped. What is shown stays here; when it runs again, open the new URL it prints.');
      return;
    }
    setStatus('disconnected · retrying', 'down');
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 5000);
  };
}

// ---- connection list ---------------------------------------------------------------------------

function connState(c, missing) {
  if (c.open?.error) return ['failed', 'bad'];
  if (c.open?.response && c.open.response.status !== 101) return [`refused ${c.open.response.status}`, 'bad'];
  if (c.close) return ['closed', c.close.clean === false ? 'warn' : 'muted'];
  if (!c.open) return ['?', 'muted'];
  // A saved file holds no close for it: it is not open now, how it ended is just not in the file.
  if (missing) return ['no close recorded', 'muted'];
  return ['open', 'live'];
}

function renderList() {
  const list = $('conn-list');
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.conn : null;
  list.textContent = '';
  const ids = [...state.conns.keys()].sort((a, b) => a - b);
  $('conn-count').textContent = ids.length ? `(${ids.length})` : '';
  $('conn-empty').hidden = ids.length > 0;
  for (const id of ids) {
    const c = state.conns.get(id);
    const missing = unclosed(c, state);
    const [label, cls] = connState(c, missing);
    const path = c.open?.request?.path || '(opened before clear)';
    let upstream = c.open?.upstream || '';
    if (upstream.startsWith('sim:')) upstream = upstream.split('/')[0];
    else try { if (upstream) upstream = new URL(upstream).host || upstream; } catch { /* keep as is */ }
    // A refused or failed upgrade never opened: its duration is from the request to the failure (the handshake's
    // in a capture older than `failed_ms`), and it does not tick.
    const neverOpened = c.open?.error || (c.open?.response && c.open.response.status !== 101);
    // Only a live connection's duration ticks; one a saved file holds no close for lasted at least what the file shows.
    const since = !c.close && !neverOpened && !missing && c.open ? c.open.ts : null;
    const dur = c.close ? duration(c.close.duration_ms) : neverOpened ? duration(c.open.failed_ms ?? c.open.handshake_ms ?? 0)
      : missing ? (missing.ms != null ? `≥ ${duration(missing.ms)}` : '') : since ? duration(Date.now() - Date.parse(since)) : '';
    const closeInfo = c.close ? `${c.close.code != null ? c.close.code : c.close.clean === false ? 'drop' : 'no code'} by ${c.close.initiator_unknown ? 'unknown' : c.close.initiator}` : '';
    // A side that ended TCP without answering the close, when it is not the closer itself.
    const dropped = c.close?.dropped_by && (c.close.code != null || c.close.dropped_by !== c.close.initiator) ? `${c.close.dropped_by} dropped TCP` : '';
    // Red when the diagnosis found something to look at: protocol findings, or a cause other than the
    // client closing on its own.
    const flagged = c.diagnosis && ((c.diagnosis.causes || []).some(k => k.rule !== 'client-closed') || (c.diagnosis.findings || []).length);
    list.append(el('li.conn' + (id === state.selected ? '.selected' : ''), { dataset: { conn: String(id) }, tabindex: '0', onclick: () => selectConn(id) },
      el('div.conn-line', null, el('span.conn-id', { text: `#${id}` }), el('span.state.' + cls, { text: label, title: missing ? `The capture holds no close for this connection: ${missing.why}.` : null }),
        el('span.conn-path', { text: path, title: path })),
      el('div.conn-line.muted', null, el('span', { text: upstream }), el('span', { text: dur, dataset: since ? { since } : {} }),
        closeInfo ? el('span.close-info', { text: closeInfo }) : null,
        dropped ? el('span.dropped.warn-text', { text: dropped }) : null,
        c.diagnosis ? el('span.diag-marker' + (flagged ? '.flagged' : ''), { title: 'a close diagnosis exists: see the Close tab', text: flagged ? '⚑ diagnosis' : 'diagnosis' }) : null)));
  }
  if (focused != null) list.querySelector(`li[data-conn="${focused}"]`)?.focus();
}

function renderSessionNotes() {
  const box = $('session-notes');
  box.textContent = '';
  for (const n of state.notes) {
    box.append(el('li', null, el('span.chip.' + (n.level === 'error' ? 'bad' : n.level === 'warn' ? 'warn' : 'info'), { text: n.code || n.level }), ' ', el('span', { text: n.message || '' })));
  }
  box.hidden = state.notes.length === 0;
}

function selectConn(id) {
  if (state.selected !== id) { state.selected = id; state.selectedSeq = null; state.autoScroll = true; }
  if (state.tab === 'frame' && state.conns.get(id)?.close && state.selectedSeq == null) state.tab = 'close';
  markDirty(['list', 'table', 'detail']);
}

// ---- frame table -------------------------------------------------------------------------------

function compileSearch() {
  const f = state.filters;
  $('search-error').textContent = '';
  $('search').classList.remove('invalid');
  f.matcher = null;
  if (!f.search) return;
  if (f.regex) {
    try { const re = new RegExp(f.search, 'i'); f.matcher = (s) => re.test(s); }
    catch (e) { $('search-error').textContent = 'bad regex: ' + e.message; $('search').classList.add('invalid'); f.matcher = () => true; }
  } else {
    const needle = f.search.toLowerCase();
    f.matcher = (s) => s.toLowerCase().includes(needle);
  }
}

function visible(c, f) {
  const fl = state.filters;
  if (!fl.dirs.has(f.from)) return false;
  if (!fl.ops.has(f.opcode) && !(f.opcode.startsWith('reserved') && fl.ops.has('binary'))) return false;
  if (fl.hideNoise && (f.opcode === 'ping' || f.opcode === 'pong' || isTyping(f))) return false;
  if (fl.matcher) {
    const hay = `${frameText(f) ?? ''} ${f.reason ?? ''} ${f.code ?? ''} ${c.annotations.get(f.seq) ?? ''}`;
    if (!fl.matcher(hay)) return false;
  }
  return true;
}

function flagsFor(c) {
  const d = c.diagnosis;
  const flags = new Map();
  if (!d) return flags;
  for (const f of d.findings || []) if (f.seq != null) flags.set(f.seq, ['⚠', `${f.rule || 'finding'}: ${f.message || ''}`, 'finding']);
  // Causes that point at a frame flag it too, except those that only say who closed (they point at the close frame).
  const whoClosed = new Set(['client-closed', 'proxy-closed', 'close-unanswered', 'close-code']);
  for (const cause of d.causes || []) if (cause.seq != null && !whoClosed.has(cause.rule)) flags.set(cause.seq, ['⚠', cause.message || cause.rule || 'cause', 'finding']);
  if (d.preceding?.seq != null) flags.set(d.preceding.seq, ['⚑', 'the frame just before the close', 'preceding']);
  return flags;
}

// Rows are clones of this one, filled in: much cheaper than building eight cells one by one.
const ROW = el('tr', null, ...['flag', 'seq', 'time', 'dir', 'op', 'size', 'preview', 'ann'].map(k => el('td.c-' + k)));

function row(c, f, flags) {
  const flag = flags.get(f.seq);
  const dir = f.from === 'client' ? 'client → server' : f.from === 'server' ? 'server → client' : `proxy → ${f.to}`;
  const tr = ROW.cloneNode(true);
  if (flag) tr.classList.add(flag[2]);
  if (f.seq === state.selectedSeq) tr.classList.add('selected');
  tr.id = `frame-${f.seq}`;
  tr.dataset.seq = String(f.seq); tr.dataset.from = f.from; tr.dataset.opcode = f.opcode;
  const [cFlag, cSeq, cTime, cDir, cOp, cSize, cPreview, cAnn] = tr.cells;
  if (flag) { cFlag.title = flag[1]; cFlag.textContent = flag[0]; }
  cSeq.textContent = String(f.seq);
  cTime.textContent = clock(f.ts); cTime.title = f.ts;
  cDir.classList.add(f.from); cDir.textContent = dir;
  cOp.textContent = f.opcode + (f.fin === false ? ' …' : '');
  cSize.textContent = humanBytes(f.len);
  cPreview.textContent = preview(f);
  cAnn.textContent = c.annotations.get(f.seq) ?? '';
  return tr;
}

function rowFor(seq) { return document.getElementById(`frame-${seq}`); }

function renderTable(full) {
  const body = $('frame-rows');
  const c = state.conns.get(state.selected);
  const note = $('table-note');
  if (!c) { body.textContent = ''; note.textContent = state.conns.size ? 'Select a connection.' : ''; renderConnHeader(null); return; }
  const flags = flagsFor(c);
  if (full) {
    const shown = c.frames.filter(f => visible(c, f));
    const cut = Math.max(0, shown.length - MAX_ROWS);
    const frag = document.createDocumentFragment();
    for (const f of shown.slice(cut)) frag.append(row(c, f, flags));
    body.textContent = '';
    body.append(frag);
    c.shown = shown.length;
  } else {
    // Only the frames since the last redraw, in one append; of a burst larger than the table, only the last MAX_ROWS
    // get rows at all, and the oldest rows go in one removal, not one by one.
    const fresh = [];
    for (let i = c.rendered; i < c.frames.length; i++) if (visible(c, c.frames[i])) fresh.push(c.frames[i]);
    c.shown = (c.shown || 0) + fresh.length;
    if (fresh.length >= MAX_ROWS) body.textContent = '';
    const frag = document.createDocumentFragment();
    for (const f of fresh.slice(Math.max(0, fresh.length - MAX_ROWS))) frag.append(row(c, f, flags));
    body.append(frag);
    const excess = body.rows.length - MAX_ROWS;
    if (excess > 0) {
      const range = document.createRange();
      range.setStartBefore(body.rows[0]);
      range.setEndBefore(body.rows[excess]);
      range.deleteContents();
    }
  }
  note.textContent = c.shown > MAX_ROWS ? `Showing the last ${MAX_ROWS} of ${c.shown} matching frames.` : c.shown ? '' : c.frames.length ? 'No frame matches the filters.' : 'No frames yet.';
  c.rendered = c.frames.length;
  renderConnHeader(c);
  if (state.autoScroll) { const s = $('table-scroll'); s.scrollTop = s.scrollHeight; }
  $('jump-latest').hidden = state.autoScroll;
}

function renderConnHeader(c) {
  const h = $('conn-header');
  h.textContent = '';
  if (!c) return;
  const info = window.frametapInfo || {};
  const dl = info.downloads || {};
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

function selectFrame(seq) {
  state.selectedSeq = seq;
  state.tab = 'frame';
  const c = state.conns.get(state.selected);
  const f = c?.bySeq.get(seq);
  // A hidden frame must still be reachable: show everything again if the filters hide it.
  if (f && !visible(c, f)) clearFilters();
  document.querySelectorAll('#frame-rows tr.selected').forEach(r => r.classList.remove('selected'));
  markDirty(['detail']);
  render();
  const r = rowFor(seq);
  if (r) { r.classList.add('selected'); state.autoScroll = false; centerRow(r); $('jump-latest').hidden = false; }
}

/** In a window too short for the stacked panes (the page scrolls), brings the detail pane below the table into view
 * after a click on a row, as much of it as fits, its top first. Keyboard moves through the table do not scroll the page. */
function revealDetail() {
  const r = document.querySelector('.detail').getBoundingClientRect();
  if (r.bottom > innerHeight) window.scrollBy(0, Math.min(r.top, r.bottom - innerHeight));
}

/** Scrolls the frame table, and only it (scrollIntoView would move the page too), to show the row in its middle. */
function centerRow(r) {
  const s = $('table-scroll');
  s.scrollTop += r.getBoundingClientRect().top - s.getBoundingClientRect().top - (s.clientHeight - r.offsetHeight) / 2;
}

function renderDetail() {
  for (const b of document.querySelectorAll('#tabs .tab')) {
    b.classList.toggle('on', b.dataset.tab === state.tab);
    b.setAttribute('aria-selected', String(b.dataset.tab === state.tab));
  }
  const c = state.conns.get(state.selected);
  const body = $('detail-body');
  body.textContent = '';
  if (state.tab === 'frame') body.append(frameDetail(c, c?.bySeq.get(state.selectedSeq)));
  else if (state.tab === 'close') body.append(c ? closeCard(c, selectFrame, state) : el('p.muted.empty', { text: 'Select a connection.' }));
  else if (state.tab === 'tokens') body.append(tokensPanel(c));
  else body.append(connectionPanel(c));
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
  dirty = { list: false, table: syncing && d.table, rows: syncing && d.rows, detail: false };
  if (d.list) { renderList(); renderSessionNotes(); }
  if (!syncing) { if (d.table) renderTable(true); else if (d.rows) renderTable(false); }
  if (d.detail) renderDetail();
}

// ---- controls ----------------------------------------------------------------------------------

function syncToggles() {
  const set = (b, on) => { b.classList.toggle('on', on); b.setAttribute('aria-pressed', String(on)); };
  for (const b of document.querySelectorAll('[data-dir]')) set(b, state.filters.dirs.has(b.dataset.dir));
  for (const b of document.querySelectorAll('[data-op]')) set(b, state.filters.ops.has(b.dataset.op));
  set($('hide-noise'), state.filters.hideNoise);
}

function clearFilters() {
  const f = state.filters;
  f.dirs = new Set(['client', 'server', 'proxy']);
  f.ops = new Set(['text', 'binary', 'close', 'ping', 'pong', 'continuation']);
  f.hideNoise = false; f.search = ''; $('search').value = '';
  compileSearch(); syncToggles(); markDirty(['table']);
}

function toggleIn(set, key) { if (set.has(key)) set.delete(key); else set.add(key); }

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
  $('frame-rows').addEventListener('click', (e) => { const tr = e.target.closest('tr'); if (tr) { selectFrame(Number(tr.dataset.seq)); revealDetail(); } });
  // From the keyboard: the frame table takes focus, and the arrow keys select the next or previous frame.
  $('table-scroll').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const rows = $('frame-rows').rows;
    if (!rows.length) return;
    e.preventDefault();
    const current = rowFor(state.selectedSeq);
    const next = !current ? rows[e.key === 'ArrowDown' ? 0 : rows.length - 1]
      : e.key === 'ArrowDown' ? current.nextElementSibling : current.previousElementSibling;
    if (next) { selectFrame(Number(next.dataset.seq)); $('table-scroll').focus(); }
  });
  const scroller = $('table-scroll');
  scroller.addEventListener('scroll', () => {
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 24;
    state.autoScroll = atBottom;
    $('jump-latest').hidden = atBottom;
  });
  $('jump-latest').addEventListener('click', () => { state.autoScroll = true; scroller.scrollTop = scroller.scrollHeight; $('jump-latest').hidden = true; });
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
    if (info.label) { $('label').textContent = info.label; document.title = `frametap · ${info.label}`; }
    if (!info.proxy_ws_url) $('try-link').title = 'No proxy is running in this session; the try-it page needs one.';
    markDirty(['table']);
  }).catch(() => {});
  syncToggles();
  connect();
}

setup();
