// frametap UI: how a connection ended: the Close tab's card (who closed, how, the frames before the close, the likely
// causes, the findings), and what a saved file says of a connection it holds no close for (the connection list too).
// Everything from the wire is shown as text (its bidirectional controls escaped: views.js), never parsed as HTML:
// frames are untrusted.
import { el, closeName, duration, valueView, kvTable } from './views.js';
import { frameLink } from './payload.js';

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
