// frametap UI: the frame table, drawn virtually: only the rows in view, and a margin, are in the page; two spacers
// stand for the rest, so a connection of any length costs the browser a few hundred rows of layout, and every frame
// stays reachable by scrolling. Rows are keyed by seq and kept while they stay in the window: a row under the mouse
// survives frames arriving, and a redraw (filters, a diagnosis) fills the rows it keeps in place.
//
// Chromium lays out no element taller than 2^31 layout units of 1/64 px (about 33.5 M device pixels): spacers as tall
// as the rows they stand for would stop there, about 1.5 M frames down; and it places what it paints with 32-bit
// floats, in steps of 2 px past 2^24 px (16.8 M). So the scrolled height is capped below that (`cap`, 16 M device
// pixels, about 700,000 frames at the usual 23 px a row) and, past it, the scroll position is scaled: the first and the last screenful scroll one to one, and in between a
// pixel of scrollbar stands for `(rows' height) / (capped height)` pixels of rows (`virtualTop`). The rows drawn are
// always whole and in order, each at its exact place from the top of the view, so every frame is reachable by
// scrolling, and selecting a frame, Home / End and following new frames scroll to it exactly.
import { el, clock, humanBytes, showText, bidiEscaped } from './views.js';
import { preview } from './payload.js';

/** Rows drawn above and below the ones in view: scrolling a little draws nothing new. */
const OVERSCAN = 40;
/** The tallest the table gets, in device pixels: under 2^24, where Chromium's 32-bit float positions are exact to a
 * pixel (its tallest element is 2^31 / 64 px, about 33.5 M). */
const MAX_HEIGHT = 16_000_000;

// Rows are clones of this one, filled in: much cheaper than building eight cells one by one.
const ROW = el('tr', null, ...['flag', 'seq', 'time', 'dir', 'op', 'size', 'preview', 'ann'].map(k => el('td.c-' + k)));

/** Fills a row (new, or kept from an earlier draw) with a frame. */
function fill(tr, c, f, flags, selectedSeq) {
  const flag = flags.get(f.seq);
  const dir = f.from === 'client' ? 'client → server' : f.from === 'server' ? 'server → client' : `proxy → ${f.to}`;
  tr.className = (flag ? flag[2] : '') + (f.seq === selectedSeq ? ' selected' : '');
  tr.id = `frame-${f.seq}`;
  tr.dataset.seq = String(f.seq); tr.dataset.from = f.from; tr.dataset.opcode = f.opcode;
  const [cFlag, cSeq, cTime, cDir, cOp, cSize, cPreview, cAnn] = tr.cells;
  // The preview, the annotation and a flag's message may quote the payload: shown with its bidirectional controls
  // escaped (views.js), as everything from the wire is.
  cFlag.title = flag ? bidiEscaped(flag[1]) : ''; cFlag.textContent = flag ? flag[0] : '';
  cSeq.textContent = String(f.seq);
  cTime.textContent = clock(f.ts); cTime.title = f.ts;
  cDir.className = 'c-dir ' + f.from; cDir.textContent = dir;
  cOp.textContent = f.opcode + (f.fin === false ? ' …' : '');
  cSize.textContent = humanBytes(f.len);
  showText(cPreview, preview(f));
  showText(cAnn, c.annotations.get(f.seq) ?? '');
}

export class FrameTable {
  /** `scroller` scrolls the table (its `head` stays on top); `body` holds the drawn rows, between the `above` and
   * `below` spacer cells. */
  constructor(scroller, head, body, above, below) {
    Object.assign(this, { scroller, head, body, above, below });
    this.rowHeight = 22;     // measured from drawn rows at each draw
    this.conn = null;
    this.frames = [];        // the connection's frames that pass the filters, in order
    this.position = new Map(); // seq → index in frames
    this.flags = new Map();
    this.selectedSeq = null;
    this.rows = new Map();   // seq → drawn row
    this.drawn = [0, 0];     // the window drawn: frames[from, to)
    scroller.addEventListener('wheel', (e) => { if (this.wheel(e)) e.preventDefault(); }, { passive: false });
  }

  /** The tallest the spacers and rows may be together, in CSS pixels at this zoom. */
  cap() { return Math.floor(MAX_HEIGHT / Math.max(1, devicePixelRatio)); }

  /** The geometry of a scroll: `rows` is the rows' height in full, `height` what the table gives them (capped),
   * `real` and `virtual` the largest scrollTop in the table and in rows at full height, `margin` the first and last
   * stretch of scrollTop that scroll one to one. */
  geometry() {
    const s = this.scroller, head = this.rowsTop(), rows = this.frames.length * this.rowHeight;
    const margin = head + s.clientHeight + (OVERSCAN + 2) * this.rowHeight, cap = this.cap();
    const scaled = rows > cap && head + cap - s.clientHeight > 2 * margin, height = scaled ? cap : rows;
    const real = head + height - s.clientHeight, virtual = head + rows - s.clientHeight;
    return { head, rows, height, real, virtual, margin, scaled };
  }

  /** The scrollTop the rows would have at full height, for the table's `scrollTop` (the same below the cap). A
   * scrollTop set by `reveal` stands for the exact place it was set for (a scrollTop is rounded to a pixel, which
   * scaled is several pixels of rows). */
  virtualTop(scrollTop, g = this.geometry()) {
    if (!g.scaled || scrollTop <= g.margin) return scrollTop;
    if (this.pinned?.scrollTop === scrollTop && this.pinned.length === this.frames.length) return this.pinned.top;
    if (scrollTop >= g.real - g.margin) return scrollTop + g.virtual - g.real;
    return g.margin + (scrollTop - g.margin) * (g.virtual - 2 * g.margin) / (g.real - 2 * g.margin);
  }

  /** The table's scrollTop that shows the rows as at full height they would be at `top`: virtualTop's inverse. */
  scrollTopFor(top, g = this.geometry()) {
    if (!g.scaled || top <= g.margin) return top;
    if (top >= g.virtual - g.margin) return top - g.virtual + g.real;
    return g.margin + (top - g.margin) * (g.real - 2 * g.margin) / (g.virtual - 2 * g.margin);
  }

  get length() { return this.frames.length; }
  frameAt(i) { return this.frames[i]; }
  indexOf(seq) { return this.position.get(seq); }
  rowFor(seq) { return this.rows.get(seq) ?? null; }

  /** A new list of frames (another connection, other filters, new flags): the kept rows are filled again. */
  reset(conn, frames, flags, selectedSeq) {
    Object.assign(this, { conn, frames, flags, selectedSeq });
    this.position = new Map(frames.map((f, i) => [f.seq, i]));
    this.drawn = [0, 0];
    this.draw(true);
  }

  /** Frames that arrived and pass the filters, after the ones the table has. */
  append(frames) {
    for (const f of frames) { this.position.set(f.seq, this.frames.length); this.frames.push(f); }
  }

  /** Moves the selection mark to the row of `seq` (drawn now or when it comes into view). */
  select(seq) {
    this.rows.get(this.selectedSeq)?.classList.remove('selected');
    this.selectedSeq = seq;
    this.rows.get(seq)?.classList.add('selected');
  }

  /** The offset of the first row from the top of the scrolled content (the header's height). */
  rowsTop() {
    return this.head.getBoundingClientRect().bottom - this.scroller.getBoundingClientRect().top + this.scroller.scrollTop;
  }

  /** Sizes the spacers for rows [from, to) drawn at the table's `scrollTop`: rows and spacers together are the
   * (capped) height, and row `from` is where it would be at full height, relative to the view. */
  place(from, to, scrollTop, g = this.geometry()) {
    const h = this.rowHeight;
    const above = Math.max(0, scrollTop + from * h - this.virtualTop(scrollTop, g));
    this.above.style.height = `${above}px`;
    this.below.style.height = `${Math.max(0, g.height - above - (to - from) * h)}px`;
  }

  /** Draws the rows in view and the margin around them; `refill` fills the rows it keeps again. */
  draw(refill = false, measuring = false) {
    const n = this.frames.length, h = this.rowHeight, s = this.scroller, g = this.geometry();
    const scrollTop = s.scrollTop, top = this.virtualTop(scrollTop, g) - g.head;
    const from = Math.max(0, Math.min(n, Math.floor(top / h) - OVERSCAN));
    const to = Math.max(from, Math.min(n, Math.ceil((top + s.clientHeight) / h) + OVERSCAN));
    // Scaled, the rows move against the scroll at every step: the spacers follow, even when the rows drawn do not.
    if (g.scaled) this.place(from, to, scrollTop, g);
    if (!refill && from === this.drawn[0] && to === this.drawn[1]) return;
    this.drawn = [from, to];
    const wanted = new Map();
    for (let i = from; i < to; i++) wanted.set(this.frames[i].seq, this.frames[i]);
    for (const [seq, tr] of this.rows) if (!wanted.has(seq)) { tr.remove(); this.rows.delete(seq); }
    // Rows kept stay where they are, in the same order; new ones go in between.
    let next = this.body.firstElementChild;
    for (const [seq, f] of wanted) {
      let tr = this.rows.get(seq);
      if (!tr) { tr = ROW.cloneNode(true); this.rows.set(seq, tr); }
      if (tr.frame !== f || refill) { tr.frame = f; fill(tr, this.conn, f, this.flags, this.selectedSeq); }
      if (tr === next) next = next.nextElementSibling;
      else this.body.insertBefore(tr, next);
    }
    this.place(from, to, scrollTop, g);
    // Rows are one line each: their height is the font's, measured here (it differs between machines and zooms).
    if (!measuring) {
      const measured = this.measure();
      if (measured != null) { this.rowHeight = measured; this.drawn = [0, 0]; this.draw(false, true); }
    }
  }

  /** The drawn rows' height, when it is not `rowHeight` (else null). */
  measure() {
    const [from, to] = this.drawn, first = this.body.firstElementChild, last = this.body.lastElementChild;
    if (to <= from || !first) return null;
    const measured = (last.getBoundingClientRect().bottom - first.getBoundingClientRect().top) / (to - from);
    return measured > 0 && Math.abs(measured - this.rowHeight) > 0.01 ? measured : null;
  }

  /** Rows of another height than measured (a zoom, which snaps their borders to other device pixels; a font or style
   * change): measures them again and, without a scroll from the user, keeps in place what was in view (the selected
   * frame when it was in view, else the frame at the top), then redraws. Returns whether the height changed. */
  remeasure() {
    const measured = this.measure();
    if (measured == null) return false;
    const s = this.scroller, g = this.geometry(), top = this.virtualTop(s.scrollTop, g), old = this.rowHeight;
    const selected = this.position.get(this.selectedSeq);
    const inView = selected != null && g.head + selected * old >= top + g.head && g.head + (selected + 1) * old <= top + s.clientHeight;
    // The frame kept in place (a fraction of one: the top of the view may cut a row) and its offset in the view.
    const anchor = inView ? selected : Math.max(0, top / old);
    const offset = g.head + anchor * old - top;
    this.rowHeight = measured;
    this.drawn = [0, 0];
    const ng = this.geometry();
    // The spacers are still sized for the old height: make room first, else the browser stops the scroll short.
    this.above.style.height = '0px';
    this.below.style.height = `${ng.height}px`;
    this.scrollToTop(Math.max(0, ng.head + anchor * measured - offset), ng);
    this.draw(false, true);
    return true;
  }

  /** Follows the latest frame: scrolls to the bottom and draws what is there. */
  scrollToEnd() {
    // Frames appended since the last draw: the spacers grow first, so the bottom is the new one.
    const g = this.geometry();
    this.above.style.height = '0px';
    this.below.style.height = `${g.height - (this.drawn[1] - this.drawn[0]) * this.rowHeight}px`;
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.draw();
  }

  /** Scrolls the table, and only it (scrollIntoView would move the page too), to show frame `i`: in its middle
   * (`center`), or just enough to have it whole below the header (`nearest`). */
  reveal(i, how) {
    const s = this.scroller, h = this.rowHeight, g = this.geometry(), header = g.head, rowTop = header + i * h;
    const top = this.virtualTop(s.scrollTop, g);
    let wanted = top;
    if (how === 'center') wanted = rowTop - (s.clientHeight - h) / 2;
    else if (rowTop < top + header) wanted = rowTop - header;
    else if (rowTop + h > top + s.clientHeight) wanted = rowTop + h - s.clientHeight;
    if (wanted !== top) {
      this.scrollToTop(Math.max(0, wanted), g);
    }
    this.draw();
  }

  /** A wheel step over a scaled table: the browser would move the scrollbar by its step, which scaled stands for
   * several times as many pixels of rows (about 3 times at 2 M frames); this moves the rows themselves by that step,
   * so a notch moves as many rows as on a table of any size. Returns false when the browser's own scroll is right
   * (not scaled; a pinch or Ctrl+wheel zoom; a sideways scroll). */
  wheel(e) {
    const g = this.geometry();
    if (!g.scaled || e.ctrlKey || e.deltaY === 0 || Math.abs(e.deltaX) > Math.abs(e.deltaY)) return false;
    const step = e.deltaY * (e.deltaMode === WheelEvent.DOM_DELTA_LINE ? 40 : e.deltaMode === WheelEvent.DOM_DELTA_PAGE ? this.scroller.clientHeight : 1);
    const top = this.virtualTop(this.scroller.scrollTop, g);
    this.scrollToTop(Math.max(0, Math.min(g.virtual, top + step)), g);
    this.draw();
    return true;
  }

  /** Scrolls the table to show the rows as at full height they would be at `wanted`. */
  scrollToTop(wanted, g) {
    const scrollTop = this.scrollTopFor(wanted, g);
    this.scroller.scrollTop = scrollTop;
    // Unless the browser stopped it short (at the bottom), this scrollTop stands for `wanted` exactly.
    this.pinned = Math.abs(this.scroller.scrollTop - scrollTop) < 1 ? { scrollTop: this.scroller.scrollTop, top: wanted, length: this.frames.length } : null;
  }

  /** How many rows fit in view (for Page Up and Page Down). */
  pageRows() { return Math.max(1, Math.floor((this.scroller.clientHeight - this.rowsTop()) / this.rowHeight) - 1); }

  clear() { this.reset(null, [], new Map(), null); }
}
