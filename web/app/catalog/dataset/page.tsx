"use client";
// One dataset: its columns with PII class and protection and the latest profile, row counts
// per run, freshness, owners and tags, the pipelines that read and write it, the dbt models on
// it, and how its schema changed.
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { ago, count, when } from "@/lib/format";
import { governance, shortKey, type CatalogDatasetDetail, type ColumnProfile } from "@/lib/governance";
import { useApi } from "@/lib/useApi";
import { PiiBadge } from "@/components/PiiBadge";
import { PipelineLink, runHref } from "@/components/PipelineLink";
import { SchemaChanges } from "@/components/SchemaChanges";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";
import { VolumeChart } from "@/components/VolumeChart";

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);
const val = (v: unknown) => (v === null || v === undefined ? "—" : String(v));

function latestProfile(d: CatalogDatasetDetail) {
  return d.runs.find((r) => r.profile?.columns?.length);
}

function Columns({ d }: { d: CatalogDatasetDetail }) {
  const run = latestProfile(d);
  const profiles = new Map<string, ColumnProfile>((run?.profile?.columns ?? []).map((c) => [c.name, c]));
  if (d.columns.length === 0) return <Empty>No schema recorded yet — it is recorded when a run writes or reads this dataset.</Empty>;
  return (
    <>
      <div className="overflow-x-auto">
        <table data-testid="column-table" className="w-full text-left text-sm">
          <thead className="border-b text-xs uppercase text-stone-500">
            <tr><th className="py-1 pr-3">Column</th><th className="pr-3">Type</th><th className="pr-3">Personal data</th>
              <th className="pr-3 text-right">Null share</th><th className="pr-3 text-right">Distinct</th><th className="pr-3">Min</th><th>Max</th></tr>
          </thead>
          <tbody>
            {d.columns.map((c) => {
              const p = profiles.get(c.name);
              return (
                <tr key={c.name} data-testid="column-row" data-column={c.name} data-pii={c.pii ?? ""} data-protection={c.protection ?? ""}
                  className="border-b border-stone-100">
                  <td className="py-1 pr-3 font-mono">{c.name}</td>
                  <td className="pr-3 font-mono text-xs text-stone-600">{c.type}</td>
                  <td className="pr-3">{c.pii ? <PiiBadge column={c.name} pii={c.pii} protection={c.protection} /> : <span className="text-xs text-stone-400">—</span>}
                    {c.protected_by && <span className="ml-1 text-xs text-stone-500">by {c.protected_by}</span>}</td>
                  <td data-testid="profile-null" className="pr-3 text-right text-xs tabular-nums">{p ? pct(p.null_rate ?? (p.rows ? (p.nulls ?? 0) / p.rows : null)) : "—"}</td>
                  <td className="pr-3 text-right text-xs tabular-nums">{p ? count(p.distinct) : "—"}</td>
                  <td className="pr-3 font-mono text-xs">{p ? val(p.min) : "—"}</td>
                  <td className="font-mono text-xs">{p ? val(p.max) : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p data-testid="profile-source" className="mt-2 text-xs text-stone-500">
        {run ? <>Profile of run <Link className="font-mono text-blue-700 hover:underline" href={runHref(run.run_id)}>{run.run_id}</Link> ({run.pipeline}, {when(run.at)}), over a sample of {count(run.profile?.rows)} row(s); text values are never kept.</>
          : "No profile yet — profiles are taken where a pipeline reads this dataset."}
      </p>
    </>
  );
}

function Users({ d }: { d: CatalogDatasetDetail }) {
  const by = (role: string) => d.users.filter((u) => u.role === role);
  const list = (role: string, none: string) => (by(role).length === 0 ? <span className="text-xs text-stone-400">{none}</span> : (
    <ul className="space-y-0.5">{by(role).map((u) => (
      <li key={`${u.pipeline}-${u.step}`} data-testid={role === "write" ? "dataset-writer" : "dataset-reader"} data-pipeline={u.pipeline} className="text-sm">
        <PipelineLink name={u.pipeline} /> <span className="font-mono text-xs text-stone-500">step {u.step} · {ago(u.last_run)}</span>
      </li>))}
    </ul>));
  return (
    <div className="grid grid-cols-[7rem_1fr] gap-2 text-sm">
      <span className="text-xs uppercase text-stone-500">Written by</span>{list("write", "no pipeline writes it")}
      <span className="text-xs uppercase text-stone-500">Read by</span>{list("read", "no pipeline reads it")}
      <span className="text-xs uppercase text-stone-500">dbt models</span>
      {d.models.length === 0 ? <span className="text-xs text-stone-400">no dbt model is built on it</span> : (
        <span className="flex flex-wrap gap-1">{d.models.map((m) => (
          <span key={m.model} data-testid="dataset-model" className="rounded bg-amber-100 px-1.5 font-mono text-xs">{m.model} <span className="text-stone-500">({m.pipeline})</span></span>))}</span>
      )}
    </div>
  );
}

function Dataset({ id }: { id: string }) {
  const detail = useApi(() => governance.dataset(id, 50), [id]);
  const quality = useApi(() => governance.datasetQuality(id, 200), [id]);
  const d = detail.data;
  if (detail.loading) return <Loading what="Loading the dataset" />;
  if (!d) return <ErrorState error={detail.error!} title={`Could not load dataset ${id}`} />;
  return (
    <div data-testid="dataset-page" data-key={d.key}>
      <div className="mb-1 text-sm"><Link href="/catalog/" className="text-blue-700 hover:underline">Catalog</Link> /</div>
      <h1 className="text-2xl font-bold"><span className="font-mono">{shortKey(d.key)}</span>
        {d.dead_letter && <span className="ml-2 rounded bg-amber-100 px-1.5 text-sm text-amber-900">dead letters</span>}</h1>
      <div className="mb-2 break-all font-mono text-xs text-stone-500">{d.key}</div>
      {d.description && <p className="mb-2 text-sm text-stone-700">{d.description}</p>}
      <div className="mb-4 flex flex-wrap gap-x-6 gap-y-1 text-sm">
        <span>Kind <b>{d.component}</b></span>
        <span data-testid="dataset-fresh" title={d.last_written ?? ""}>Last written <b>{d.last_written ? `${ago(d.last_written)} (${when(d.last_written)})` : "never"}</b></span>
        {d.last_read && <span>Last read <b>{ago(d.last_read)}</b></span>}
        <span>Rows (last run) <b data-testid="dataset-rows">{count(d.last_rows)}</b></span>
        <span>Owners <b data-testid="dataset-owners">{d.owners.join(", ") || "none declared"}</b></span>
        <span>Tags {d.tags.length ? d.tags.map((t) => <span key={t} className="ml-1 rounded bg-stone-100 px-1">#{t}</span>) : <b>none</b>}</span>
      </div>
      <Section title="Columns and latest profile" testid="dataset-columns"><Columns d={d} /></Section>
      <div className="grid gap-6 lg:grid-cols-2">
        <Section title="Rows per run" testid="dataset-volume">
          {quality.error ? <ErrorState error={quality.error} title="Could not load row counts" />
            : quality.data ? <VolumeChart points={quality.data.volume} /> : <Loading />}
        </Section>
        <Section title="Pipelines and dbt models" testid="dataset-users"><Users d={d} /></Section>
      </div>
      <Section title={`Schema history (${d.schema_history.length} version(s))`} testid="dataset-schema">
        {quality.data && <SchemaChanges changes={quality.data.schema_changes} />}
        {d.schema_history.length > 0 && (
          <details className="mt-2">
            <summary className="cursor-pointer text-xs text-stone-600">Every version</summary>
            {[...d.schema_history].reverse().map((v) => (
              <div key={v.version} data-testid="schema-version" className="mt-2 border-l-2 border-stone-200 pl-2 text-xs">
                <div className="text-stone-500">version {v.version} · {when(v.at)} · {v.pipeline}</div>
                <div className="flex flex-wrap gap-1 font-mono">{v.schema.map((f) => <span key={f.name} className="rounded bg-stone-100 px-1">{f.name}: {f.type}</span>)}</div>
              </div>
            ))}
          </details>
        )}
      </Section>
    </div>
  );
}

function DatasetView() {
  const key = useSearchParams().get("key");
  if (!key) return <Empty>No dataset named — open one from the <Link className="text-blue-700 underline" href="/catalog/">Catalog</Link>.</Empty>;
  return <Dataset id={key} />;
}

export default function DatasetPage() {
  return <Suspense fallback={<Loading />}><DatasetView /></Suspense>;
}
