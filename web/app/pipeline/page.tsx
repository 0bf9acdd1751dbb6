"use client";
// One pipeline: its graph, its file, how its runs went, its quality, when it runs next.
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { api } from "@/lib/api";
import { ago, when } from "@/lib/format";
import { useApi } from "@/lib/useApi";
import { DagGraph } from "@/components/DagGraph";
import { allows, PipelineActions } from "@/components/PipelineActions";
import { can } from "@/lib/access";
import { useSession } from "@/lib/session";
import { QualityTrend } from "@/components/QualityTrend";
import { RunCharts } from "@/components/RunCharts";
import { RunTable } from "@/components/RunTable";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";
import { PausedBadge, StatusBadge } from "@/components/StatusBadge";
import { ValidateBox } from "@/components/ValidateBox";
import { YamlView } from "@/components/YamlView";

function Pipeline({ name }: { name: string }) {
  const detail = useApi(() => api.pipeline(name), [name], 5000);
  const runs = useApi(() => api.runs({ pipeline: name, limit: 50 }), [name], 5000);
  const schedule = useApi(() => api.schedule(name, 10), [name]);
  const quality = useApi(() => api.quality(name, 200), [name]);
  const { me } = useSession();
  const p = detail.data;
  if (detail.loading) return <Loading what={`Loading ${name}`} />;
  if (!p) return detail.error ? <ErrorState error={detail.error} title={`Could not load pipeline ${name}`} /> : <Loading />;
  const reload = () => { detail.reload(); runs.reload(); schedule.reload(); };
  return (
    <div data-testid="pipeline-page" data-pipeline={p.name}>
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <div>
          <h1 className="flex items-center gap-2 text-2xl font-bold">
            {p.name} <StatusBadge status={p.status} /> {p.paused && <PausedBadge />}
          </h1>
          <div className="font-mono text-xs text-stone-500">{p.file} · revision {p.revision.slice(0, 12)}</div>
        </div>
        <PipelineActions pipeline={p} onChange={reload} />
      </div>
      {p.error && <ErrorState error={{ type: "invalid_pipeline", message: p.error, problems: [] }}
        title="The newest file does not compile (the last good revision keeps running)" />}
      {p.warnings.map((w, i) => <p key={i} className="mb-2 text-sm text-amber-800">⚠ {w}</p>)}
      <Section title="Steps" testid="steps-graph"><DagGraph graph={p.graph} /></Section>
      <Section title="Runs" testid="runs">
        {runs.error && <ErrorState error={runs.error} title="Could not load the runs" />}
        {runs.loading ? <Loading what="Loading runs" /> : runs.data && runs.data.items.length === 0 ? (
          <Empty testid="runs-empty">No runs yet — {allows(p, "runs.trigger") ? "press Run now" : "starting one needs the runs.trigger permission"}{p.schedule ? <>, or wait for the schedule <code>{p.schedule}</code></> : ""}.</Empty>
        ) : runs.data && (
          <>
            <RunCharts runs={runs.data.items} />
            <div className="mt-4 overflow-x-auto"><RunTable runs={runs.data.items} /></div>
          </>
        )}
      </Section>
      <div className="grid gap-6 lg:grid-cols-3">
        <div className="lg:col-span-2">
          <Section title="Quality per rule" testid="quality">
            {quality.error ? <ErrorState error={quality.error} title="Could not load quality results" />
              : quality.data ? <QualityTrend points={quality.data.points} /> : <Loading />}
          </Section>
        </div>
        <Section title="Next runs" testid="schedule">
          {schedule.error ? <ErrorState error={schedule.error} /> : !schedule.data ? <Loading /> : !schedule.data.schedule ? (
            <Empty>No schedule — this pipeline runs when triggered. Add <code>schedule: &quot;0 * * * *&quot;</code> to run it hourly.</Empty>
          ) : (
            <div>
              <div className="mb-2 font-mono text-sm">{schedule.data.schedule}{schedule.data.timezone ? ` (${schedule.data.timezone})` : ""}</div>
              {schedule.data.paused && <p className="mb-2 text-sm text-stone-600">Paused — press Resume to run on schedule again.</p>}
              <ul data-testid="next-runs" className="space-y-0.5 text-sm">
                {schedule.data.next.map((t) => <li key={t}>{when(t)} <span className="text-stone-500">({ago(t)})</span></li>)}
              </ul>
            </div>
          )}
        </Section>
      </div>
      <div className="grid gap-6 lg:grid-cols-2">
        <Section title={p.file} testid="yaml-section"><YamlView text={p.yaml} /></Section>
        {/* Checking a change is a read (viewers may); saving one needs pipelines.write. */}
        {me && !can(me, "pipelines.validate", p.name) ? null : (
          <Section title="Validate a change" testid="validate">
            <ValidateBox initial={p.yaml} filename={p.file} canWrite={allows(p, "pipelines.write")} />
          </Section>
        )}
      </div>
    </div>
  );
}

function FromQuery() {
  const name = useSearchParams().get("name");
  if (!name) return <Empty>Pick a pipeline on the <a className="text-blue-700 underline" href="/pipelines/">Pipelines</a> page.</Empty>;
  return <Pipeline key={name} name={name} />;
}

export default function PipelinePage() {
  return <Suspense fallback={<Loading />}><FromQuery /></Suspense>;
}
