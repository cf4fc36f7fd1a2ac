// Pieces every page uses: loading and error states, links, headings.

import { ApiError } from '../api';
import { h, type Child } from '../dom';
import { short } from '../format';

export type Cleanup = () => void;
export type PageResult = Cleanup | void;

/** A page in progress. */
export function loading(what: string): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`);
}

/** An error, with the API's code and what to do. */
export function errorBox(e: unknown, what: string): HTMLElement {
  const code = e instanceof ApiError ? e.code : undefined;
  const msg = e instanceof Error ? e.message : String(e);
  const hint =
    code === 'UNAVAILABLE'
      ? 'Is `modelda node` still running? Reload to try again.'
      : code === 'LIMIT_EXCEEDED'
        ? 'The server refused a query this large.'
        : null;
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('strong', null, `Could not load ${what}`),
    h('p', null, msg, code ? h('span', { class: 'code' }, ` (${code})`) : null),
    hint ? h('p', null, hint) : null,
  );
}

/** Nothing found, with a way on. */
export function notFound(what: string): HTMLElement {
  return h(
    'div',
    { class: 'empty', role: 'status' },
    h('h1', null, 'Not found'),
    h('p', null, `${what} is not in this index (yet). `, h('a', { href: '/' }, 'Search again'), '.'),
  );
}

export function modelLink(id: string, name?: string | null): HTMLElement {
  return h('a', { href: `/model/${id}`, class: 'model-link', title: id }, name || short(id));
}

export function publisherLink(key: string): HTMLElement {
  return h('a', { href: `/publisher/${key}`, class: 'hash', title: key }, short(key, 16));
}

export function section(title: string, id: string, ...children: Child[]): HTMLElement {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** A table in a horizontally scrolling box (so narrow screens keep their layout). */
export function table(caption: string, head: string[], rows: Child[][]): HTMLElement {
  return h(
    'div',
    { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      null,
      h('caption', { class: 'sr-only' }, caption),
      h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c))))),
    ),
  );
}
