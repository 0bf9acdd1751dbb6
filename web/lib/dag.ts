// Layout of a directed graph in layers: each node's layer is the length of the longest path
// that reaches it (sources in layer 0), so every edge points right. Within a layer, nodes are
// ordered by the mean position of their predecessors (one barycentre sweep) to keep edges short.
import type { Graph, GraphNode } from "./api";

export interface Placed {
  node: GraphNode;
  layer: number;
  x: number;
  y: number;
}

export interface Layout {
  nodes: Placed[];
  edges: { source: Placed; target: Placed }[];
  width: number;
  height: number;
}

export const BOX = { w: 168, h: 46, gapX: 64, gapY: 22, pad: 12 };

export function layers(graph: Graph): Map<string, number> {
  const preds = new Map<string, string[]>(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) if (preds.has(e.target) && preds.has(e.source)) preds.get(e.target)!.push(e.source);
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle: break it here rather than loop
    visiting.add(id);
    const d = Math.max(-1, ...preds.get(id)!.map(depth)) + 1;
    visiting.delete(id);
    layer.set(id, d);
    return d;
  };
  graph.nodes.forEach((n) => depth(n.id));
  return layer;
}

export function layout(graph: Graph): Layout {
  const layer = layers(graph);
  const columns: GraphNode[][] = [];
  for (const n of graph.nodes) (columns[layer.get(n.id)!] ??= []).push(n);
  const position = new Map<string, number>();
  const preds = new Map<string, string[]>();
  for (const e of graph.edges) preds.set(e.target, [...(preds.get(e.target) ?? []), e.source]);
  columns.forEach((col, c) => {
    if (c > 0) {
      const centre = (n: GraphNode) => {
        const ps = (preds.get(n.id) ?? []).map((p) => position.get(p)).filter((p): p is number => p !== undefined);
        return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : Number.MAX_SAFE_INTEGER;
      };
      col.sort((a, b) => centre(a) - centre(b));
    }
    col.forEach((n, i) => position.set(n.id, i));
  });
  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const height = BOX.pad * 2 + tallest * BOX.h + (tallest - 1) * BOX.gapY;
  const placed = new Map<string, Placed>();
  columns.forEach((col, c) => {
    const colH = col.length * BOX.h + (col.length - 1) * BOX.gapY;
    const top = (height - colH) / 2;
    col.forEach((node, i) => {
      placed.set(node.id, {
        node, layer: c,
        x: BOX.pad + c * (BOX.w + BOX.gapX),
        y: top + i * (BOX.h + BOX.gapY),
      });
    });
  });
  const width = BOX.pad * 2 + columns.length * BOX.w + Math.max(0, columns.length - 1) * BOX.gapX;
  const edges = graph.edges
    .filter((e) => placed.has(e.source) && placed.has(e.target))
    .map((e) => ({ source: placed.get(e.source)!, target: placed.get(e.target)! }));
  return { nodes: [...placed.values()], edges, width, height };
}

/** A cubic curve from the right side of one box to the left side of the next. */
export function edgePath(a: Placed, b: Placed): string {
  const x1 = a.x + BOX.w;
  const y1 = a.y + BOX.h / 2;
  const x2 = b.x;
  const y2 = b.y + BOX.h / 2;
  const dx = Math.max(24, (x2 - x1) / 2);
  return `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
}
