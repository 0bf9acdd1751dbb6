"use client";
// One pipeline's quality over time: rule results per run, the dead-letter rate, rows in and
// loaded — from the runs and the quality history the API keeps.
import Link from "next/link";
import { api, type Run } from "@/lib/api";
import { count, when } from "@/lib/format";
import { useApi } from "@/lib/useApi";
import { LineChart } from "./LineChart";
import { runHref } from "./PipelineLink";
import { QualityTrend } from "./QualityTrend";
import { Empty, ErrorState, Loading } from "./States";

/** Dead-lettered rows over rows read, or null when nothing was read. */
export function deadLetterRate(run: Run): number | null {
  const read = run.rows_read ?? 0;
  return read ? (run.rows_dead_lettered ?? 0) / read : null;
}

export const rate = (v: number | null | undefined) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);

export function PipelineQuality({ name }: { name: string }) {
  const runs = useApi(() => api.runs({ pipeline: name, limit: 100 }), [name]);
  const quality = useApi(() => api.quality(name, 500), [name]);
  if (runs.loading || quality.loading) return <Loading what={`Loading quality of ${name}`} />;
  if (runs.error && !runs.data) return <ErrorState error={runs.error} title={`Could not load the runs of ${name}`} />;
  const done = (runs.data?.items ?? []).filter((r) => r.finished_at).reverse();
  const labels = done.map((r) => `${when(r.finished_at)} (${r.status})`);
  return (
    <div data-testid="pipeline-quality" data-pipeline={name}>
      {done.length === 0 ? (
        <Empty testid="quality-runs-empty">No finished run of {name} yet — quality is measured on every run.</Empty>
      ) : (
        <>
          <div className="grid gap-4 md:grid-cols-2">
            <div>
              <div className="mb-1 text-xs font-medium text-stone-600">Dead-letter rate per run</div>
              <LineChart testid="chart-dead-letter-rate" labels={labels} unit="%"
                series={[{ name: "dead-lettered %", colour: "#dc2626", values: done.map((r) => { const v = deadLetterRate(r); return v === null ? null : v * 100; }) }]} />
            </div>
            <div>
              <div className="mb-1 text-xs font-medium text-stone-600">Rows per run</div>
              <LineChart testid="chart-quality-rows" labels={labels}
                series={[{ name: "read", values: done.map((r) => r.rows_read ?? null) },
                  { name: "loaded", values: done.map((r) => r.rows_loaded ?? null), colour: "#16a34a" }]} />
            </div>
          </div>
          <div className="mt-3 max-h-72 overflow-y-auto">
            <table data-testid="quality-run-table" className="w-full text-left text-xs">
              <thead className="sticky top-0 border-b bg-white uppercase text-stone-500">
                <tr><th className="py-1 pr-3">Run</th><th className="pr-3">Finished</th><th className="pr-3">Status</th>
                  <th className="pr-3 text-right">Read</th><th className="pr-3 text-right">Loaded</th><th className="pr-3 text-right">Dead-lettered</th><th className="text-right">Rate</th></tr>
              </thead>
              <tbody>
                {[...done].reverse().map((r) => (
                  <tr key={r.id} data-testid="quality-run" data-run={r.id} data-read={r.rows_read ?? ""} data-loaded={r.rows_loaded ?? ""}
                    data-dead={r.rows_dead_lettered ?? ""} className="border-b border-stone-100">
                    <td className="py-0.5 pr-3"><Link href={runHref(r.id)} className="font-mono text-blue-700 hover:underline">{r.id}</Link></td>
                    <td className="pr-3">{when(r.finished_at)}</td>
                    <td className="pr-3">{r.status}</td>
                    <td className="pr-3 text-right tabular-nums">{count(r.rows_read)}</td>
                    <td className="pr-3 text-right tabular-nums">{count(r.rows_loaded)}</td>
                    <td className="pr-3 text-right tabular-nums">{count(r.rows_dead_lettered)}</td>
                    <td data-testid="quality-run-rate" className="text-right tabular-nums">{rate(deadLetterRate(r))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <div className="mt-4">
        <div className="mb-1 text-xs font-medium text-stone-600">Rule results per run (share of rows failing each rule)</div>
        {quality.error && !quality.data ? <ErrorState error={quality.error} title="Could not load rule results" />
          : <QualityTrend points={quality.data?.points ?? []} />}
      </div>
    </div>
  );
}
