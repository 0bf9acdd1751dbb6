import Link from "next/link";
import type { Run } from "@/lib/api";
import { ago, count, duration } from "@/lib/format";
import { StatusBadge } from "./StatusBadge";

/** Runs, newest first, each linking to its run page. */
export function RunTable({ runs, showPipeline = false }: { runs: Run[]; showPipeline?: boolean }) {
  return (
    <table data-testid="run-table" className="w-full text-left text-sm">
      <thead className="border-b text-xs uppercase text-stone-500">
        <tr>
          <th className="py-1 pr-3">Run</th>
          {showPipeline && <th className="pr-3">Pipeline</th>}
          <th className="pr-3">Status</th>
          <th className="pr-3">Kind</th>
          <th className="pr-3">Created</th>
          <th className="pr-3 text-right">Duration</th>
          <th className="pr-3 text-right">Read</th>
          <th className="pr-3 text-right">Loaded</th>
          <th className="text-right">Dead-lettered</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id} data-testid="run-row" data-run-id={r.id} className="border-b border-stone-100">
            <td className="py-1 pr-3 font-mono text-xs">
              <Link className="text-blue-700 hover:underline" href={`/run/?id=${encodeURIComponent(r.id)}`}>{r.id.slice(0, 12)}</Link>
            </td>
            {showPipeline && (
              <td className="pr-3">
                <Link className="text-blue-700 hover:underline" href={`/pipeline/?name=${encodeURIComponent(r.pipeline)}`}>{r.pipeline}</Link>
              </td>
            )}
            <td className="pr-3"><StatusBadge status={r.status} /></td>
            <td className="pr-3">{r.kind}</td>
            <td className="pr-3" title={r.created_at}>{ago(r.created_at)}</td>
            <td className="pr-3 text-right">{duration(r.seconds)}</td>
            <td className="pr-3 text-right">{count(r.rows_read)}</td>
            <td className="pr-3 text-right">{count(r.rows_loaded)}</td>
            <td className="text-right">{count(r.rows_dead_lettered)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
