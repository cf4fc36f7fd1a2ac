// The tensor table: every tensor of the signed manifest, sortable and
// filterable, rendered a page of rows at a time so thousands stay fast.

import { h, mount } from '../dom';
import { bytes, count, shape, short } from '../format';
import type { FileClaim } from '../verify/claims';

export interface Row {
  file: string;
  name: string;
  dtype: string;
  shape: number[];
  start: number;
  end: number;
  size: number;
  hash: string;
}

export type SortKey = 'name' | 'file' | 'dtype' | 'size' | 'start' | 'hash';

/** Rows of every tensor, in file order. */
export function rowsOf(files: FileClaim[]): Row[] {
  const rows: Row[] = [];
  for (const f of files) {
    for (const t of f.tensors) {
      rows.push({ file: f.path, name: t.name, dtype: t.dtype, shape: t.shape, start: t.start, end: t.end, size: t.end - t.start, hash: t.blake3 });
    }
  }
  return rows;
}

/** The rows that match `filter` (words, all of which must appear in name, file, dtype or hash), sorted. */
export function view(rows: Row[], filter: string, key: SortKey, ascending: boolean): Row[] {
  const words = filter.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  const out =
    words.length === 0
      ? rows.slice()
      : rows.filter((r) => {
          const hay = `${r.name} ${r.file} ${r.dtype} ${r.hash}`.toLowerCase();
          return words.every((w) => hay.includes(w));
        });
  const dir = ascending ? 1 : -1;
  const cmp = (a: Row, b: Row): number => {
    switch (key) {
      case 'size':
        return a.size - b.size;
      case 'start':
        return a.file === b.file ? a.start - b.start : a.file < b.file ? -1 : 1;
      default: {
        const x = a[key];
        const y = b[key];
        return x < y ? -1 : x > y ? 1 : 0;
      }
    }
  };
  out.sort((a, b) => cmp(a, b) * dir || (a.start - b.start) * dir);
  return out;
}

/** Rows shown per step: more appear on demand. */
export const STEP = 250;

const COLUMNS: [SortKey, string][] = [
  ['name', 'Name'],
  ['file', 'File'],
  ['dtype', 'Dtype'],
  ['size', 'Size'],
  ['start', 'Byte range'],
  ['hash', 'BLAKE3'],
];

/** The table, with its filter box and sort buttons. `link` gives a tensor's URL. */
export function tensorTable(rows: Row[], link: (r: Row) => string): HTMLElement {
  let key: SortKey = 'start';
  let ascending = true;
  let shown = STEP;
  let filter = '';
  const tbody = h('tbody');
  const summary = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite', id: 'tensor-summary' });
  const more = h('button', { type: 'button', class: 'more' }, 'Show more');
  const heads = COLUMNS.map(([k, label]) => {
    const btn = h('button', { type: 'button', class: 'sort', 'data-key': k }, label);
    const th = h('th', { scope: 'col', 'aria-sort': 'none' }, btn);
    btn.addEventListener('click', () => {
      if (key === k) ascending = !ascending;
      else {
        key = k;
        ascending = k !== 'size';
      }
      shown = STEP;
      draw();
    });
    return th;
  });
  const draw = (): void => {
    const t0 = performance.now();
    const v = view(rows, filter, key, ascending);
    const frag = document.createDocumentFragment();
    for (const r of v.slice(0, shown)) {
      frag.appendChild(
        h(
          'tr',
          null,
          h('td', { class: 'name' }, h('a', { href: link(r) }, r.name)),
          h('td', { class: 'file' }, r.file),
          h('td', null, r.dtype),
          h('td', { class: 'num', title: `${count(r.size)} bytes; shape ${shape(r.shape)}` }, bytes(r.size), h('span', { class: 'muted shape' }, ` ${shape(r.shape)}`)),
          h('td', { class: 'num' }, `${count(r.start)}–${count(r.end)}`),
          h('td', null, h('code', { title: r.hash }, short(r.hash, 16))),
        ),
      );
    }
    tbody.replaceChildren(frag);
    heads.forEach((th, i) => th.setAttribute('aria-sort', COLUMNS[i]![0] === key ? (ascending ? 'ascending' : 'descending') : 'none'));
    const n = Math.min(shown, v.length);
    summary.textContent = `${count(v.length)} of ${count(rows.length)} tensors${v.length > n ? `, first ${count(n)} shown` : ''}.`;
    more.hidden = v.length <= n;
    more.textContent = `Show ${count(Math.min(STEP, v.length - n))} more`;
    document.body.dataset.tensorRenderMs = String(Math.round(performance.now() - t0));
  };
  more.addEventListener('click', () => {
    shown += STEP;
    draw();
  });
  const input = h('input', {
    type: 'search',
    id: 'tensor-filter',
    placeholder: 'Filter by name, file, dtype or hash',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  let timer: number | undefined;
  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      filter = input.value;
      shown = STEP;
      draw();
    }, 80);
  });
  const box = h(
    'div',
    { class: 'tensors' },
    h('label', { for: 'tensor-filter', class: 'sr-only' }, 'Filter tensors'),
    input,
    summary,
    h(
      'div',
      { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Tensors' },
      h('table', { id: 'tensor-table' }, h('thead', null, h('tr', null, heads)), tbody),
    ),
    more,
  );
  draw();
  return box;
}

/** Replaces `el`'s content with the table (for re-renders). */
export function mountTable(el: HTMLElement, rows: Row[], link: (r: Row) => string): void {
  mount(el, tensorTable(rows, link));
}
