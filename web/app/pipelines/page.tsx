"use client";
// Every pipeline the server serves: how it is doing, when it runs next, buttons to act.
import { api } from "@/lib/api";
import { ago, duration } from "@/lib/format";
import { useApi } from "@/lib/useApi";
import { PipelineActions } from "@/components/PipelineActions";
import { PipelineLink, runHref } from "@/components/PipelineLink";
import { Section } from "@/components/Section";
import { Sparkline } from "@/components/Sparkline";
import { Empty, ErrorState, Loading, Location } from "@/components/States";
import { PausedBadge, StatusBadge } from "@/components/StatusBadge";
import Link from "next/link";

export default function PipelinesPage() {
  const { data, error, loading, reload } = useApi(() => api.pipelines(), [], 5000);
  if (loading) return <Loading what="Loading pipelines" />;
  if (error && !data) return <ErrorState error={error} title="Could not load the pipelines" />;
  if (!data) return null;
  return (
    <div data-testid="pipelines">
      <h1 className="mb-4 text-2xl font-bold">Pipelines</h1>
      {data.problems.length > 0 && (
        <Section title="Files that do not compile" testid="pipeline-problems">
          <ul className="space-y-1 text-sm text-red-800">
            {data.problems.map((p, i) => (
              <li key={i}><Location error={p} /> {p.message}{p.hint ? ` → ${p.hint}` : ""}</li>
            ))}
          </ul>
        </Section>
      )}
      <Section title={`${data.items.length} pipeline(s)`}>
        {data.items.length === 0 ? (
          <Empty>No pipelines yet — put a <code>pipeline.yaml</code> in the folder <code>dteg server --pipelines</code> serves; it is picked up within seconds.</Empty>
        ) : (
          <div className="overflow-x-auto">
            <table data-testid="pipeline-table" className="w-full text-left text-sm">
              <thead className="border-b text-xs uppercase text-stone-500">
                <tr>
                  <th className="py-1 pr-3">Name</th><th className="pr-3">Status</th><th className="pr-3">Schedule</th>
                  <th className="pr-3">Next run</th><th className="pr-3">Last run</th><th className="pr-3">Recent durations</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {data.items.map((p) => (
                  <tr key={p.name} data-testid="pipeline-row" data-pipeline={p.name} className="border-b border-stone-100 align-middle">
                    <td className="py-2 pr-3">
                      <PipelineLink name={p.name} />
                      <div className="font-mono text-xs text-stone-500">{p.file}</div>
                    </td>
                    <td className="pr-3">
                      <span className="inline-flex gap-1"><StatusBadge status={p.status} />{p.paused && <PausedBadge />}</span>
                      {p.error && <div className="mt-1 max-w-xs text-xs text-red-700">{p.error}</div>}
                    </td>
                    <td className="pr-3 font-mono text-xs">{p.schedule ?? <span className="text-stone-400">manual</span>}</td>
                    <td className="pr-3 text-xs" title={p.next_run_at ?? ""}>{p.paused ? "paused" : ago(p.next_run_at)}</td>
                    <td className="pr-3 text-xs">
                      {p.last_run ? (
                        <Link href={runHref(p.last_run.id)} className="inline-flex items-center gap-1 hover:underline">
                          <StatusBadge status={p.last_run.status} testid="last-run-status" />
                          {ago(p.last_run.finished_at ?? p.last_run.created_at)} · {duration(p.last_run.seconds)}
                        </Link>
                      ) : <span className="text-stone-400">never</span>}
                    </td>
                    <td className="pr-3"><Sparkline values={p.recent_seconds} /></td>
                    <td className="text-right"><PipelineActions pipeline={p} onChange={reload} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}
