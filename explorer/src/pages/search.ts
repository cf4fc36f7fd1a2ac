// Search: one box for a model id, a name, a publisher key (hint or PEM), a
// tensor hash or a chunk commitment.

import { gql } from '../api';
import { h, mount } from '../dom';
import { count, isHash, short } from '../format';
import { keyHint } from '../verify/dsse';
import { errorBox, loading, modelLink, publisherLink, section, type PageResult } from './common';
import { searchForm } from './home';

interface HashHits {
  model: { id: string; name: string } | null;
  publisher: { key: string; models: { nodes: { id: string }[] } } | null;
  chunk: {
    commitment: string;
    url: string;
    places: { modelId: string; fileIndex: number; leaf: string; publication: string; locator: string }[];
  } | null;
  modelsWithTensor: { nodes: { modelId: string; file: string; name: string; model: { name: string } }[] };
}

/** What a query looks like: which lookups it gets. */
export type QueryKind = 'hash' | 'pem' | 'name';

export function classify(q: string): QueryKind {
  const t = q.trim();
  if (isHash(t)) return 'hash';
  if (t.includes('-----BEGIN PUBLIC KEY-----')) return 'pem';
  return 'name';
}

/** A PEM as model signing hashes it: 64-column base64, LF, trailing newline. */
export function normalizePem(pem: string): string {
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(pem);
  const body = (m?.[1] ?? '').replace(/\s+/g, '');
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

async function byHash(q: string): Promise<HTMLElement[]> {
  const d = await gql<HashHits>(
    `query($q: String!, $id: ID!) {
       model(id: $id) { id name }
       publisher(key: $id) { key models(first: 1) { nodes { id } } }
       chunk(commitment: $q) { commitment url places { modelId fileIndex leaf publication locator } }
       modelsWithTensor(hash: $q, first: 50) { nodes { modelId file name model { name } } }
     }`,
    { q, id: q },
  );
  const out: HTMLElement[] = [];
  if (d.model) out.push(section('Model', 'r-model', h('ul', { class: 'results' }, h('li', null, modelLink(d.model.id, d.model.name), ' ', h('code', { class: 'muted' }, short(d.model.id, 16))))));
  if (d.publisher) out.push(section('Publisher', 'r-pub', h('ul', { class: 'results' }, h('li', null, publisherLink(d.publisher.key)))));
  const tensors = d.modelsWithTensor.nodes;
  if (tensors.length > 0) {
    out.push(
      section(
        'Tensors with this hash',
        'r-tensor',
        h(
          'ul',
          { class: 'results' },
          tensors.map((t) =>
            h(
              'li',
              null,
              h('a', { href: `/model/${t.modelId}?${new URLSearchParams({ file: t.file, tensor: t.name })}` }, t.name),
              ' in ',
              modelLink(t.modelId, t.model.name),
              h('span', { class: 'muted' }, ` (${t.file})`),
            ),
          ),
        ),
      ),
    );
  }
  if (d.chunk) {
    out.push(
      section(
        'Chunk',
        'r-chunk',
        h('p', null, h('a', { href: `/chunks/${encodeURIComponent(d.chunk.commitment)}`, download: `${d.chunk.commitment}.bin` }, 'Download its verified bytes'), ` · stored in ${count(d.chunk.places.length)} places`),
        h(
          'ul',
          { class: 'results' },
          d.chunk.places.map((p) =>
            h('li', null, `leaf ${count(p.leaf)} of file ${p.fileIndex} of `, modelLink(p.modelId), h('span', { class: 'muted' }, ` in ${p.locator}`)),
          ),
        ),
      ),
    );
  }
  return out;
}

async function byName(q: string): Promise<HTMLElement[]> {
  const d = await gql<{ models: { nodes: { id: string; name: string }[] } }>(
    `query($q: String!) { models(name: $q, first: 50) { nodes { id name } } }`,
    { q },
  );
  if (d.models.nodes.length === 0) return [];
  return [
    section(
      'Models',
      'r-models',
      h('ul', { class: 'results' }, d.models.nodes.map((m) => h('li', null, modelLink(m.id, m.name), ' ', h('code', { class: 'muted' }, short(m.id, 16))))),
    ),
  ];
}

export async function search(main: HTMLElement, q: string): Promise<PageResult> {
  const results = h('div', { id: 'results' }, loading('results'));
  mount(main, h('h1', null, 'Search'), searchForm(q), results);
  const t = q.trim();
  if (!t) {
    mount(results, h('p', null, 'Type a model id, a name, a publisher key, a tensor hash or a chunk commitment.'));
    return;
  }
  try {
    const kind = classify(t);
    const found =
      kind === 'hash'
        ? await byHash(t.toLowerCase())
        : kind === 'pem'
          ? await byHash(await keyHint(normalizePem(t)))
          : await byName(t);
    mount(
      results,
      found.length > 0
        ? found
        : h('p', { class: 'empty', role: 'status' }, `Nothing in this index matches “${short(t, 70)}”.`, kind === 'name' ? ' Names match whole, case ignored.' : null),
    );
  } catch (e) {
    mount(results, errorBox(e, 'the results'));
  }
}
