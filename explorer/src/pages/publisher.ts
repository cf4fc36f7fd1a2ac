// A publisher: its key, and the models it published or attested.

import { gql } from '../api';
import { copyable, facts, h, mount } from '../dom';
import { publicationPlace, short } from '../format';
import { errorBox, loading, modelLink, notFound, section, table, type PageResult } from './common';

interface PublisherData {
  key: string;
  publicKey: string;
  firstPublication: { id: string } | null;
  models: {
    nodes: { id: string; name: string; firstPublication: { signerKey: string } | null; publications: { id: string; signerKey: string }[] }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

export async function publisherPage(main: HTMLElement, key: string, after?: string): Promise<PageResult> {
  mount(main, loading('the publisher'));
  let p: PublisherData | null;
  try {
    p = (
      await gql<{ publisher: PublisherData | null }>(
        `query($key: ID!, $after: String) { publisher(key: $key) {
           key publicKey firstPublication { id }
           models(first: 100, after: $after) {
             nodes { id name firstPublication { signerKey } publications { id signerKey } }
             pageInfo { hasNextPage endCursor }
           } } }`,
        { key, after: after ?? null },
      )
    ).publisher;
  } catch (e) {
    mount(main, errorBox(e, 'the publisher'));
    return;
  }
  if (!p) {
    mount(main, notFound(`Publisher ${short(key, 16)}`));
    return;
  }
  document.title = `Publisher ${short(p.key)} · modelda`;
  const rows = p.models.nodes.map((m) => {
    const own = m.publications.find((x) => x.signerKey === p!.key);
    // The first key to sign a model published it; later keys attest it.
    const role = own ? (m.firstPublication?.signerKey === p!.key ? 'published' : 'attested') : '–';
    return [modelLink(m.id, m.name), h('span', { class: `badge ${role}` }, role), own ? publicationPlace(own.id) : '–'];
  });
  mount(
    main,
    h('header', { class: 'page-head' }, h('p', { class: 'kind' }, 'Publisher'), h('h1', { class: 'hash-title' }, short(p.key, 24)), h('p', null, copyable(p.key, 'Copy key hint'))),
    facts([
      ['Key hint', 'hex SHA-256 of the public key PEM'],
      ['First publication', p.firstPublication ? publicationPlace(p.firstPublication.id) : '–'],
      ['Public key', h('pre', { class: 'pem' }, p.publicKey)],
    ]),
    h('p', null, copyable(p.publicKey.trim(), 'Copy PEM'), h('span', { class: 'muted' }, ' Save it as publisher.pub and pin it: modelda fetch ID --key publisher.pub')),
    section(
      `Models (${rows.length}${p.models.pageInfo.hasNextPage ? '+' : ''})`,
      'models-h',
      rows.length > 0 ? table('Models of this publisher', ['Model', 'Role', 'Record'], rows) : h('p', null, 'None yet.'),
      p.models.pageInfo.hasNextPage && p.models.pageInfo.endCursor
        ? h('p', null, h('a', { href: `/publisher/${p.key}?after=${encodeURIComponent(p.models.pageInfo.endCursor)}` }, 'Next models'))
        : null,
    ),
  );
}
