import { describe, expect, it } from 'vitest';
import { buildGraph, edgeKind, edgeLabel, place, type ApiEdge } from '../src/lineage/graph';

const id = (c: string): string => c.repeat(64);

function edge(child: string, parent: string, over: Partial<ApiEdge> = {}): ApiEdge {
  return {
    childId: id(child),
    parentId: id(parent),
    relation: 'FINETUNE',
    status: 'RESOLVED',
    proven: true,
    child: { name: `m-${child}` },
    parent: { name: `m-${parent}` },
    evidence: { identicalTensorShare: 0.5, sharedLeafShare: 0.96, identicalTensors: '1', childTensors: '2' },
    ...over,
  };
}

describe('lineage graph', () => {
  it('tells proven, unproven and pending edges apart', () => {
    expect(edgeKind({ status: 'RESOLVED', proven: true })).toBe('proven');
    expect(edgeKind({ status: 'RESOLVED', proven: false })).toBe('unproven');
    expect(edgeKind({ status: 'PENDING', proven: false })).toBe('pending');
  });
  it('labels edges with the relation and the evidence', () => {
    expect(edgeLabel(edge('b', 'a'))).toBe('finetune · 50% tensors · 96% bytes');
    expect(edgeLabel(edge('b', 'a', { proven: false, evidence: { identicalTensorShare: 0, sharedLeafShare: 0, identicalTensors: '0', childTensors: '2' } }))).toBe(
      'finetune · 0% tensors · 0% bytes · unproven',
    );
    expect(edgeLabel(edge('b', 'a', { status: 'PENDING', proven: false, evidence: null, parent: null }))).toBe('finetune · pending');
  });
  it('merges the edges both walks return, and marks missing parents', () => {
    const edges = [
      edge('b', 'a'),
      edge('c', 'b', { relation: 'QUANTIZED' }),
      edge('b', 'a'), // the same edge from the other direction
      edge('d', 'e', { status: 'PENDING', proven: false, evidence: null, parent: null }),
    ];
    const g = buildGraph(id('b'), 'm-b', edges);
    expect(g.nodes.map((n) => n.id).sort()).toEqual([id('a'), id('b'), id('c'), id('d'), id('e')]);
    expect(g.edges).toHaveLength(3);
    expect(g.nodes.find((n) => n.id === id('b'))?.focus).toBe(true);
    const e = g.nodes.find((n) => n.id === id('e'));
    expect(e?.indexed).toBe(false);
    expect(e?.name).toBe('eeeeeeeeeeee…');
  });
  it('lays parents out above their children', () => {
    const g = buildGraph(id('b'), 'm-b', [edge('b', 'a'), edge('c', 'b'), edge('d', 'b')]);
    const p = place(g);
    const y = (c: string): number => p.nodes.find((n) => n.id === id(c))!.y;
    expect(y('a')).toBeLessThan(y('b'));
    expect(y('b')).toBeLessThan(y('c'));
    expect(y('c')).toBe(y('d'));
    const xs = p.nodes.map((n) => n.x);
    expect(new Set(xs.filter((_, i) => p.nodes[i]!.y === y('c'))).size).toBe(2);
    for (const e of p.edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
    expect(p.width).toBeGreaterThan(0);
    expect(p.height).toBeGreaterThan(0);
  });
});
