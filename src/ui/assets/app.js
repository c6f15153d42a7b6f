// frametap UI: live state from /api/stream, the connection list, the frame table, filters and tabs.
import {
  el, duration, isTyping, frameText, frameDetail, closeCard, tokensPanel, connectionPanel, countdownText, neverOpened,
  unclosed, shellWord,
} from './views.js';
import { parseExact } from './json.js';
import { renderList } from './connlist.js';
import { FrameTable } from './table.js';

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
  loaded: false,     // a saved file: true once the stream said it was read in full (`live`); until then, "loading…"
  notes: [],         // session-level notes (no connection)
  selected: null,     // connection id
  selectedSeq: null,  // frame seq within the selected connection
  tab: 'frame',
  // What the address bar's `#conn=N&frame=S` (or `&tab=close|tokens|conn`) asks for, until the history has it.
  wanted: null,
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

/** Each connection's last frame seq, to tell frames missing after a catch-up (`state.lag`). */
function lastSeqs() {
  const last = new Map();
  for (const [id, c] of state.conns) if (c.frames.length) last.set(id, c.frames[c.frames.length - 1].seq);
  return last;
}

/** Where every record is: the capture file, when the session writes one (`/api/info`). */
function fromCapture() {
  const path = window.frametapInfo?.capture;
  return path ? ` The capture file has every record: open it with \`frametap ui ${shellWord(path)}\`.` : '';
}

/** Adds the gaps of connections none of whose frames the catch-up brought, though some were trimmed (the server's
 * `trimmed`: each one's newest frame trimmed): their frames from the page's last to that one are missing. */
function trimmedGaps(lag) {
  for (const [id, seq] of lag.trimmed) {
    const last = lag.lastSeq.get(id) ?? 0;
    if (!lag.seen.has(id) && seq > last) lag.gaps.push([id, last + 1, seq]);
  }
  return lag;
}

/** What the banner says once a page that fell behind, or reconnected, has caught up: nothing missing, or which
 * frames are. */
function lagText(lag) {
  const behind = lag.reason === 'resume'
    ? "This page lost its connection to frametap, reconnected and caught up from the UI's history"
    : `This page fell behind the live stream by ${lag.missed} records and caught up from the UI's history`;
  if (!lag.lost) return `${behind}: nothing is missing.`;
  const gaps = lag.gaps.slice(0, 3).map(([id, from, to]) => from === to ? `#${from} of connection #${id}` : `#${from}–#${to} of connection #${id}`);
  const which = gaps.length ? ` (frames ${gaps.join(', ')}${lag.gaps.length > 3 ? ', …' : ''})` : '';
  return `${behind}, but ${lag.lost} of the records it missed${which} had already left that history, which keeps the last ${lag.kept.toLocaleString('en')} frames and annotations, and are not shown.${fromCapture()}`;
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
  // The detail pane is rebuilt only when what its tab shows changed (a rebuild loses a press on a link in it, and a
  // text selection); its tabs' labels follow every record.
  if (kind !== 'frame' && kind !== 'annotation') { changed.push('list'); if (mine) changed.push(SHOWN_IN[state.tab]?.includes(kind) ? 'detail' : 'tabs'); }
  if (isNew) changed.push('list', 'detail');
  if (changed.length) markDirty(changed);
}

/** Redraws the connection list, the frame table and the detail pane. */
function redrawAll() { markDirty(['list', 'table', 'detail']); }

function reset() {
  state.conns.clear();
  state.meta = null;
  state.end = null;
  state.notes = [];
  redrawAll();
}

// ---- the live stream ---------------------------------------------------------------------------

let retryDelay = 500;
function setStatus(text, cls) { const s = $('status'); s.textContent = text; s.className = 'status ' + cls; }
function banner(text) { $('banner-text').textContent = text; $('banner').hidden = !text; }

function connect() {
  // Reconnecting, the page resumes after the last record it has, if the server is still the same run (else it starts over).
  const resume = state.run && state.lastIndex ? `?run=${state.run}&after=${state.lastIndex}` : '';
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/stream${resume}`);
  let opened = false;
  ws.onopen = () => { opened = true; retryDelay = 500; state.connected = true; setStatus('syncing…', 'connecting'); };
  ws.onmessage = (ev) => {
    const msg = MAYBE_INEXACT.test(ev.data) ? parseExact(ev.data) : JSON.parse(ev.data);
    if (msg.t === 'hello') {
      // Fallen behind, or reconnected: the page keeps what it has, and the history after the last record it got follows.
      const caughtUp = msg.reason === 'lag' || msg.reason === 'resume';
      if (!caughtUp) {
        const keepSelection = state.selected;
        reset();
        state.selected = keepSelection;
        if (msg.run !== state.run) state.clearedThrough = 0; // another run's indices mean nothing in this one
        state.lastIndex = state.clearedThrough;
      }
      state.run = msg.run;
      state.live = false;
      state.loaded = false;
      state.source = msg.source === 'file' ? 'file' : 'live';
      state.lag = caughtUp ? { reason: msg.reason, missed: msg.missed, lost: msg.lost, kept: msg.history_frames, trimmed: msg.trimmed ?? [], lastSeq: lastSeqs(), seen: new Set(), gaps: [] } : null;
      $('redacted-badge').hidden = !msg.redacted;
      if (!caughtUp && msg.forgotten > 0) banner(`${msg.forgotten} older records were trimmed from the UI's history and are not shown.${fromCapture()}`);
    } else if (msg.t === 'batch') {
      for (const item of msg.recs) apply(item.i, item.k || item.r.kind, item.r);
    } else if (msg.t === 'live') {
      if (state.lag) { banner(lagText(trimmedGaps(state.lag))); state.lag = null; }
      state.live = true;
      state.loaded = true;
      // A saved file is shown whole: nothing live follows, so the page says so rather than "live".
      if (state.source === 'file') setStatus('file', 'file');
      else setStatus('live', 'live');
      redrawAll();
      settleWanted();
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
    const retry = () => { setTimeout(connect, retryDelay); retryDelay = Math.min(retryDelay * 2, 5000); };
    if (opened) { retry(); return; }
    // Refused before it opened: a browser never tells a page why a WebSocket failed, so the page asks over plain
    // HTTP, with a POST to the stream's address: it carries the page's Origin as the WebSocket's request did (a GET
    // from the page's own origin carries none, and was answered 200 behind a front whose origin frametap refuses).
    // No answer, or an answer other than 401 or 403: frametap is not running (yet); retry. A refusal says why.
    fetch('/api/stream', { method: 'POST', cache: 'no-store' }).then(r => {
      if (r.status !== 401 && r.status !== 403) { retry(); return; }
      return r.text().catch(() => '').then(body => refused(r.status, r.headers.get('x-frametap-refusal'), body));
    }, retry);
  };
}

/** The stream's server refused this page (HTTP `status`; `why`: frametap's `x-frametap-refusal` header, null from another
 * program). Retrying cannot help: a restarted frametap has a new access token, an address it refuses stays refused, and
 * a frametap that comes back where another program answers now has a new token too. The page says which, and stops. */
function refused(status, why, body) {
  const stays = ' What is shown stays here; this page no longer reconnects.';
  if (why === 'token') {
    setStatus('access refused', 'down');
    banner(`frametap was restarted, or this page's access token is no longer valid (the server answered HTTP ${status}): `
      + `open the URL frametap printed when it started.${stays}`);
  } else if (why === 'origin') {
    // Opened through a front (a reverse proxy, another address) at an origin frametap does not accept: frametap's own
    // words name it, what it accepts, and the flag that accepts it.
    setStatus('origin refused', 'down');
    banner(`frametap refuses the live stream of this page, at ${location.origin} (HTTP ${status}: ${said(body)}).${stays}`);
  } else if (why === 'host') {
    // frametap's own words name the address and what it accepts.
    setStatus('address refused', 'down');
    banner(`frametap answers at ${location.host} but refuses this page's address (HTTP ${status}: ${said(body)}). `
      + `Open the URL frametap printed when it started, as printed.${stays}`);
  } else {
    setStatus('not frametap', 'down');
    banner(`Another program now answers at ${location.host} (HTTP ${status}), not frametap: frametap stopped, and its `
      + `port was taken. When frametap runs again, open the URL it prints.${stays}`);
  }
}

/** What frametap said in a refusal's body, without its `frametap UI: ` prefix. */
function said(body) { return body.trim().replace(/^frametap UI: /, ''); }

/** Calls `then` whenever the device pixel ratio changes (a browser zoom, a window moved to another screen). */
function onResolutionChange(then) {
  matchMedia(`(resolution: ${devicePixelRatio}dppx)`).addEventListener('change', () => { then(); onResolutionChange(then); }, { once: true });
}

// ---- the address bar -------------------------------------------------------------------------------

// The address bar names what is shown (`#conn=3&frame=12`, `#conn=3&tab=close`), so a reload comes back to it and
// the back button or an edited address goes where it says. Only the token-less URL is ever in the address bar.
const TABS = new Set(['frame', 'close', 'tokens', 'conn']);

/** `#conn=N[&frame=S][&tab=T]` as {conn, seq, tab}, or null when it names no connection. */
function parseHash(hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const conn = Number(p.get('conn'));
  if (!Number.isSafeInteger(conn) || conn <= 0) return null;
  const frame = p.has('frame') ? Number(p.get('frame')) : null;
  const seq = Number.isSafeInteger(frame) && frame > 0 ? frame : null;
  const tab = seq != null ? 'frame' : TABS.has(p.get('tab')) ? p.get('tab') : 'frame';
  return { conn, seq, tab };
}

function hashOf() {
  if (state.selected == null) return '';
  if (state.tab === 'frame' && state.selectedSeq != null) return `#conn=${state.selected}&frame=${state.selectedSeq}`;
  return state.tab === 'frame' ? `#conn=${state.selected}` : `#conn=${state.selected}&tab=${state.tab}`;
}

/** Puts what is shown in the address bar, at most a few times a second: browsers limit how often a page may
 * replace its address (Safari throws past 100 times in 30 s), and a key held down selects frame after frame. */
function writeHash() {
  if (writeHash.timer) return;
  writeHash.timer = setTimeout(() => {
    writeHash.timer = null;
    if (state.wanted) return; // not until what the address asked for is shown, or known to be missing
    const hash = hashOf();
    if (hash === location.hash) return;
    try { history.replaceState(null, '', location.pathname + location.search + hash); } catch { /* over the limit */ }
  }, 300);
}

/** Goes where the address says: at once on a live page, else once the history has arrived (apply() shows the
 * connection as soon as its first record does). */
function followHash() {
  state.wanted = parseHash(location.hash);
  if (state.live) settleWanted();
}

/** Shows what the address asked for, now that the history has arrived (or the connection is here): the connection,
 * its frame scrolled into view, or its tab; says so when the session does not hold it. */
function settleWanted() {
  const w = state.wanted;
  if (!w) return;
  state.wanted = null;
  const c = state.conns.get(w.conn);
  if (!c) {
    banner(`Connection #${w.conn} (named in the address) is not in this session${state.source === 'file' ? ' file' : "'s history"}.`);
    if (state.selected == null && state.conns.size) state.selected = state.conns.keys().next().value;
    redrawAll();
    return;
  }
  selectConn(w.conn);
  state.tab = w.tab; // the address's tab, not the one selectConn picks for a closed connection
  redrawAll();
  if (w.seq == null) return;
  if (c.bySeq.has(w.seq)) selectFrame(w.seq);
  else banner(`Frame #${w.seq} of connection #${w.conn} (named in the address) is not in this session${c.frames.length ? '' : ': the connection has no frames'}.`);
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

/** Draws the selected connection's frames: all of them again (`full`: another connection, filters, flags), or only
 * those that arrived since the last draw. The table holds every matching frame; only the rows in view are drawn. */
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
  if (f && !visible(c, f)) clearFilters();
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
    if (info.label) { $('label').textContent = info.label; document.title = `frametap · ${info.label}`; }
    if (!info.proxy_ws_url) $('try-link').title = 'No proxy is running in this session; the try-it page needs one.';
    markDirty(['table']);
  }).catch(() => {});
  syncToggles();
  followHash();
  window.addEventListener('hashchange', followHash);
  connect();
}

setup();
