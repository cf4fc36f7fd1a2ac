// The lineage page: ancestors and descendants of a model as a graph, and
// the same edges as a table.

import { gql } from '../api';
import { h, mount } from '../dom';
import { buildGraph, place, type ApiEdge } from '../lineage/graph';
import { drawGraph, legend } from '../lineage/view';
import { relation, short } from '../format';
import { errorBox, loading, modelLink, notFound, table, type PageResult } from './common';

/** Generations walked each way. */
export const DEPTH = 8;

const EDGE = `childId parentId relation status proven child { name } parent { name }
  evidence { identicalTensorShare sharedLeafShare identicalTensors childTensors }`;

export async function lineagePage(main: HTMLElement, id: string): Promise<PageResult> {
  mount(main, loading('the lineage'));
  let d: { model: { id: string; name: string } | null; up: ApiEdge[]; down: ApiEdge[] };
  try {
    d = await gql(
      `query($id: ID!, $depth: Int!) {
         model(id: $id) { id name }
         up: lineage(id: $id, direction: ANCESTORS, depth: $depth) { ${EDGE} }
         down: lineage(id: $id, direction: DESCENDANTS, depth: $depth) { ${EDGE} }
       }`,
      { id, depth: DEPTH },
    );
  } catch (e) {
    mount(main, errorBox(e, 'the lineage'));
    return;
  }
  if (!d.model) {
    mount(main, notFound(`Model ${short(id, 16)}`));
    return;
  }
  document.title = `Lineage of ${d.model.name} · modelda`;
  const edges = [...d.up, ...d.down];
  const g = buildGraph(d.model.id, d.model.name, edges);
  mount(
    main,
    h(
      'header',
      { class: 'page-head' },
      h('p', { class: 'kind' }, 'Lineage'),
      h('h1', null, d.model.name),
      h('p', null, h('a', { href: `/model/${d.model.id}` }, 'Back to the model'), ` · ${DEPTH} generations each way`),
    ),
    legend(),
    edges.length === 0
      ? h('p', { class: 'empty' }, 'No model claims this one as a parent, and it claims none.')
      : h('div', { class: 'graph-box', tabindex: 0, role: 'region', 'aria-label': 'Lineage graph (scrolls)' }, drawGraph(place(g))),
    edges.length > 0
      ? table(
          'Lineage claims',
          ['Child', 'Relation', 'Parent', 'State', 'Evidence'],
          g.edges.map((e) => {
            const child = g.nodes.find((n) => n.id === e.child);
            const parent = g.nodes.find((n) => n.id === e.parent);
            return [modelLink(e.child, child?.name), relation(e.relation), modelLink(e.parent, parent?.name), h('span', { class: `badge ${e.kind}` }, e.kind), e.evidence];
          }),
        )
      : null,
  );
}
