"use client";
// Overview: what ran in the last 24 h, what is failing, what is stale, what runs now.
import Link from "next/link";
import { api, type PipelineSummary } from "@/lib/api";
import { ago } from "@/lib/format";
import { useApi } from "@/lib/useApi";
import { PipelineLink } from "@/components/PipelineLink";
import { RunTable } from "@/components/RunTable";
import { Section } from "@/components/Section";
import { StackedBars, StatusLegend } from "@/components/StackedBars";
import { Empty, ErrorState, Loading } from "@/components/States";
import { StatusBadge } from "@/components/StatusBadge";

function PipelineList({ items, why, testid }: {
  items: PipelineSummary[]; why: (p: PipelineSummary) => string; testid: string;
}) {
  return (
    <ul data-testid={testid} className="divide-y divide-stone-100">
      {items.map((p) => (
        <li key={p.name} className="flex items-center justify-between gap-2 py-1.5 text-sm">
          <span className="flex items-center gap-2"><PipelineLink name={p.name} /><StatusBadge status={p.status} /></span>
          <span className="text-right text-xs text-stone-500">{why(p)}</span>
        </li>
      ))}
    </ul>
  );
}

export default function OverviewPage() {
  const { data, error, loading } = useApi(() => api.overview(24), [], 5000);
  if (loading) return <Loading what="Loading the overview" />;
  if (error && !data) return <ErrorState error={error} title="Could not load the overview" />;
  if (!data) return null;
  const total = Object.values(data.runs_by_status).reduce((a, b) => a + b, 0);
  return (
    <div data-testid="overview">
      <h1 className="mb-4 text-2xl font-bold">Overview</h1>
      {error && <ErrorState error={error} title="Could not refresh (showing the last answer)" />}
      <Section title={`Runs in the last 24 h (${total})`} testid="runs-24h">
        {total === 0 ? (
          <Empty>No runs in the last 24 hours — open <Link className="text-blue-700 underline" href="/pipelines/">Pipelines</Link> and press Run now, or wait for a schedule.</Empty>
        ) : (
          <>
            <StatusLegend counts={data.runs_by_status} />
            <div className="mt-3"><StackedBars buckets={data.runs_by_hour} /></div>
          </>
        )}
      </Section>
      <div className="grid gap-6 md:grid-cols-2">
        <Section title={`Failing (${data.failing.length})`} testid="failing">
          {data.failing.length === 0 ? <Empty>No pipeline&apos;s newest run failed.</Empty> : (
            <PipelineList testid="failing-list" items={data.failing}
              why={(p) => `failed ${ago(p.last_run?.finished_at ?? p.last_run?.created_at)}`} />
          )}
        </Section>
        <Section title={`Stale (${data.stale.length})`} testid="stale">
          {data.stale.length === 0 ? <Empty>Every pipeline is within its freshness limit and compiles.</Empty> : (
            <PipelineList testid="stale-list" items={data.stale}
              why={(p) => p.error ? `does not compile: ${p.error}` : `last success ${ago(p.last_success_at)}`} />
          )}
        </Section>
      </div>
      <Section title={`Active runs (${data.active.length})`} testid="active">
        {data.active.length === 0 ? <Empty>Nothing is queued or running right now.</Empty>
          : <RunTable runs={data.active} showPipeline />}
      </Section>
    </div>
  );
}
