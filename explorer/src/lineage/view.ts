// Draws a placed lineage graph as SVG: nodes are links to their models,
// edges carry the relation and the evidence; unproven and pending claims
// are drawn differently from proven ones.

import { h, s } from '../dom';
import { short } from '../format';
import type { Placed } from './graph';

function path(points: { x: number; y: number }[]): string {
  if (points.length === 0) return '';
  const [first, ...rest] = points;
  return `M${first!.x},${first!.y}` + rest.map((p) => ` L${p.x},${p.y}`).join('');
}

function clip(name: string, n: number): string {
  return name.length > n ? `${name.slice(0, n - 1)}…` : name;
}

export function drawGraph(p: Placed): SVGElement {
  const marker = (id: string) =>
    s('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrow ${id}` }));
  return s(
    'svg',
    {
      class: 'lineage',
      id: 'lineage-graph',
      viewBox: `0 0 ${p.width} ${p.height}`,
      width: p.width,
      height: p.height,
      role: 'img',
      'aria-label': `Lineage graph: ${p.nodes.length} models, ${p.edges.length} claims`,
    },
    s('defs', null, marker('m-proven'), marker('m-unproven'), marker('m-pending')),
    p.edges.map((e) =>
      s(
        'g',
        { class: `edge ${e.kind}` },
        s('title', null, `${e.relation}: ${e.evidence}`),
        s('path', { d: path(e.points), 'marker-end': `url(#m-${e.kind})` }),
        s('rect', { class: 'label-bg', x: e.lx - (e.label.length * 6.6) / 2 - 3, y: e.ly - 9, width: e.label.length * 6.6 + 6, height: 18, rx: 3 }),
        s('text', { x: e.lx, y: e.ly + 4, 'text-anchor': 'middle' }, e.label),
      ),
    ),
    p.nodes.map((n) =>
      s(
        'a',
        { href: `/model/${n.id}`, class: `node${n.focus ? ' focus' : ''}${n.indexed ? '' : ' missing'}`, 'data-id': n.id },
        s('title', null, `${n.name} (${n.id})${n.indexed ? '' : ': not indexed yet'}`),
        s('rect', { x: n.x - n.w / 2, y: n.y - n.h / 2, width: n.w, height: n.h, rx: 6 }),
        s('text', { x: n.x, y: n.y - 3, 'text-anchor': 'middle', class: 'name' }, clip(n.name, 30)),
        s('text', { x: n.x, y: n.y + 14, 'text-anchor': 'middle', class: 'id' }, short(n.id, 16)),
      ),
    ),
  );
}

export function legend(): HTMLElement {
  const item = (kind: string, text: string) =>
    h('li', null, s('svg', { width: 40, height: 10, 'aria-hidden': 'true', class: `edge ${kind}` }, s('path', { d: 'M0,5 L40,5' })), ' ', text);
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    item('proven', 'proven: the evidence backs the claim'),
    item('unproven', 'unproven: nothing shared with the parent'),
    item('pending', 'pending: the parent is not indexed'),
  );
}
