"use client";
// Quality: is any pipeline failing its rules or dead-lettering more than usual, and did any
// dataset's volume or schema change? Per pipeline and per dataset, over time.
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { api } from "@/lib/api";
import { ago, count } from "@/lib/format";
import { datasetHref, governance, shortKey, type CatalogDataset, type QualitySummaryRow } from "@/lib/governance";
import { useApi } from "@/lib/useApi";
import { LineChart } from "@/components/LineChart";
import { PipelineQuality, rate } from "@/components/PipelineQuality";
import { SchemaChanges } from "@/components/SchemaChanges";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";
import { StatusBadge } from "@/components/StatusBadge";
import { VolumeChart } from "@/components/VolumeChart";

const qualityHref = (name: string) => `/quality/?pipeline=${encodeURIComponent(name)}`;

function PipelineRow({ p, status, selected }: { p: QualitySummaryRow; status?: string; selected: boolean }) {
  return (
    <tr data-testid="quality-pipeline" data-pipeline={p.name} data-pass-rate={p.pass_rate ?? ""}
      data-dead-letter-rate={p.dead_letter_rate ?? ""} data-anomalies={p.anomalies}
      className={`border-b border-stone-100 ${selected ? "bg-blue-50" : ""}`}>
      <td className="py-1 pr-3"><Link href={qualityHref(p.name)} className="font-medium text-blue-700 hover:underline">{p.name}</Link></td>
      <td className="pr-3">{status ? <StatusBadge status={status} /> : null}</td>
      <td className="pr-3 text-xs" title={p.last_run ?? ""}>{p.last_run ? ago(p.last_run) : "never"}</td>
      <td data-testid="quality-pass-rate" className="pr-3 text-right text-xs tabular-nums">
        {p.pass_rate === null || p.pass_rate === undefined ? <span className="text-stone-400">no rules</span>
          : <span className={p.pass_rate === 1 ? "text-green-700" : "text-red-700"}>{rate(p.pass_rate)}</span>}
      </td>
      <td data-testid="quality-dead-letter-rate" className="pr-3 text-right text-xs tabular-nums">{rate(p.dead_letter_rate)}</td>
      <td className="text-right text-xs">{p.anomalies ? <span className="font-medium text-red-700">⚠ {p.anomalies}</span> : <span className="text-green-700">none</span>}</td>
    </tr>
  );
}

function DatasetRow({ d }: { d: CatalogDataset }) {
  const [open, setOpen] = useState(false);
  const q = useApi(() => governance.datasetQuality(d.key, 200), [d.key]);
  const last = q.data?.volume[q.data.volume.length - 1];
  return (
    <>
      <tr data-testid="quality-dataset" data-key={d.key} data-anomalies={q.data?.anomalies ?? ""}
        data-changes={q.data?.schema_changes.length ?? ""} className="border-b border-stone-100">
        <td className="py-1 pr-3">
          <button type="button" onClick={() => setOpen(!open)} data-testid="quality-dataset-toggle" className="mr-1 text-stone-500">{open ? "▾" : "▸"}</button>
          <Link href={datasetHref(d.key)} className="font-mono text-xs text-blue-700 hover:underline">{shortKey(d.key)}</Link>
        </td>
        <td className="pr-3 text-right text-xs tabular-nums">{count(last?.rows)}</td>
        <td className="pr-3 text-right text-xs tabular-nums">{last?.median === null || last?.median === undefined ? "—" : count(Math.round(last.median))}</td>
        <td className="pr-3 text-xs">{q.error ? <span className="text-red-700">could not load</span> : !q.data ? "…"
          : q.data.anomalies ? <span className="font-medium text-red-700">⚠ {q.data.anomalies}</span> : <span className="text-green-700">none</span>}</td>
        <td className="pr-3 text-xs">{q.data ? (q.data.schema_changes.length ? <span className="font-medium text-amber-800">{q.data.schema_changes.length}</span> : "none") : "…"}</td>
        <td className="text-xs" title={d.last_written ?? d.last_read ?? ""}>{d.last_written ? `written ${ago(d.last_written)}` : d.last_read ? `read ${ago(d.last_read)}` : "—"}</td>
      </tr>
      {open && q.data && (
        <tr><td colSpan={6} className="bg-stone-50 p-3">
          <div className="grid gap-4 md:grid-cols-2">
            <div><div className="mb-1 text-xs font-medium text-stone-600">Rows per run</div><VolumeChart points={q.data.volume} testid="dataset-volume-chart" /></div>
            <Freshness name={d.key} />
          </div>
          <div className="mt-2"><SchemaChanges changes={q.data.schema_changes} /></div>
        </td></tr>
      )}
    </>
  );
}

/** Time between a dataset's writes, run by run (GET /api/v1/quality/datasets). */
function Freshness({ name }: { name: string }) {
  const history = useApi(() => governance.datasetHistory(name), [name]);
  if (history.error && !history.data) return <ErrorState error={history.error} title="Could not load the freshness" />;
  const points = (history.data?.points ?? []).filter((p) => p.freshness_s !== null && p.freshness_s !== undefined);
  if (!history.data) return <Loading what="Loading freshness" />;
  if (points.length === 0) return <p data-testid="freshness-none" className="text-xs text-stone-500">Freshness needs two writes: one so far.</p>;
  const top = Math.max(...points.map((p) => p.freshness_s ?? 0));
  const [unit, per] = top < 120 ? ["s", 1] : top < 7200 ? ["min", 60] : ["h", 3600];
  return (
    <div data-testid="freshness-chart" data-points={points.length}>
      <div className="mb-1 text-xs font-medium text-stone-600">Time since the previous write ({unit})</div>
      <LineChart height={140} unit={` ${unit}`} labels={points.map((p) => new Date(p.at).toLocaleString())}
        series={[{ name: unit, colour: "#7c3aed", values: points.map((p) => (p.freshness_s ?? 0) / per) }]} />
    </div>
  );
}

function QualityView() {
  const selected = useSearchParams().get("pipeline");
  const summary = useApi(() => governance.qualitySummary(50), []);
  const pipelines = useApi(() => api.pipelines(), []);
  const datasets = useApi(() => governance.catalog(), []);
  if (summary.loading) return <Loading what="Loading quality" />;
  if (!summary.data) return <ErrorState error={summary.error!} title="Could not load the quality summary" />;
  const items = summary.data.pipelines;
  const status = new Map((pipelines.data?.items ?? []).map((p) => [p.name, p.status]));
  const shown = (datasets.data ?? []).filter((d) => !d.dead_letter);
  return (
    <div data-testid="quality-page">
      <h1 className="mb-4 text-2xl font-bold">Quality</h1>
      <Section title="Pipelines — over their newest 50 runs" testid="quality-pipelines">
        {items.length === 0 ? <Empty testid="quality-pipelines-empty">No pipelines are served yet — add a pipeline file to the server&apos;s folder.</Empty> : (
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm">
              <thead className="border-b text-xs uppercase text-stone-500">
                <tr><th className="py-1 pr-3">Pipeline</th><th className="pr-3">Status</th><th className="pr-3">Last run</th><th className="pr-3 text-right">Rule pass rate</th>
                  <th className="pr-3 text-right">Dead-letter rate</th><th className="text-right">Volume anomalies</th></tr>
              </thead>
              <tbody>{items.map((p) => <PipelineRow key={p.name} p={p} status={status.get(p.name)} selected={p.name === selected} />)}</tbody>
            </table>
          </div>
        )}
        <p className="mt-2 text-xs text-stone-500">Open a pipeline for its rule results, dead-letter rate and rows over time.</p>
      </Section>
      {selected && (
        <Section title={`${selected} over time`} testid="quality-detail"
          actions={<Link href="/quality/" className="text-xs text-blue-700 hover:underline">close</Link>}>
          <PipelineQuality name={selected} />
        </Section>
      )}
      <Section title="Datasets — rows per run, anomalies, schema changes" testid="quality-datasets">
        {datasets.error && !datasets.data ? <ErrorState error={datasets.error} title="Could not load the datasets" />
          : !datasets.data ? <Loading /> : shown.length === 0 ? (
            <Empty testid="quality-datasets-empty">No datasets yet — they appear after a pipeline&apos;s first run.</Empty>
          ) : (
            <div className="overflow-x-auto">
              <table className="w-full text-left text-sm">
                <thead className="border-b text-xs uppercase text-stone-500">
                  <tr><th className="py-1 pr-3">Dataset</th><th className="pr-3 text-right">Rows (last)</th><th className="pr-3 text-right">Rolling median</th>
                    <th className="pr-3">Volume anomalies</th><th className="pr-3">Schema changes</th><th>Freshness</th></tr>
                </thead>
                <tbody>{shown.map((d) => <DatasetRow key={d.key} d={d} />)}</tbody>
              </table>
            </div>
          )}
      </Section>
    </div>
  );
}

export default function QualityPage() {
  return <Suspense fallback={<Loading />}><QualityView /></Suspense>;
}
