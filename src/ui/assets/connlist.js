// frametap UI: the connection list, updated in place: one entry per connection, keyed by its id, built once and then
// only changed where its text changed, so an entry under the mouse (a click is a press and a release on the same
// element) and keyboard focus survive records arriving.
import { el, duration, showText, bidiEscaped } from './views.js';
import { unclosed, closer, stillLoading, neverOpened } from './closecard.js';

function connState(c, missing, loading) {
  if (c.open?.error) return ['failed', 'bad'];
  if (c.open?.response && c.open.response.status !== 101) return [`refused ${c.open.response.status}`, 'bad'];
  if (c.close) return ['closed', c.close.clean === false ? 'warn' : 'muted'];
  if (!c.open) return ['?', 'muted'];
  // A saved file still being read: its close may be further on.
  if (loading) return ['loading…', 'muted'];
  // A saved file holds no close for it: it is not open now, how it ended is just not in the file.
  if (missing) return ['no close recorded', 'muted'];
  return ['open', 'live'];
}

/** What an entry shows, as plain values. */
function describe(c, session) {
  const missing = unclosed(c, session);
  const loading = stillLoading(session);
  const [label, cls] = connState(c, missing, loading);
  const path = c.open?.request?.path || '(opened before clear)';
  let upstream = c.open?.upstream || '';
  if (upstream.startsWith('sim:')) upstream = upstream.split('/')[0];
  else try { if (upstream) upstream = new URL(upstream).host || upstream; } catch { /* keep as is */ }
  // A refused or failed upgrade never opened: its duration is from the request to the failure (the handshake's
  // in a capture older than `failed_ms`), and it does not tick.
  const failed = neverOpened(c);
  // Only a live connection's duration ticks; one a saved file holds no close for lasted at least what the file shows.
  const since = !c.close && !failed && !missing && !loading && c.open ? c.open.ts : null;
  const dur = c.close ? duration(c.close.duration_ms) : failed ? duration(c.open.failed_ms ?? c.open.handshake_ms ?? 0)
    : missing ? (missing.ms != null ? `≥ ${duration(missing.ms)}` : '') : since ? duration(Date.now() - Date.parse(since)) : '';
  const closeInfo = c.close ? `${c.close.code != null ? c.close.code : c.close.clean === false ? 'drop' : 'no code'} by ${closer(c.close)}` : '';
  // A side that ended TCP without answering the close, when it is not the closer itself.
  const dropped = c.close?.dropped_by && (c.close.code != null || c.close.dropped_by !== closer(c.close)) ? `${c.close.dropped_by} dropped TCP` : '';
  // Red when the diagnosis found something to look at: protocol findings, or a cause other than the client closing
  // on its own.
  const flagged = c.diagnosis && ((c.diagnosis.causes || []).some(k => k.rule !== 'client-closed') || (c.diagnosis.findings || []).length);
  return {
    label, cls, path, upstream, dur, since, closeInfo, dropped,
    stateTitle: missing ? `The capture holds no close for this connection: ${missing.why}.`
      : loading && !c.close ? 'The file is still loading: how this connection ended may be further on in it.' : null,
    marker: c.diagnosis ? (flagged ? '⚑ diagnosis' : 'diagnosis') : '', flagged,
  };
}

/** A new entry: every part it may show, the optional ones empty and hidden until they have something to say. */
function newEntry(id, onSelect) {
  const parts = {
    id: el('span.conn-id', { text: `#${id}` }), state: el('span'), path: el('span.conn-path'),
    upstream: el('span'), dur: el('span'), closeInfo: el('span'), dropped: el('span'),
    marker: el('span', { title: 'a close diagnosis exists: see the Close tab' }),
  };
  // Selected as the mouse button goes down (as in the browser's own network panel): the press is what the user aimed
  // at, even if the list or the table moves before the release. Not on `pointerdown`: a finger that scrolls the list
  // would select what it touched. A click selects too (one with no press behind it: an assistive tool,
  // `element.click()`); `onSelect` ignores a connection already selected.
  const li = el('li.conn', { dataset: { conn: String(id) }, tabindex: '0',
    onmousedown: (e) => { if (e.button === 0) onSelect(id); },
    onclick: () => onSelect(id) },
  el('div.conn-line', null, parts.id, parts.state, parts.path),
  el('div.conn-line.muted', null, parts.upstream, parts.dur, parts.closeInfo, parts.dropped, parts.marker));
  return { li, parts };
}

// Text and titles as shown: a path or a close may hold bidirectional controls, shown escaped (views.js).
const setText = (node, text) => { if (node.textContent !== bidiEscaped(text)) showText(node, text); };
const setAttr = (node, name, value) => {
  if (value == null) node.removeAttribute(name);
  else if (node.getAttribute(name) !== bidiEscaped(value)) node.setAttribute(name, bidiEscaped(value));
};
/** An optional part: its class only while it shows something (so `.diag-marker` matches only a marker shown). */
const setOptional = (node, className, text) => {
  setText(node, text);
  node.hidden = !text;
  const cls = text ? className : '';
  if (node.className !== cls) node.className = cls;
};

/** Brings the list in line with the connections: entries added, removed and changed in place, none rebuilt. While
 * the page `syncing`s from history (after any hello: a start afresh, or a catch-up after it fell behind or
 * reconnected), entries of connections not read back yet stay. */
export function renderList(list, session, onSelect, syncing = false) {
  const entries = list.entries ?? (list.entries = new Map());
  const ids = [...session.conns.keys()].sort((a, b) => a - b);
  if (!syncing) for (const [id, entry] of entries) if (!session.conns.has(id)) { entry.li.remove(); entries.delete(id); }
  let previous = null;
  for (const id of ids) {
    let entry = entries.get(id);
    if (!entry) { entry = newEntry(id, onSelect); entries.set(id, entry); }
    // In order after the entry before it (entries kept while syncing may sit in between): left where it is.
    const placed = entry.li.parentNode === list
      && (!previous || previous.compareDocumentPosition(entry.li) & Node.DOCUMENT_POSITION_FOLLOWING);
    if (!placed) { if (previous) previous.after(entry.li); else list.prepend(entry.li); }
    previous = entry.li;
    const d = describe(session.conns.get(id), session);
    const p = entry.parts;
    entry.li.classList.toggle('selected', id === session.selected);
    setText(p.state, d.label);
    if (p.state.className !== 'state ' + d.cls) p.state.className = 'state ' + d.cls;
    setAttr(p.state, 'title', d.stateTitle);
    setText(p.path, d.path); setAttr(p.path, 'title', d.path);
    setText(p.upstream, d.upstream);
    // A ticking duration is refreshed every second by the page; it is set here only when it starts or stops ticking.
    if (d.since !== (p.dur.dataset.since ?? null)) {
      if (d.since) p.dur.dataset.since = d.since; else delete p.dur.dataset.since;
      setText(p.dur, d.dur);
    } else if (!d.since) setText(p.dur, d.dur);
    setOptional(p.closeInfo, 'close-info', d.closeInfo);
    setOptional(p.dropped, 'dropped warn-text', d.dropped);
    setOptional(p.marker, d.flagged ? 'diag-marker flagged' : 'diag-marker', d.marker);
  }
}
