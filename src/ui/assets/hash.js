// frametap UI: the address bar: what is shown written into it, and what it names (on a reload, the back button, an
// edited address) shown once the history has it.
import { state, banner } from './page.js';

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

/** The address as the page last followed or wrote it: one that differs was changed by the user (edited, or the back
 * button) and is followed at its `hashchange`, which HTML does not order against writeHash's timer. */
let known = null;

/** Puts what is shown in the address bar, at most a few times a second: browsers limit how often a page may
 * replace its address (Safari throws past 100 times in 30 s), and a key held down selects frame after frame. */
export function writeHash() {
  if (writeHash.timer) return;
  writeHash.timer = setTimeout(() => {
    writeHash.timer = null;
    if (state.wanted) return; // not until what the address asked for is shown, or known to be missing
    if (location.hash !== known) return; // the user's address, not followed yet: its `hashchange` is on its way
    const hash = hashOf();
    if (hash === location.hash) return;
    try { history.replaceState(null, '', location.pathname + location.search + hash); } catch { /* over the limit */ }
    known = location.hash;
  }, 300);
}

/** Goes where the address says: at once on a live page, else once the history has arrived (apply() shows the
 * connection as soon as its first record does). `page`: what app.js does to the page (see settleWanted). */
export function followHash(page) {
  known = location.hash;
  state.wanted = parseHash(location.hash);
  if (state.live) settleWanted(page);
}

/** Shows what the address asked for, now that the history has arrived (or the connection is here): the connection,
 * its frame scrolled into view, or its tab; says so when the session does not hold it. `page` is app.js's: it
 * selects a connection (`selectConn`) or a frame (`selectFrame`), and redraws (`redrawAll`). */
export function settleWanted(page) {
  const { redrawAll, selectConn, selectFrame } = page;
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
