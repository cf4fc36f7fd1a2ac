// Home: the search box, the index status, and the live feed of publications.

import { gql, subscribe } from '../api';
import { facts, h, mount } from '../dom';
import { count, publicationPlace, short } from '../format';
import { errorBox, modelLink, publisherLink, section, type PageResult } from './common';

interface Meta {
  height: string | null;
  layer: string;
  namespace: string | null;
  head: string | null;
  lag: string | null;
  publications: string;
  rejections: string;
}

interface Pub {
  id: string;
  modelId: string;
  signerKey: string;
  layer: string;
  model: { name: string } | null;
}

const PUB_FIELDS = 'id modelId signerKey layer model { name }';

/** The search form (also on the search page). */
export function searchForm(value = ''): HTMLFormElement {
  const input = h('input', {
    type: 'search',
    name: 'q',
    id: 'q',
    value,
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'model id, name, publisher key, tensor hash or chunk commitment',
  });
  return h(
    'form',
    { class: 'search', role: 'search', action: '/search', method: 'get' },
    h('label', { for: 'q', class: 'sr-only' }, 'Search'),
    input,
    h('button', { type: 'submit' }, 'Search'),
  );
}

function pubItem(p: Pub, live: boolean): HTMLLIElement {
  return h(
    'li',
    { class: live ? 'live' : undefined },
    modelLink(p.modelId, p.model?.name),
    ' ',
    h('span', { class: 'muted' }, `${publicationPlace(p.id)} · ${p.layer} · signed by `),
    publisherLink(p.signerKey),
  );
}

export async function home(main: HTMLElement): Promise<PageResult> {
  const status = h('div', { class: 'status' }, h('p', { class: 'loading' }, 'Reading the index status…'));
  const feed = h('ol', { class: 'feed', id: 'feed', 'aria-live': 'polite' });
  const feedState = h('p', { class: 'muted', id: 'feed-state' }, 'Connecting to the live feed…');
  mount(
    main,
    h('h1', null, 'Find a model'),
    h('p', { class: 'lead' }, 'Look up what a model is made of, where it came from, and check it in this browser.'),
    searchForm(),
    section('Index', 'index-h', status),
    section('Publications', 'pubs-h', h('p', { class: 'muted' }, 'The first 20 indexed, then every new one at the top as it is indexed.'), feedState, feed),
  );
  try {
    const d = await gql<{ _meta: Meta; publications: { nodes: Pub[] } }>(
      `{ _meta { height layer namespace head lag publications rejections }
         publications(first: 20) { nodes { ${PUB_FIELDS} } } }`,
    );
    const m = d._meta;
    mount(
      status,
      facts([
        ['Layer', m.layer],
        ['Namespace', m.namespace ? h('code', null, short(m.namespace, 20)) : null],
        ['Height', m.height === null ? 'nothing indexed yet' : count(m.height)],
        ['Head', m.head === null ? 'not known' : count(m.head)],
        ['Lag', m.lag === null ? 'not known' : `${count(m.lag)} heights`],
        ['Publications', count(m.publications)],
        ['Rejections', h('a', { href: '/rejections' }, count(m.rejections))],
      ]),
    );
    for (const p of d.publications.nodes) feed.appendChild(pubItem(p, false));
  } catch (e) {
    mount(status, errorBox(e, 'the index status'));
  }
  return subscribe<{ publications: Pub }>(
    `subscription { publications { ${PUB_FIELDS} } }`,
    (d) => {
      feed.prepend(pubItem(d.publications, true));
    },
    (msg) => (feedState.textContent = `The live feed stopped: ${msg}`),
    () => (feedState.textContent = 'Live: connected.'),
  );
}
