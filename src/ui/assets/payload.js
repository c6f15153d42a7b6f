// frametap UI: a frame's payload: its text, whether it is a typing indicator, its preview in the frame table, and the
// Frame tab (the payload as JSON, text or a hex dump, its annotation, a Copy button).
// Everything from the wire is shown as text (its bidirectional controls escaped: views.js), never parsed as HTML:
// frames are untrusted.
import { jsonTokens } from './json.js';
import { el, closeName, humanBytes, base64Bytes, hexDump, kvTable } from './views.js';

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
