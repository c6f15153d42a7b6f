// frametap UI: the Connection tab: the upgrade request, what was sent upstream, the response (a refused upgrade's body
// decompressed and decoded) and the connection's notes.
// Everything from the wire is shown as text (its bidirectional controls escaped: views.js), never parsed as HTML:
// frames are untrusted.
import { el, duration, base64Bytes, showText } from './views.js';

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
  readableBody(response).then(text => showText(pre, text),
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
