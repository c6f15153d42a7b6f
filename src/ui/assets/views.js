// frametap UI: rendering helpers and the detail views (frame, close card, tokens, connection).
// Everything from the wire is shown with textContent, never parsed as HTML: frames are untrusted.
import { jsonTokens, ExactNumber } from './json.js';

export const CLOSE_CODES = {
  1000: 'Normal Closure', 1001: 'Going Away', 1002: 'Protocol Error', 1003: 'Unsupported Data',
  1005: 'No Status Received', 1006: 'Abnormal Closure', 1007: 'Invalid Frame Payload Data',
  1008: 'Policy Violation', 1009: 'Message Too Big', 1010: 'Mandatory Extension',
  1011: 'Internal Error', 1012: 'Service Restart', 1013: 'Try Again Later', 1014: 'Bad Gateway',
  1015: 'TLS Handshake',
};

export function closeName(code) {
  if (code == null) return 'no code';
  const name = CLOSE_CODES[code] || (code >= 4000 ? 'application-defined' : code >= 3000 ? 'library-defined' : 'unknown');
  return `${code} ${name}`;
}

/** el('div.a.b', {title: 'x', onclick: f}, child, 'text', …) */
export function el(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const node = document.createElement(tag || 'div');
  if (classes.length) node.className = classes.join(' ');
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

export function humanBytes(n) {
  if (n == null) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function clock(ts) {
  const d = new Date(ts);
  if (isNaN(d)) return ts || '';
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function duration(ms) {
  if (ms == null || isNaN(ms)) return '';
  const s = Math.abs(ms) / 1000;
  if (Math.abs(ms) < 10) return `${Math.abs(ms).toFixed(1)} ms`;
  if (s < 1) return `${Math.round(Math.abs(ms))} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  if (h) return `${h}h ${m % 60}m`;
  return `${m}m ${Math.floor(s % 60)}s`;
}

/** `text` as one shell word (POSIX sh): as it is when no character in it is special to a shell, else in single
 * quotes, each `'` in it written `'\''`. */
export function shellWord(text) {
  return /^[\w@%+:,.\/-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

export function relative(seconds) {
  const abs = Math.abs(seconds);
  const parts = [];
  const d = Math.floor(abs / 86400), h = Math.floor(abs % 86400 / 3600), m = Math.floor(abs % 3600 / 60), s = Math.floor(abs % 60);
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m && !d) parts.push(`${m}m`);
  if (!d && !h) parts.push(`${s}s`);
  return parts.join(' ');
}

export function base64Bytes(b64) {
  try {
    const raw = atob(b64 || '');
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  } catch { return new Uint8Array(); }
}

export function hexDump(bytes, limit = 64 * 1024) {
  const lines = [];
  const n = Math.min(bytes.length, limit);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    const hex = Array.from(row, b => b.toString(16).padStart(2, '0')).join(' ');
    const text = Array.from(row, b => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  if (bytes.length > n) lines.push(`… ${bytes.length - n} more bytes`);
  return lines.join('\n');
}

/** The frame's payload as text, if it has text; parsed JSON is cached on the record. */
export function frameText(f) {
  return typeof f.text === 'string' ? f.text : null;
}

/** Payloads larger than this are shown as plain (truncated) text: building a DOM for them would freeze the page. */
export const RICH_LIMIT = 256 * 1024;

/** The payload parsed, for its structure (typing events); numbers may be rounded: jsonView shows the text itself. */
export function frameJson(f) {
  if (f._json === undefined) {
    f._json = null;
    const t = frameText(f);
    if (t && t.length <= RICH_LIMIT && /^\s*[[{]/.test(t)) { try { f._json = JSON.parse(t); } catch { /* not JSON */ } }
  }
  return f._json;
}

/** Genesys typing indicators: onMessage/StructuredMessage events that are all Typing. */
export function isTyping(f) {
  const j = frameJson(f);
  if (!j || typeof j !== 'object') return false;
  const events = (j.message && j.message.events) || (j.body && j.body.events);
  return Array.isArray(events) && events.length > 0 && events.every(e => e && e.eventType === 'Typing');
}

/**
 * A text fragment that is not whole UTF-8 on its own, read as the terminal log reads it: a character split across
 * fragments shows as U+FFFD at the edge it was split at (a continuation's first bytes, the last ones of a fragment
 * with more to come). Null when bytes inside are not UTF-8, or the frame carries no text. Reads the first 2,400 bytes.
 */
function fragmentText(f) {
  const texty = (f.opcode === 'text' && f.fin === false) || (f.opcode === 'continuation' && f.text_message);
  if (!texty || !f.base64) return null;
  const bytes = base64Bytes(f.base64.slice(0, 3200));
  const mayEndInside = f.fin === false || f.base64.length > 3200 || bytes.length < f.len;
  let start = 0;
  if (f.opcode === 'continuation') while (start < 3 && (bytes[start] & 0xc0) === 0x80) start++;
  const strict = new TextDecoder('utf-8', { fatal: true });
  for (let end = bytes.length; end >= Math.max(start, bytes.length - (mayEndInside ? 3 : 0)); end--) {
    try {
      return (start ? '\uFFFD' : '') + strict.decode(bytes.subarray(start, end)) + (end < bytes.length ? '\uFFFD' : '');
    } catch { /* one byte fewer at the end */ }
  }
  return null;
}

export function preview(f) {
  if (f.opcode === 'close') return f.code != null ? `${closeName(f.code)}${f.reason ? ' · ' + f.reason : ''}` : 'close (no code)';
  const t = frameText(f) ?? fragmentText(f);
  if (t != null) {
    // The text as sent (never re-serialised: that would round big numbers and drop duplicate keys), with each
    // control character and the whitespace after it folded to one space.
    const s = t.slice(0, 2400).replace(/[\u0000-\u001f\u007f]\s*/g, ' ');
    return s.length > 300 || t.length > 2400 ? s.slice(0, 300) + '…' : s;
  }
  if (f.base64) return hexDump(base64Bytes(f.base64.slice(0, 32))).replace(/^\S+\s+/, '').split('  ')[0];
  return '';
}

/**
 * A JSON text pretty-printed and highlighted, as DOM nodes: its own tokens re-indented, so every number, string and
 * key reads exactly as it was sent (JSON.parse would round 12345678901234567890, turn -0 into 0 and 1e400 into
 * Infinity, drop the first of two equal keys and move integer-like keys first). The text must be JSON.
 */
export function jsonView(text) {
  const pre = el('pre.json');
  const tokens = jsonTokens(text);
  let depth = 0;
  const newline = () => '\n' + '  '.repeat(depth);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const next = tokens[i + 1];
    if (t === '{' || t === '[') {
      if (next === '}' || next === ']') { pre.append(t + next); i++; } else { depth++; pre.append(t + newline()); }
    } else if (t === '}' || t === ']') { depth--; pre.append(newline() + t); }
    else if (t === ',') pre.append(',' + newline());
    else if (t === ':') pre.append(': ');
    else if (t[0] === '"') pre.append(el(next === ':' ? 'span.j-key' : 'span.j-str', { text: t }));
    else if (t === 'null') pre.append(el('span.j-null', { text: t }));
    else if (t === 'true' || t === 'false') pre.append(el('span.j-bool', { text: t }));
    else pre.append(el('span.j-num', { text: t }));
  }
  return pre;
}

/** A value with nothing inside to list: a string, number, boolean, null, or a number kept as written. */
const isScalar = (v) => typeof v !== 'object' || v === null || v instanceof ExactNumber;

/** Any value as something readable: strings as text, the rest as compact JSON or a key/value table. */
export function valueView(v) {
  if (v == null) return el('span.muted', { text: '—' });
  if (typeof v === 'string') return el('span', { text: v });
  if (isScalar(v)) return el('code', { text: String(v) });
  if (Array.isArray(v)) {
    if (v.every(isScalar)) return el('span', { text: v.join(', ') });
    return el('ul.plain', null, v.map(x => el('li', null, valueView(x))));
  }
  return kvTable(v);
}

export function kvTable(obj, skip = []) {
  const rows = Object.entries(obj || {}).filter(([k]) => !skip.includes(k) && !k.startsWith('_'));
  return el('table.kv', null, rows.map(([k, v]) => el('tr', null, el('th', { text: k }), el('td', null, valueView(v)))));
}

function copyButton(getText) {
  return el('button.copy', {
    type: 'button', title: 'Copy to the clipboard',
    onclick: async (ev) => {
      const text = getText();
      try { await navigator.clipboard.writeText(text); ev.target.textContent = 'Copied'; }
      catch { ev.target.textContent = 'Copy failed'; }
      setTimeout(() => { ev.target.textContent = 'Copy'; }, 1500);
    },
  }, 'Copy');
}

export function frameLink(seq, selectFrame, label) {
  return el('a.frame-link', { href: `#frame-${seq}`, dataset: { seq: String(seq) }, onclick: (e) => { e.preventDefault(); selectFrame(seq); } }, label || `frame #${seq}`);
}

export function frameDetail(conn, f) {
  if (!f) return el('p.muted.empty', { text: conn ? 'Select a frame to see its payload.' : 'Select a connection.' });
  const head = el('div.detail-head', null,
    el('h3', { text: `Frame #${f.seq}` }),
    el('span.chip', { text: `${f.from} → ${f.to}` }), el('span.chip', { text: f.opcode }),
    f.fin === false ? el('span.chip.warn', { text: 'fragment (fin=0)' }) : null,
    f.relayed === false ? el('span.chip.warn', { text: 'not relayed' }) : null,
    f.invalid_utf8 ? el('span.chip.bad', { text: 'invalid UTF-8' }) : null,
    el('span.muted', { text: `${humanBytes(f.len)} · ${f.ts}` }));
  const ann = conn.annotations.get(f.seq);
  const annRecord = conn.annotationRecords?.get(f.seq);
  const annDetails = annRecord ? Object.fromEntries(Object.entries(annRecord).filter(([k]) => !['kind', 'conn', 'ts', 'seq', 'text'].includes(k))) : null;
  const body = el('div.payload');
  let raw = '';
  if (f.opcode === 'close') {
    raw = JSON.stringify({ code: f.code, reason: f.reason });
    body.append(kvTable({ code: f.code != null ? closeName(f.code) : 'none', reason: f.reason ?? '' }));
  } else if (frameText(f) != null) {
    raw = frameText(f);
    const j = frameJson(f);
    if (j) body.append(jsonView(raw));
    else if (raw.length > RICH_LIMIT) body.append(el('p.muted', { text: `Showing the first ${humanBytes(RICH_LIMIT)} of ${humanBytes(raw.length)}; Copy takes all of it.` }), el('pre.text', { text: raw.slice(0, RICH_LIMIT) }));
    else body.append(el('pre.text', { text: raw }));
  } else if (f.base64) {
    const bytes = base64Bytes(f.base64);
    raw = hexDump(bytes);
    body.append(el('h4', { text: 'hex' }), el('pre.hex', { text: raw }),
      el('h4', { text: 'as text' }), el('pre.text', { text: new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, RICH_LIMIT)) }));
  } else body.append(el('p.muted', { text: 'empty payload' }));
  return el('div', null, head, ann ? el('p.annotation', { text: ann }) : null,
    annDetails && Object.keys(annDetails).length ? el('details.annotation-details', null, el('summary', { text: `${annRecord.profile || 'profile'} annotation` }), kvTable(annDetails)) : null,
    el('div.payload-actions', null, copyButton(() => raw)), body);
}

const CONFIDENCE_CLASS = { certain: 'bad', high: 'bad', likely: 'warn', medium: 'warn', possible: 'info', low: 'info' };

/**
 * Who closed first, by the close record: `unknown` when the record does not know (`initiator_unknown`, say a HAR
 * import without close frames), whatever its placeholder `initiator` says.
 */
export function closer(c) {
  return c.initiator_unknown ? 'unknown' : c.initiator;
}

/** How the connection ended, in words: the diagnosis's `how`, else derived from the close record. */
function howItEnded(dd, c) {
  if ((dd.clean ?? c.clean) !== false) return 'clean close handshake';
  if (dd.how) return dd.how;
  const clean = dd.clean ?? c.clean, dropper = dd.dropped_by ?? c.dropped_by, initiator = dd.initiator ?? closer(c);
  if (clean !== false) return 'clean close handshake';
  if (dropper && dropper === initiator) return 'dropped TCP (no close handshake)';
  if (dropper) return `closed, then the ${dropper} dropped TCP without answering the close`;
  return 'the close handshake never completed';
}

function evidenceView(evidence) {
  if (Array.isArray(evidence) && evidence.every(x => typeof x === 'string')) return el('ul.plain.evidence-list', null, evidence.map(line => el('li', { text: line })));
  return valueView(evidence);
}

// What measured the round trip the timing causes used (the diagnosis's `upstream_rtt_source`).
const RTT_SOURCE = { kernel: "the kernel's TCP measure", handshake: 'the handshake', ping: "a Ping's Pong", response: 'a paired response' };

// The close card's round trip: its value, what measured it, and the handshake's when that is not the source. The
// kernel's measure on loopback is a few microseconds: shown to the microsecond, not as 0.0 ms.
function roundTrip(dd) {
  const ms = dd.upstream_rtt_ms;
  const value = ms < 0.1 ? `${ms.toFixed(3)} ms` : duration(ms);
  const source = RTT_SOURCE[dd.upstream_rtt_source];
  const handshake = dd.handshake_ms != null && dd.upstream_rtt_source !== 'handshake' ? `handshake ${duration(dd.handshake_ms)}` : null;
  const more = [source && `from ${source}`, handshake].filter(Boolean).join('; ');
  return more ? `${value} (${more})` : value;
}

function row2(label, value) {
  return el('tr', null, el('th', { text: label }), el('td', null, value));
}

/**
 * True while a saved file (`frametap ui FILE`) is still being read into the page: a connection's close may be further
 * on in it, so none is said to have no close yet.
 */
export function stillLoading(session) {
  return session.source === 'file' && !session.loaded;
}

/** A refused or failed upgrade: the WebSocket never opened. */
export function neverOpened(conn) {
  return Boolean(conn.open?.error || (conn.open?.response && conn.open.response.status !== 101));
}

/**
 * A connection a saved file (`frametap ui FILE`) holds no close for: why, and how long it is known to have lasted
 * (from its open to the capture's end when the capture ended while it was open, else to its own last record). Null
 * in a live session (it is open), while the file is still loading, for a connection with a close, and for an
 * upgrade that never opened.
 */
export function unclosed(conn, session) {
  if (session.source !== 'file' || stillLoading(session) || conn.close || !conn.open || neverOpened(conn)) return null;
  const imported = session.meta?.mode === 'import';
  const end = session.end;
  // A frametap capture with its end record: the writer would have written the close before the end.
  const untilEnd = end && !imported && end.ts > (conn.lastTs || '');
  const until = untilEnd ? end.ts : conn.lastTs || conn.open.ts;
  const ms = Date.parse(until) - Date.parse(conn.open.ts);
  const why = imported
    ? 'the HAR it was imported from records no close for it (Chrome\'s HAR export records none), so how it ended is unknown'
    : end ? 'it was still open when the capture ended'
      : 'the capture has no end record (frametap was stopped abruptly, or the file is still being written), so how this connection ended is unknown';
  return { why, until, untilEnd, ms: isNaN(ms) ? null : Math.max(0, ms) };
}

export function closeCard(conn, selectFrame, session = {}) {
  const c = conn.close || {}, d = conn.diagnosis;
  const missing = !d ? unclosed(conn, session) : null;
  if (missing) {
    return el('div.close-card', { id: 'close-card' },
      el('h3', null, 'No close recorded'),
      el('p.summary', { text: `The capture holds no close for this connection: ${missing.why}.` }),
      el('table.kv', null,
        row2('opened', el('span', { text: conn.open.ts })),
        row2(missing.untilEnd ? 'capture ended' : 'last record', el('span', { text: missing.until })),
        row2('duration', el('span', { text: missing.ms != null ? `at least ${duration(missing.ms)}` : 'unknown' }))));
  }
  if (!conn.close && !d && conn.open && stillLoading(session)) {
    return el('p.muted.empty', { text: 'Loading the file… how this connection ended may be further on in it.' });
  }
  if (!conn.close && !d) return el('p.muted.empty', { text: conn.open ? 'This connection is still open.' : 'Select a connection.' });
  const dd = d || {};
  const unopened = dd.opened === false;
  const code = dd.code ?? c.code;
  const initiator = dd.initiator ?? closer(c);
  const clean = dd.clean ?? c.clean;
  // The diagnosis's code_meaning starts with the code itself ("1000 Normal Closure: …"); the title has it already.
  const meaning = (dd.code_meaning && code != null ? dd.code_meaning.replace(new RegExp(`^${code} `), '') : dd.code_meaning) || (code != null ? closeName(code).replace(/^\d+ /, '') : clean === false ? 'no close frame (TCP dropped)' : 'no status code');
  const reason = dd.reason ?? c.reason;
  const dropper = dd.dropped_by ?? c.dropped_by;
  const detail = dd.detail ?? c.detail;
  const title = unopened ? `WebSocket never opened${dd.status != null ? ` (HTTP ${dd.status})` : ''}` : code != null ? `Close ${code}` : clean === false ? 'Connection dropped' : 'Closed';
  const card = el('div.close-card', { id: 'close-card' },
    el('h3', null, title, ' ', el('span.meaning', { text: unopened ? '' : meaning })),
    dd.summary ? el('p.summary', { text: dd.summary }) : null,
    el('table.kv', null,
      row2(unopened ? 'refused by' : 'closed by', el('span.who', { text: initiator || '?' })),
      unopened ? null : row2('reason', reason ? el('span', { text: reason }) : el('span.muted', { text: 'none given' })),
      unopened ? null : row2('how', el('span.how' + (clean === false ? '.warn-text' : ''), { text: howItEnded(dd, c) })),
      dropper ? row2('dropped TCP', el('span', { text: dropper })) : null,
      detail ? row2('detail', el('span', { text: detail })) : null,
      row2('duration', el('span', { text: duration(dd.duration_ms ?? c.duration_ms) })),
      dd.upstream_rtt_ms != null ? row2('round trip', el('span', { text: roundTrip(dd) })) : null,
      dd.profile ? row2('profile', el('span', { text: dd.profile })) : null));
  const sideFrame = (title, p, flagged) => p && el('div.preceding' + (flagged ? '.flagged' : ''), null,
    el('h4', null, flagged ? '⚑ ' : '', title),
    el('p', null, p.seq != null ? frameLink(p.seq, selectFrame, `#${p.seq}`) : null, ' ',
      el('span.chip', { text: `${p.from || '?'}${p.opcode ? ' · ' + p.opcode : ''}` }),
      p.gap_ms != null ? el('span.muted', { text: ` ${duration(p.gap_ms)} before the close` }) : null),
    p.preview ? el('pre.text.small', { text: p.preview }) : null,
    kvTable(p, ['seq', 'from', 'opcode', 'preview', 'gap_ms']));
  if (d) {
    if (!unopened) {
      card.append(sideFrame('Preceding frame', dd.preceding, true) || el('p.muted', { text: 'No data frame preceded the close.' }));
      card.append(sideFrame('Last frame from the other side', dd.other_side_last, false) || '');
    }
    const causes = Array.isArray(dd.causes) ? dd.causes : [];
    card.append(el('h4', { text: 'Likely causes' }), causes.length ? el('ol.causes', null, causes.map(cause => el('li.cause', { dataset: { rule: cause.rule || '' } },
      el('span.chip.' + (CONFIDENCE_CLASS[cause.confidence] || 'info'), { text: cause.confidence || '?' }), ' ',
      el('strong', { text: cause.message || cause.rule || '' }),
      cause.rule ? el('span.muted.rule', { text: ` (${cause.rule})` }) : null,
      cause.seq != null ? el('span', null, ' · ', frameLink(cause.seq, selectFrame)) : null,
      cause.evidence != null && !(Array.isArray(cause.evidence) && !cause.evidence.length) ? el('div.evidence', null, el('span.muted', { text: 'evidence: ' }), evidenceView(cause.evidence)) : null))) : el('p.muted', { text: 'No cause identified.' }));
    const ruledOut = Array.isArray(dd.ruled_out) ? dd.ruled_out : [];
    if (ruledOut.length) card.append(el('h4', { text: 'Ruled out' }), el('ul.ruled-out', null, ruledOut.map(r => el('li', null,
      el('span', { text: typeof r === 'string' ? r : r.message || r.rule || '' }),
      r && r.rule ? el('span.muted.rule', { text: ` (${r.rule})` }) : null))));
    const findings = Array.isArray(dd.findings) ? dd.findings : [];
    if (findings.length) card.append(el('h4', { text: 'Protocol findings' }), el('ul.findings', null, findings.map(f => el('li', null,
      el('span.chip.' + (f.severity === 'error' ? 'bad' : f.severity === 'warn' || f.severity === 'warning' ? 'warn' : 'info'), { text: f.severity || 'note' }), ' ',
      f.seq != null ? frameLink(f.seq, selectFrame, `#${f.seq}`) : null, ' ', el('span', { text: f.message || '' }),
      f.rule ? el('span.muted.rule', { text: ` (${f.rule})` }) : null))));
    if (dd.findings_omitted) card.append(el('p.muted', { text: `${dd.findings_omitted} more findings were left out of the diagnosis.` }));
    const known = ['kind', 'conn', 'ts', 'initiator', 'code', 'code_name', 'code_meaning', 'reason', 'clean', 'how', 'dropped_by', 'detail',
      'duration_ms', 'handshake_ms', 'upstream_rtt_ms', 'upstream_rtt_source', 'close_seq', 'profile', 'opened', 'status', 'summary', 'preceding', 'other_side_last',
      'causes', 'ruled_out', 'findings', 'findings_omitted'];
    if (Object.keys(dd).some(k => !known.includes(k) && !k.startsWith('_'))) card.append(el('h4', { text: 'More' }), kvTable(dd, known));
  } else card.append(el('p.muted', { text: 'No diagnosis for this connection yet.' }));
  return card;
}

/** The furthest a JavaScript Date reaches from 1970, either way, in milliseconds. */
const MAX_DATE_MS = 8.64e15;

/** A time claim as epoch milliseconds that a Date can hold; null when it is missing, not a number, or beyond a
 * Date's range (a JWT may say `"exp": 1e300`: a number, but no date, and `toISOString` would throw). */
function epochOf(token, field) {
  const time = token.times && token.times[field];
  const claim = token.claims && token.claims[field];
  const ms = time && typeof time.epoch === 'number' ? time.epoch * 1000
    : typeof claim === 'number' ? claim * 1000
      : Date.parse(token[field]);
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? ms : null;
}

/** Text for a countdown element; refreshed every second by the page. */
export function countdownText(field, epochMs, now = Date.now()) {
  const secs = (epochMs - now) / 1000;
  if (field === 'exp') return secs > 0 ? `expires in ${relative(secs)}` : `expired ${relative(secs)} ago`;
  if (field === 'nbf') return secs > 0 ? `valid in ${relative(secs)}` : `valid since ${relative(secs)}`;
  return secs > 0 ? `in ${relative(secs)}` : `${relative(secs)} ago`;
}

export function tokensPanel(conn) {
  if (!conn) return el('p.muted.empty', { text: 'Select a connection.' });
  if (!conn.tokens.length) return el('p.muted.empty', { text: 'No credentials seen on this connection.' });
  return el('div.tokens', null, conn.tokens.map(t => {
    const flags = Array.isArray(t.flags) ? t.flags : [];
    const times = ['exp', 'iat', 'nbf'].map(field => {
      const at = epochOf(t, field);
      // A time no Date holds is shown as frametap reported it ("out of range", and which way), without a countdown.
      const reported = t.times && t.times[field];
      if (at == null) return reported ? el('tr', null, el('th', { text: field }), el('td', { text: `${reported.utc} · ${reported.relative}` })) : null;
      const live = el('span.countdown', { dataset: { epoch: String(at), field }, text: countdownText(field, at) });
      return el('tr', null, el('th', { text: field }), el('td', null, el('span', { text: new Date(at).toISOString().replace('.000Z', 'Z') }), ' · ', live));
    });
    // The token's own kind (jwt, opaque, malformed), wherever the record put it.
    const tokenKind = t.token_kind ?? t.type ?? (t.kind !== 'token' ? t.kind : null);
    return el('div.token', null,
      el('h4', null, el('span', { text: t.source || 'credential' }), ' ',
        tokenKind ? el('span.chip', { text: tokenKind }) : null,
        t.verified === false ? el('span.chip.info', { text: 'unverified' }) : null,
        t.rest_only ? el('span.chip.info', { text: 'REST only' }) : null,
        t.placeholder || t.signature_redacted ? el('span.chip.info', { text: 'redacted' }) : null,
        flags.map(fl => el('span.chip.' + (/expired|malformed|missing/.test(String(fl)) ? 'bad' : 'warn'), { text: typeof fl === 'string' ? fl : JSON.stringify(fl) })),
        t.seq != null ? el('span.muted', { text: ` in frame #${t.seq}` }) : null),
      el('table.kv', null, times),
      t.note ? el('p.token-note', { text: t.note }) : null,
      t.reason ? el('p.error-text', { text: `cannot be read: ${t.reason}` }) : null,
      t.claims ? el('div', null, el('h5', { text: 'claims' }), kvTable(t.claims)) : null,
      kvTable(t, ['kind', 'token_kind', 'type', 'conn', 'ts', 'seq', 'source', 'claims', 'flags', 'verified', 'exp', 'iat', 'nbf', 'times', 'note', 'reason']));
  }));
}

// The most decompressed bytes shown of a refused upgrade's body: an error page, not a download (as the log).
const MAX_SHOWN_BODY = 1024 * 1024;

// A refused upgrade's body as a person reads it. A body that is not UTF-8 is kept as `body_base64`: often a
// gateway's error page, gzipped because the browser's upgrade said `Accept-Encoding: gzip, …`. gzip and deflate
// are decompressed here, other bytes read with � for what is not UTF-8, and an encoding the browser cannot undo
// is named: what the terminal log and the diagnosis show (src/event/body.rs).
function responseBody(response) {
  if (response.body) return el('pre.text', { text: response.body });
  if (!response.body_base64) return null;
  const pre = el('pre.text.response-body', { text: 'decoding…' });
  readableBody(response).then(text => { pre.textContent = text; },
    e => { pre.textContent = `the body could not be read: ${e.message}; the open record keeps it (response.body_base64)`; });
  return pre;
}

async function readableBody(response) {
  const bytes = base64Bytes(response.body_base64);
  const header = (response.headers || []).find(([k]) => k.toLowerCase() === 'content-encoding');
  const encoding = header ? header[1].trim().toLowerCase() : '';
  const formats = { '': [], identity: [], gzip: ['gzip'], 'x-gzip': ['gzip'], deflate: ['deflate', 'deflate-raw'] }[encoding];
  let plain = formats && !formats.length ? bytes : null;
  for (const format of formats || []) {
    plain = plain || await decompressed(bytes, format);
  }
  if (!plain) return `<${bytes.length} bytes with Content-Encoding ${encoding} that frametap cannot decode; the open record keeps them (response.body_base64)>`;
  return new TextDecoder('utf-8', { fatal: false }).decode(plain);
}

// What `format` decompresses of `bytes` before its end, an error or MAX_SHOWN_BODY (a body cut short still shows
// its start); null when nothing.
async function decompressed(bytes, format) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format)).getReader();
  const chunks = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
      if (length >= MAX_SHOWN_BODY) break;
    }
  } catch (e) { /* a truncated or corrupt stream: what came before it */ }
  reader.cancel().catch(() => {});
  if (!length) return null;
  const out = new Uint8Array(Math.min(length, MAX_SHOWN_BODY));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, out.length - at);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function headersTable(headers) {
  return el('table.kv.headers', null, (headers || []).map(([k, v]) => el('tr', null, el('th', { text: k }), el('td', { text: v }))));
}

export function connectionPanel(conn) {
  if (!conn) return el('p.muted.empty', { text: 'Select a connection.' });
  const o = conn.open || {};
  const parts = [el('h3', { text: `Connection ${conn.id}` })];
  if (o.request) parts.push(el('h4', { text: `${o.request.method} ${o.request.path}` }), headersTable(o.request.headers));
  if (o.upstream) parts.push(el('p', null, el('span.muted', { text: 'upstream: ' }), el('code', { text: o.upstream }),
    o.handshake_ms != null ? el('span.muted', { text: ` · handshake ${duration(o.handshake_ms)}` }) : null));
  const sent = o.upstream_request;
  if (sent) parts.push(el('h4', { text: `Sent upstream: ${sent.method} ${sent.path}` }), headersTable(sent.headers));
  if (o.error) parts.push(el('p.error-text', { text: o.error }));
  if (o.response) parts.push(el('h4', { text: `Response ${o.response.status}` }), headersTable(o.response.headers),
    responseBody(o.response));
  if (conn.notes.length) parts.push(el('h4', { text: 'Notes' }), el('ul.findings', null, conn.notes.map(n => el('li', null,
    el('span.chip.' + (n.level === 'error' ? 'bad' : n.level === 'warn' ? 'warn' : 'info'), { text: n.code || n.level }), ' ', el('span', { text: n.message || '' })))));
  if (!conn.open) parts.push(el('p.muted', { text: 'The handshake is not in the history (cleared or trimmed).' }));
  return el('div', null, parts);
}
