// frametap UI: rendering helpers shared by the views: el() to build elements, text with its bidirectional controls
// escaped, and sizes, times, close codes, bytes, shell words and any value put in words. The detail tabs are payload.js
// (Frame), closecard.js (Close), tokens.js (Tokens) and connpanel.js (Connection).
// Everything from the wire is shown as text, never parsed as HTML: frames are untrusted.
import { ExactNumber } from './json.js';

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

// The bidirectional overrides, embeddings and isolates (U+202A–U+202E, U+2066–U+2069: the characters of "Trojan
// Source") reorder the text after them on screen: `attachment: \u202efdp.exe` reads `attachment: exe.pdf`, and in
// pretty JSON even the closing quote moves. Text from the wire shows each as an escape, `\u{202e}`, as the terminal
// log does (src/inspect/close.rs, `one_line`), in a `span.escaped` so it reads as frametap's, not the payload's. The
// marks (U+200E, U+200F, U+061C) are left as they are, as the log leaves them: they turn no run of letters around,
// and right-to-left text uses them.
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;
const BIDI_ALL = /[\u202a-\u202e\u2066-\u2069]/g;
const escapeOf = (c) => `\\u{${c.codePointAt(0).toString(16)}}`;

/** `text` with its bidirectional controls written `\u{202e}`: for plain text only (a hover title, a search). */
export function bidiEscaped(text) {
  return BIDI.test(text) ? text.replace(BIDI_ALL, escapeOf) : text;
}

/** `text` as nodes to show: itself, or its pieces between bidirectional controls and each control as a marked escape. */
function shown(text) {
  if (!BIDI.test(text)) return [text];
  const parts = [];
  let at = 0;
  for (const m of text.matchAll(BIDI_ALL)) {
    const escape = document.createElement('span');
    escape.className = 'escaped';
    escape.textContent = escapeOf(m[0]);
    parts.push(text.slice(at, m.index), escape);
    at = m.index + m[0].length;
  }
  parts.push(text.slice(at));
  return parts.filter(p => p !== '');
}

/** Sets a node's text (what `textContent =` does) with its bidirectional controls escaped. */
export function showText(node, text) {
  const s = String(text);
  if (BIDI.test(s)) node.replaceChildren(...shown(s)); else node.textContent = s;
}

/** el('div.a.b', {title: 'x', onclick: f}, child, 'text', …): text (`text`, string children, `title`) is shown with
 * its bidirectional controls escaped. */
export function el(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const node = document.createElement(tag || 'div');
  if (classes.length) node.className = classes.join(' ');
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k === 'text') showText(node, v);
      else if (k === 'title') node.title = bidiEscaped(String(v));
      else node.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    if (c instanceof Node) node.append(c); else node.append(...shown(String(c)));
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
