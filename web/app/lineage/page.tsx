"use client";
// Lineage: which pipelines write and read which datasets, and how each dataset's schema changed.
import { useSearchParams } from "next/navigation";
import { Suspense, useEffect } from "react";
import { api, type Dataset, type GraphNode } from "@/lib/api";
import { when } from "@/lib/format";
import { useApi } from "@/lib/useApi";
import { DagGraph } from "@/components/DagGraph";
import { PipelineLink, pipelineHref, runHref } from "@/components/PipelineLink";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";
import Link from "next/link";

function Names({ names, none }: { names: string[]; none: string }) {
  if (names.length === 0) return <span className="text-xs text-stone-400">{none}</span>;
  return <span className="flex flex-wrap gap-2">{names.map((n) => <PipelineLink key={n} name={n} />)}</span>;
}

function DatasetCard({ dataset, selected }: { dataset: Dataset; selected: boolean }) {
  const [latest, ...older] = dataset.schema_history;
  return (
    <div id={`ds-${dataset.id}`} data-testid="dataset" data-dataset={dataset.id}
      className={`rounded-md border p-3 ${selected ? "border-blue-500 ring-2 ring-blue-200" : "border-stone-200"}`}>
      <div className="font-mono text-sm font-semibold">{dataset.name}</div>
      <div className="mb-2 font-mono text-xs text-stone-500">{dataset.namespace}</div>
      <div className="grid grid-cols-[6rem_1fr] gap-1 text-sm">
        <span className="text-xs uppercase text-stone-500">Producers</span>
        <Names names={dataset.producers} none="no pipeline writes it" />
        <span className="text-xs uppercase text-stone-500">Consumers</span>
        <Names names={dataset.consumers} none="no pipeline reads it" />
      </div>
      {latest ? (
        <details className="mt-2" open={selected}>
          <summary className="cursor-pointer text-xs text-stone-600">
            Schema: {latest.fields.length} field(s), {dataset.schema_history.length} version(s), newest seen {when(latest.first_seen)}
          </summary>
          {dataset.schema_history.map((v, i) => (
            <div key={`${v.run_id}-${i}`} data-testid="schema-version" className="mt-2 border-l-2 border-stone-200 pl-2">
              <div className="text-xs text-stone-500">
                {i === 0 ? "current" : `version ${dataset.schema_history.length - i}`} · first seen {when(v.first_seen)} in run{" "}
                <Link className="font-mono text-blue-700 hover:underline" href={runHref(v.run_id)}>{v.run_id.slice(0, 12)}</Link>
              </div>
              <div className="flex flex-wrap gap-1 font-mono text-xs">
                {v.fields.map((f, j) => (
                  <span key={j} className="rounded bg-stone-100 px-1">{f.name ?? Object.values(f)[0]}: {f.type ?? Object.values(f)[1]}</span>
                ))}
              </div>
            </div>
          ))}
          {older.length === 0 && <p className="mt-1 text-xs text-stone-400">The schema has not changed.</p>}
        </details>
      ) : <p className="mt-2 text-xs text-stone-400">No schema recorded yet — it is recorded when a run writes or reads it.</p>}
    </div>
  );
}

function LineageView() {
  const selected = useSearchParams().get("dataset");
  const { data, error, loading } = useApi(() => api.lineage(), []);
  useEffect(() => {
    if (data && selected) document.getElementById(`ds-${selected}`)?.scrollIntoView({ block: "center" });
  }, [data, selected]);
  if (loading) return <Loading what="Loading lineage" />;
  if (!data) return error ? <ErrorState error={error} title="Could not load lineage" /> : <Loading />;
  const href = (node: GraphNode) =>
    node.kind === "pipeline" ? pipelineHref(node.label) : `/lineage/?dataset=${encodeURIComponent(node.id)}`;
  return (
    <div data-testid="lineage">
      <h1 className="mb-4 text-2xl font-bold">Lineage</h1>
      {data.datasets.length === 0 ? (
        <Empty>No lineage yet — datasets appear after a pipeline&apos;s first run. Run one from the <a className="text-blue-700 underline" href="/pipelines/">Pipelines</a> page.</Empty>
      ) : (
        <>
          <Section title="Datasets and pipelines" testid="lineage-graph"><DagGraph graph={data.graph} href={href} testid="lineage-dag" /></Section>
          <Section title={`${data.datasets.length} dataset(s)`} testid="datasets">
            <div className="grid gap-3 md:grid-cols-2">
              {data.datasets.map((d) => <DatasetCard key={d.id} dataset={d} selected={d.id === selected} />)}
            </div>
          </Section>
        </>
      )}
    </div>
  );
}

export default function LineagePage() {
  return <Suspense fallback={<Loading />}><LineageView /></Suspense>;
}
