"use client";
// One run: did it work, where did the rows go, and if not, why — followed live while it runs.
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useCallback, useEffect, useRef, useState } from "react";
import { api, isFinished, type Run, type RunDetail } from "@/lib/api";
import { can } from "@/lib/access";
import { useSession } from "@/lib/session";
import { count, duration, when } from "@/lib/format";
import { useApi } from "@/lib/useApi";
import { ActionButton } from "@/components/ActionButton";
import { LogTail } from "@/components/LogTail";
import { PipelineLink, runHref } from "@/components/PipelineLink";
import { RecordTable } from "@/components/RecordTable";
import { DbtResults, QualityResults } from "@/components/RunResults";
import { RunError } from "@/components/RunError";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";
import { StatusBadge } from "@/components/StatusBadge";
import { StepTable } from "@/components/StepTable";

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <dt className="text-xs uppercase text-stone-500">{label}</dt>
      <dd className="text-sm">{children}</dd>
    </div>
  );
}

/** What the caller may do with a run: its pipeline's `permissions` (they know restricted
 * pipelines), or — when the pipeline's file is gone — the caller's scopes. Undefined while
 * neither has answered (nothing is shown until then). */
function useRunPermissions(pipeline: string | undefined): ((action: string) => boolean) | undefined {
  const { me } = useSession();
  const summary = useApi(pipeline ? () => api.pipeline(pipeline) : null, [pipeline]);
  if (summary.data) return (action) => (summary.data!.permissions ?? []).includes(action);
  if (summary.error && me && pipeline) return (action) => can(me, action, pipeline);
  return undefined;
}

function DeadLetters({ run, allowed }: { run: RunDetail; allowed: boolean | undefined }) {
  if (allowed === undefined) return <Loading what="Checking your permissions" />;
  if (!allowed) {
    return (
      <div data-testid="dead-letters-denied">
        <Empty testid="dead-letters-forbidden">
          You need the dead_letters.read permission to see rejected records
          {(run.rows_dead_lettered ?? 0) > 0 ? ` (${count(run.rows_dead_lettered ?? 0)} of them in this run)` : ""}.
          Ask an admin for a role that has it (editor, or a custom role).
        </Empty>
      </div>
    );
  }
  return <DeadLetterSample run={run} />;
}

function DeadLetterSample({ run }: { run: RunDetail }) {
  const sample = useApi(() => api.deadLetters(run.id, 20), [run.id, run.status]);
  if (sample.loading) return <Loading what="Loading dead letters" />;
  if (sample.error) return <ErrorState error={sample.error} title="Could not read the dead letters" />;
  const s = sample.data!;
  return (
    <div data-testid="dead-letters">
      <p className="mb-2 text-xs text-stone-600">
        {s.target ? <>Written to <code>{s.target}</code>. </> : null}
        {s.total !== null && s.total !== undefined ? `${count(s.total)} record(s).` : ""} {s.note}
      </p>
      {!s.readable ? <Empty>The dead letters went to a sink the server cannot read back; query <code>{s.target}</code> directly.</Empty>
        : s.records.length === 0 ? <Empty>No record was dead-lettered.</Empty>
        : <RecordTable rows={s.records} testid="dead-letter-table" rowTestid="dead-letter-row" />}
    </div>
  );
}

const RANK: Record<string, number> = { queued: 0, dispatched: 1, running: 2, succeeded: 3, failed: 3, cancelled: 3 };

// An answer that left before a newer event arrived must not move the status backwards
// (running → queued again happens only with a new attempt).
function merge<T extends Run>(old: T | undefined, next: Partial<T> & Run): T {
  if (!old) return next as T;
  const stale = next.attempt === old.attempt && (RANK[next.status] ?? 0) < (RANK[old.status] ?? 0);
  return { ...old, ...next, ...(stale ? { status: old.status, finished_at: old.finished_at } : {}) };
}

function RunView({ id }: { id: string }) {
  const router = useRouter();
  const [latest, setRun] = useState<RunDetail>();
  // Refetch the full record when it changes; while it runs, poll slowly as a fallback for SSE.
  const [version, setVersion] = useState(0);
  const detail = useApi(() => api.run(id), [id, version]);
  useEffect(() => { if (detail.data) setRun((old) => merge(old, detail.data!)); }, [detail.data]);
  // The first answer renders at once (setRun lands one render later).
  const run = latest ?? detail.data;
  const may = useRunPermissions(run?.pipeline);
  const live = run ? !isFinished(run.status) : true;
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => setVersion((v) => v + 1), 10000);
    return () => clearInterval(timer);
  }, [live]);
  const onRun = useCallback((event: Run) => setRun((old) => (old ? merge(old, event) : old)), []);
  // Once the run ends, fetch the whole record again (steps, quality, datasets).
  const status = run?.status;
  const seen = useRef(status);
  useEffect(() => {
    if (status && seen.current && seen.current !== status && isFinished(status)) setVersion((v) => v + 1);
    seen.current = status;
  }, [status]);

  if (!run && detail.loading) return <Loading what={`Loading run ${id}`} />;
  if (!run) {
    return detail.error ? <ErrorState error={detail.error} title={`Could not load run ${id}`} /> : <Loading />;
  }
  const finished = isFinished(run.status);
  return (
    <div data-testid="run-page" data-run-id={run.id}>
      <div className="mb-4 flex flex-wrap items-start justify-between gap-3">
        <div>
          <h1 className="flex items-center gap-2 text-2xl font-bold">
            Run <span className="font-mono text-lg">{run.id}</span> <StatusBadge status={run.status} testid="run-status" />
          </h1>
          <div className="text-sm">of <PipelineLink name={run.pipeline} /> · {run.kind}
            {run.triggered_by ? ` by ${run.triggered_by}` : ""}</div>
        </div>
        <div className="flex gap-2">
          {!finished && may?.("runs.cancel") && <ActionButton testid="cancel" label="Cancel" tone="danger" action={() => api.cancel(run.id)}
            onDone={(r) => onRun(r)} />}
          {finished && may?.("runs.trigger") && <ActionButton testid="retry" label="Retry" action={() => api.retry(run.id)}
            onDone={(r) => router.push(runHref(r.id))} />}
        </div>
      </div>
      {detail.error && <ErrorState error={detail.error} title="Could not refresh the run (showing the last answer)" />}
      <dl className="mb-6 grid grid-cols-2 gap-3 rounded-lg border border-stone-200 bg-white p-4 md:grid-cols-6">
        <Fact label="Created">{when(run.created_at)}</Fact>
        <Fact label="Started">{when(run.started_at)}</Fact>
        <Fact label="Finished">{when(run.finished_at)}</Fact>
        <Fact label="Duration"><span data-testid="run-duration">{duration(run.seconds)}</span></Fact>
        <Fact label="Attempt">{run.attempt} of {run.max_attempts}</Fact>
        <Fact label="Worker">{run.worker ?? "—"}</Fact>
        {run.scheduled_at && <Fact label="Scheduled for">{when(run.scheduled_at)}</Fact>}
        <Fact label="Revision"><span className="font-mono text-xs">{run.revision.slice(0, 12)}</span></Fact>
        {Object.keys(run.params).length > 0 && <Fact label="Params"><code className="text-xs">{JSON.stringify(run.params)}</code></Fact>}
      </dl>
      {run.error && <RunError error={run.error} pipeline={run.pipeline} retriable={run.retriable} canRetry={may?.("runs.trigger") ?? false} />}
      <Section title="Steps" testid="steps">
        {run.steps.length === 0 ? (
          <Empty>{finished ? "No step counts were recorded for this run — see the log and the error above." : "Counts appear when the run has read its data."}</Empty>
        ) : <StepTable run={run} />}
      </Section>
      <Section title="Log" testid="log"><LogTail runId={run.id} onRun={onRun} /></Section>
      {run.attempts.length > 0 && (
        <Section title="Attempts" testid="attempts">
          <RecordTable rowTestid="attempt-row" rows={run.attempts.map((a) => ({
            attempt: a.number, status: a.status, worker: a.worker, started: when(a.started_at),
            seconds: a.seconds?.toFixed(1), retriable: a.retriable, error: a.error,
          }))} />
        </Section>
      )}
      {run.quality && Object.keys(run.quality).length > 0 && (
        <Section title="Quality" testid="run-quality"><QualityResults quality={run.quality} /></Section>
      )}
      {run.schema_drift.length > 0 && (
        <Section title="Schema drift" testid="schema-drift"><RecordTable rows={run.schema_drift} /></Section>
      )}
      {run.dbt.length > 0 && (
        <Section title="dbt" testid="dbt"><DbtResults runs={run.dbt} /></Section>
      )}
      {finished && (run.dead_letter_target || (run.rows_dead_lettered ?? 0) > 0) && (
        <Section title="Dead letters (sample)" testid="dead-letter-section">
          <DeadLetters run={run} allowed={may ? may("dead_letters.read") : undefined} />
        </Section>
      )}
      <Section title="Datasets" testid="datasets">
        {run.datasets.length === 0 ? <Empty>{finished ? "This run recorded no datasets." : "Datasets appear once the run has committed."}</Empty> : (
          <ul className="space-y-1 text-sm">
            {run.datasets.map((d) => (
              <li key={`${d.direction}-${d.id}-${d.step}`} data-testid="dataset-ref">
                <span className={`mr-2 inline-block w-14 text-xs ${d.direction === "input" ? "text-blue-700" : "text-green-700"}`}>
                  {d.direction === "input" ? "read" : "wrote"}
                </span>
                <Link className="font-mono text-blue-700 hover:underline" href={`/lineage/?dataset=${encodeURIComponent(d.id)}`}>{d.id}</Link>
                <span className="text-stone-500"> — step {d.step}</span>
              </li>
            ))}
          </ul>
        )}
      </Section>
      {Object.keys(run.targets).length > 0 && (
        <Section title="Where rows went">
          <RecordTable rows={Object.entries(run.targets).map(([step, target]) => ({ step, target }))} />
        </Section>
      )}
    </div>
  );
}

function FromQuery() {
  const id = useSearchParams().get("id");
  if (!id) return <Empty>Open a run from a pipeline&apos;s run history.</Empty>;
  return <RunView key={id} id={id} />;
}

export default function RunPage() {
  return <Suspense fallback={<Loading />}><FromQuery /></Suspense>;
}
