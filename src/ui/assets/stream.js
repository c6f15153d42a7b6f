// frametap UI: the live stream (/api/stream): its messages read (exactly, when a number needs it) and their records
// handed to the page; a catch-up after the page fell behind or reconnected, and which frames it could not bring back;
// reconnecting; and, when frametap refuses the page, why, in words.
import { parseExact } from './json.js';
import { shellWord } from './views.js';
import { $, state, setStatus, banner } from './page.js';
import { settleWanted } from './hash.js';

// Records are written by serde_json: integers past 2^53 have 16 digits or more, and a float is written in its
// shortest form, which a double reads back, except -0.0. Only a message that may hold such a number (a JWT's
// 64-bit id among its claims) is read the slow, exact way (json.js); a frame's payload is a string either way.
const MAYBE_INEXACT = /\d{16}|-0\.0/;

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

let retryDelay = 500;

/** Opens the live stream, and opens it again when it closes, until frametap stops or refuses the page. `page` is
 * app.js's: it applies a record (`apply(index, kind, record)`), forgets every record (`reset`), schedules a redraw
 * (`markDirty`, `redrawAll`), and selects what the address bar names (hash.js's settleWanted). */
export function connect(page) {
  const { apply, reset, redrawAll, markDirty } = page;
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
      settleWanted(page);
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
    const retry = () => { setTimeout(() => connect(page), retryDelay); retryDelay = Math.min(retryDelay * 2, 5000); };
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
