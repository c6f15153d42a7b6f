// frametap UI: the frame filters: direction, opcode, noise (pings, pongs, typing indicators) and the search, which
// frames pass them, and their controls kept in step with them.
import { isTyping, frameText } from './payload.js';
import { $, state } from './page.js';
import { showText, bidiEscaped } from './views.js';

/** Reads the search box into `state.filters.matcher`; a bad regex is said under the box and matches every frame. */
export function compileSearch() {
  const f = state.filters;
  $('search-error').textContent = '';
  $('search').classList.remove('invalid');
  f.matcher = null;
  if (!f.search) return;
  if (f.regex) {
    try { const re = new RegExp(f.search, 'i'); f.matcher = (s) => re.test(s); }
    catch (e) { showText($('search-error'), 'bad regex: ' + e.message); $('search').classList.add('invalid'); f.matcher = () => true; }
  } else {
    const needle = f.search.toLowerCase();
    f.matcher = (s) => s.toLowerCase().includes(needle);
  }
}

/** Whether the filters let frame `f` of connection `c` into the table. */
export function visible(c, f) {
  const fl = state.filters;
  if (!fl.dirs.has(f.from)) return false;
  if (!fl.ops.has(f.opcode) && !(f.opcode.startsWith('reserved') && fl.ops.has('binary'))) return false;
  if (fl.hideNoise && (f.opcode === 'ping' || f.opcode === 'pong' || isTyping(f))) return false;
  if (fl.matcher) {
    const hay = `${frameText(f) ?? ''} ${f.reason ?? ''} ${f.code ?? ''} ${c.annotations.get(f.seq) ?? ''}`;
    // The payload as sent, or as the page shows it: a bidirectional control reads `\u{202e}` there (views.js).
    const shown = bidiEscaped(hay);
    if (!fl.matcher(hay) && (shown === hay || !fl.matcher(shown))) return false;
  }
  return true;
}

/** Sets the filter buttons on or off as the filters are. */
export function syncToggles() {
  const set = (b, on) => { b.classList.toggle('on', on); b.setAttribute('aria-pressed', String(on)); };
  for (const b of document.querySelectorAll('[data-dir]')) set(b, state.filters.dirs.has(b.dataset.dir));
  for (const b of document.querySelectorAll('[data-op]')) set(b, state.filters.ops.has(b.dataset.op));
  set($('hide-noise'), state.filters.hideNoise);
}

/** Lets every frame through again, the controls too; the caller redraws the table. */
export function clearFilters() {
  const f = state.filters;
  f.dirs = new Set(['client', 'server', 'proxy']);
  f.ops = new Set(['text', 'binary', 'close', 'ping', 'pong', 'continuation']);
  f.hideNoise = false; f.search = ''; $('search').value = '';
  compileSearch(); syncToggles();
}

export function toggleIn(set, key) { if (set.has(key)) set.delete(key); else set.add(key); }
