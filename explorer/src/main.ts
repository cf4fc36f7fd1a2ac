// The explorer's entry: routes the URL to a page, and keeps links inside
// the page (history API) so every view has a URL of its own.

import './style.css';
import { h, mount } from './dom';
import { isServerPath, parse, type Route } from './router';
import { home } from './pages/home';
import { search } from './pages/search';
import { modelPage } from './pages/model';
import { lineagePage } from './pages/lineage';
import { publisherPage } from './pages/publisher';
import { rejectionsPage } from './pages/rejections';
import { advisoryPage } from './pages/advisories';
import type { PageResult } from './pages/common';

function page(main: HTMLElement, r: Route): Promise<PageResult> | PageResult {
  switch (r.page) {
    case 'home':
      return home(main);
    case 'search':
      return search(main, r.q);
    case 'model':
      return modelPage(main, r.id, { ...(r.file ? { file: r.file } : {}), ...(r.tensor ? { tensor: r.tensor } : {}) });
    case 'lineage':
      return lineagePage(main, r.id);
    case 'publisher':
      return publisherPage(main, r.key, r.after);
    case 'rejections':
      return rejectionsPage(main, r.code, r.after);
    case 'advisory':
      return advisoryPage(main, r.id);
    case 'notfound':
      mount(main, h('h1', null, 'No such page'), h('p', null, `Nothing lives at ${r.path}. `, h('a', { href: '/' }, 'Search'), '.'));
      return;
  }
}

function start(): void {
  const main = document.getElementById('main');
  if (!main) return;
  let cleanup: (() => void) | undefined;
  let generation = 0;
  const render = async (focus: boolean): Promise<void> => {
    cleanup?.();
    cleanup = undefined;
    const mine = ++generation;
    document.title = 'modelda explorer';
    document.body.dataset.ready = 'false';
    const r = parse(location.pathname, location.search);
    const done = await page(main, r);
    if (mine !== generation) {
      if (done) done();
      return;
    }
    if (done) cleanup = done;
    document.body.dataset.ready = 'true';
    document.body.dataset.page = r.page;
    if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
    if (focus) main.focus({ preventScroll: Boolean(location.hash) });
  };
  const go = (url: string): void => {
    history.pushState(null, '', url);
    void render(true);
  };
  document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element | null)?.closest('a');
    if (!a) return;
    const raw = a.getAttribute('href');
    if (!raw || raw.startsWith('#') || a.target || a.hasAttribute('download')) return;
    const url = new URL(a instanceof SVGAElement ? a.href.baseVal : a.href, location.href);
    if (url.origin !== location.origin || isServerPath(url.pathname)) return;
    ev.preventDefault();
    go(url.pathname + url.search + url.hash);
  });
  document.addEventListener('submit', (ev) => {
    const form = ev.target as HTMLFormElement;
    const action = new URL(form.action, location.href);
    if (action.origin !== location.origin || form.method.toLowerCase() !== 'get') return;
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (typeof v === 'string' && v !== '') q.set(k, v);
    const s = q.toString();
    go(action.pathname + (s ? `?${s}` : ''));
  });
  window.addEventListener('popstate', () => void render(true));
  void render(false);
}

start();
