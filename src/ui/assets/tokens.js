// frametap UI: the Tokens tab: each credential seen on a connection, its claims, flags and times, with live
// countdowns to its expiry.
// Everything from the wire is shown as text (its bidirectional controls escaped: views.js), never parsed as HTML:
// frames are untrusted.
import { el, relative, kvTable } from './views.js';

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
