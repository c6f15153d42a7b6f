// frametap UI: the frame table, drawn virtually: only the rows in view, and a margin, are in the page; two spacers
// stand for the rest, so a connection of any length costs the browser a few hundred rows of layout, and every frame
// stays reachable by scrolling. Rows are keyed by seq and kept while they stay in the window: a row under the mouse
// survives frames arriving, and a redraw (filters, a diagnosis) fills the rows it keeps in place.
import { el, clock, humanBytes, preview } from './views.js';

/** Rows drawn above and below the ones in view: scrolling a little draws nothing new. */
const OVERSCAN = 40;

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
  cFlag.title = flag ? flag[1] : ''; cFlag.textContent = flag ? flag[0] : '';
  cSeq.textContent = String(f.seq);
  cTime.textContent = clock(f.ts); cTime.title = f.ts;
  cDir.className = 'c-dir ' + f.from; cDir.textContent = dir;
  cOp.textContent = f.opcode + (f.fin === false ? ' …' : '');
  cSize.textContent = humanBytes(f.len);
  cPreview.textContent = preview(f);
  cAnn.textContent = c.annotations.get(f.seq) ?? '';
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

  /** Draws the rows in view and the margin around them; `refill` fills the rows it keeps again. */
  draw(refill = false, measuring = false) {
    const n = this.frames.length, h = this.rowHeight, s = this.scroller;
    const top = s.scrollTop - this.rowsTop();
    const from = Math.max(0, Math.min(n, Math.floor(top / h) - OVERSCAN));
    const to = Math.max(from, Math.min(n, Math.ceil((top + s.clientHeight) / h) + OVERSCAN));
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
    this.above.style.height = `${from * h}px`;
    this.below.style.height = `${(n - to) * h}px`;
    // Rows are one line each: their height is the font's, measured here (it differs between machines and zooms).
    if (to > from && !measuring) {
      const first = this.body.firstElementChild.getBoundingClientRect(), last = this.body.lastElementChild.getBoundingClientRect();
      const measured = (last.bottom - first.top) / (to - from);
      if (measured > 0 && Math.abs(measured - h) > 0.01) { this.rowHeight = measured; this.drawn = [0, 0]; this.draw(false, true); }
    }
  }

  /** Follows the latest frame: scrolls to the bottom and draws what is there. */
  scrollToEnd() {
    this.above.style.height = `${this.drawn[0] * this.rowHeight}px`;
    this.below.style.height = `${(this.frames.length - this.drawn[1]) * this.rowHeight}px`;
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.draw();
  }

  /** Scrolls the table, and only it (scrollIntoView would move the page too), to show frame `i`: in its middle
   * (`center`), or just enough to have it whole below the header (`nearest`). */
  reveal(i, how) {
    const s = this.scroller, h = this.rowHeight, rowTop = this.rowsTop() + i * h;
    const header = this.rowsTop();
    if (how === 'center') s.scrollTop = rowTop - (s.clientHeight - h) / 2;
    else if (rowTop < s.scrollTop + header) s.scrollTop = rowTop - header;
    else if (rowTop + h > s.scrollTop + s.clientHeight) s.scrollTop = rowTop + h - s.clientHeight;
    this.draw();
  }

  /** How many rows fit in view (for Page Up and Page Down). */
  pageRows() { return Math.max(1, Math.floor((this.scroller.clientHeight - this.rowsTop()) / this.rowHeight) - 1); }

  clear() { this.reset(null, [], new Map(), null); }
}
