// frametap UI: what every part of the page shares: its state (the connections the records built, what is selected,
// the filters, where the stream is), the element lookup `$`, and the status line and banner it speaks through.
import { showText } from './views.js';

export const $ = (id) => document.getElementById(id);

export const state = {
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

/** The status line in the header: `live`, `syncing…`, `disconnected · retrying`, `file`, a refusal. */
export function setStatus(text, cls) { const s = $('status'); s.textContent = text; s.className = 'status ' + cls; }
/** The banner under the header; empty text hides it. */
export function banner(text) { showText($('banner-text'), text); $('banner').hidden = !text; }
