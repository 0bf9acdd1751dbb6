"use client";
import Link from "next/link";
import type { Graph, GraphNode } from "@/lib/api";
import { KIND_FILL, KIND_STROKE } from "@/lib/colors";
import { BOX, edgePath, layout } from "@/lib/dag";
import { Empty } from "./States";

/** A pipeline's steps (or the lineage graph) in layers, left to right; generated steps dashed. */
export function DagGraph({ graph, href, testid = "dag" }: {
  graph: Graph; href?: (node: GraphNode) => string | undefined; testid?: string;
}) {
  if (graph.nodes.length === 0) return <Empty>Nothing to draw yet.</Empty>;
  const l = layout(graph);
  return (
    <div className="overflow-x-auto">
      <svg data-testid={testid} width={l.width} height={l.height} role="img" aria-label="graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" fill="#a8a29e" />
          </marker>
        </defs>
        {l.edges.map((e, i) => (
          <path key={i} d={edgePath(e.source, e.target)} fill="none" stroke="#a8a29e" strokeWidth={1.5}
            markerEnd="url(#arrow)" />
        ))}
        {l.nodes.map(({ node, x, y }) => {
          const link = href?.(node);
          // Paths and URLs are long: the box shows the last part, the tooltip the whole id.
          const short = node.label.replace(/\/+$/, "").split("/").pop() || node.label;
          const look = node.id === "dead_letter" ? "dead_letter" : node.kind;
          const box = (
            <g data-testid="dag-node" data-kind={node.kind} data-id={node.id}>
              <title>{`${node.label}\n${node.kind}${node.type ? ` (${node.type})` : ""}${node.line ? ` — line ${node.line}` : ""}`}</title>
              <rect x={x} y={y} width={BOX.w} height={BOX.h} rx={10}
                fill={KIND_FILL[look] ?? "#f5f5f4"} stroke={KIND_STROKE[look] ?? "#78716c"}
                strokeWidth={1.5} strokeDasharray={node.generated ? "5 3" : undefined} />
              <text x={x + 10} y={y + 19} fontSize={12} fontWeight={600} fill="#1c1917">
                {short.length > 22 ? `${short.slice(0, 21)}…` : short}
              </text>
              <text x={x + 10} y={y + 35} fontSize={10} fill="#57534e">
                {node.kind}{node.type && node.type.length < 16 ? ` · ${node.type}` : ""}{node.line ? ` · L${node.line}` : ""}
              </text>
            </g>
          );
          return link ? <Link key={node.id} href={link}>{box}</Link> : <g key={node.id}>{box}</g>;
        })}
      </svg>
    </div>
  );
}
