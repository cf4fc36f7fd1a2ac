// The lineage graph: built from the API's edges, laid out with dagre.
// Pure (no DOM): the view draws what this returns.

import { Graph, layout } from '@dagrejs/dagre';
import { percent, relation as fmtRelation, short } from '../format';

/** A lineage edge as the API returns it. */
export interface ApiEdge {
  childId: string;
  parentId: string;
  relation: string;
  status: 'RESOLVED' | 'PENDING';
  proven: boolean;
  child: { name: string } | null;
  parent: { name: string } | null;
  evidence: {
    identicalTensorShare: number;
    sharedLeafShare: number;
    identicalTensors: string;
    childTensors: string;
  } | null;
}

export type EdgeKind = 'proven' | 'unproven' | 'pending';

export interface GraphNode {
  id: string;
  name: string;
  /** The model the graph is about. */
  focus: boolean;
  /** Whether the model is indexed (a pending parent is not). */
  indexed: boolean;
}

export interface GraphEdge {
  parent: string;
  child: string;
  relation: string;
  kind: EdgeKind;
  label: string;
  evidence: string;
}

export interface LineageGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** How an edge is drawn: proven, claimed without support, or waiting for the parent. */
export function edgeKind(e: Pick<ApiEdge, 'status' | 'proven'>): EdgeKind {
  if (e.status === 'PENDING') return 'pending';
  return e.proven ? 'proven' : 'unproven';
}

/** The evidence of an edge in words. */
export function evidenceText(e: ApiEdge): string {
  if (e.status === 'PENDING' || !e.evidence) return 'parent not indexed yet';
  const ev = e.evidence;
  return `${percent(ev.identicalTensorShare)} of tensors identical, ${percent(ev.sharedLeafShare)} of bytes shared`;
}

/** The label on an edge: the relation and the evidence in short. */
export function edgeLabel(e: ApiEdge): string {
  const rel = fmtRelation(e.relation);
  if (e.status === 'PENDING' || !e.evidence) return `${rel} · pending`;
  const tail = e.proven ? '' : ' · unproven';
  return `${rel} · ${percent(e.evidence.identicalTensorShare)} tensors · ${percent(e.evidence.sharedLeafShare)} bytes${tail}`;
}

/** The graph of `focus` and the edges around it (duplicates merged). */
export function buildGraph(focus: string, focusName: string, edges: ApiEdge[]): LineageGraph {
  const nodes = new Map<string, GraphNode>();
  const put = (id: string, name: string | undefined, indexed: boolean): void => {
    const old = nodes.get(id);
    if (!old) nodes.set(id, { id, name: name || short(id), focus: id === focus, indexed });
    else if (indexed && !old.indexed) nodes.set(id, { ...old, name: name || old.name, indexed });
  };
  put(focus, focusName, true);
  const seen = new Set<string>();
  const out: GraphEdge[] = [];
  for (const e of edges) {
    const key = `${e.parentId}>${e.childId}>${e.relation}`;
    if (seen.has(key)) continue;
    seen.add(key);
    put(e.childId, e.child?.name, e.child !== null);
    put(e.parentId, e.parent?.name, e.parent !== null);
    out.push({
      parent: e.parentId,
      child: e.childId,
      relation: fmtRelation(e.relation),
      kind: edgeKind(e),
      label: edgeLabel(e),
      evidence: evidenceText(e),
    });
  }
  return { nodes: [...nodes.values()], edges: out };
}

export interface Placed {
  width: number;
  height: number;
  nodes: (GraphNode & { x: number; y: number; w: number; h: number })[];
  edges: (GraphEdge & { points: { x: number; y: number }[]; lx: number; ly: number })[];
}

export const NODE_W = 220;
export const NODE_H = 48;
const CHAR_W = 6.6;

/** Lays the graph out top-down, parents above children. */
export function place(g: LineageGraph): Placed {
  const dg = new Graph({ multigraph: true });
  dg.setGraph({ rankdir: 'TB', nodesep: 40, ranksep: 70, edgesep: 20, marginx: 16, marginy: 16 });
  dg.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes) dg.setNode(n.id, { width: NODE_W, height: NODE_H });
  g.edges.forEach((e, i) => {
    dg.setEdge(e.parent, e.child, { width: e.label.length * CHAR_W, height: 16, labelpos: 'c' }, `e${i}`);
  });
  layout(dg);
  const graph = dg.graph();
  return {
    width: Math.ceil(graph.width ?? NODE_W),
    height: Math.ceil(graph.height ?? NODE_H),
    nodes: g.nodes.map((n) => {
      const p = dg.node(n.id);
      return { ...n, x: p.x, y: p.y, w: NODE_W, h: NODE_H };
    }),
    edges: g.edges.map((e, i) => {
      const l = dg.edge({ v: e.parent, w: e.child, name: `e${i}` });
      const points = (l.points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y }));
      return { ...e, points, lx: l.x ?? 0, ly: l.y ?? 0 };
    }),
  };
}
