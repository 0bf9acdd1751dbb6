import Link from "next/link";
import { when } from "@/lib/format";
import type { SchemaChange } from "@/lib/governance";
import { PipelineLink, runHref } from "./PipelineLink";

/** Each schema change: what was added, removed or retyped, and what reads the dataset downstream. */
export function SchemaChanges({ changes }: { changes: SchemaChange[] }) {
  if (changes.length === 0) return <p data-testid="schema-changes-none" className="text-xs text-stone-500">The schema has not changed.</p>;
  return (
    <ul className="space-y-2">
      {[...changes].reverse().map((c) => (
        <li key={c.version} data-testid="schema-change" data-version={c.version} className="rounded border border-amber-300 bg-amber-50 p-2 text-xs">
          <div className="font-medium">
            Version {c.version} · {when(c.at)} · run <Link href={runHref(c.run_id)} className="font-mono text-blue-700 hover:underline">{c.run_id}</Link>
          </div>
          <div className="mt-1 font-mono">
            {c.added.length > 0 && <span className="mr-3 text-green-800">+ {c.added.join(", ")}</span>}
            {c.removed.length > 0 && <span className="mr-3 text-red-800">− {c.removed.join(", ")}</span>}
            {c.retyped.length > 0 && <span className="text-amber-900">~ {c.retyped.join(", ")}</span>}
          </div>
          <div className="mt-1 flex flex-wrap items-center gap-2">
            <span className="text-stone-600">Downstream:</span>
            {c.downstream_pipelines.length + c.downstream_models.length === 0 ? <span className="text-stone-400">nothing reads it</span> : (
              <>
                {c.downstream_pipelines.map((p) => <PipelineLink key={p} name={p} />)}
                {c.downstream_models.map((m) => <span key={m} data-testid="downstream-model" className="rounded bg-amber-100 px-1 font-mono">dbt: {m}</span>)}
              </>
            )}
          </div>
        </li>
      ))}
    </ul>
  );
}
