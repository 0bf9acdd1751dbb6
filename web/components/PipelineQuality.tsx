"use client";
// One pipeline's quality over time (GET /api/v1/quality/pipelines/{name}): the dead-letter
// rate, rows in and loaded with volume anomalies, and each rule's results per column with its
// severity, run by run.
import Link from "next/link";
import { count, when } from "@/lib/format";
import { governance, type QualityRun, type RuleResult } from "@/lib/governance";
import { useApi } from "@/lib/useApi";
import { LineChart } from "./LineChart";
import { runHref } from "./PipelineLink";
import { Empty, ErrorState, Loading } from "./States";

export const rate = (v: number | null | undefined) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);

const ruleKey = (r: RuleResult) => `${r.step} · ${r.rule}${r.column ? ` · ${r.column}` : ""}`;

function RuleTrends({ runs }: { runs: QualityRun[] }) {
  const keys = [...new Set(runs.flatMap((r) => r.rules.map(ruleKey)))];
  if (keys.length === 0) {
    return <Empty testid="quality-empty">No quality results yet — add <code>quality.validation_rules</code> or a
      <code> validate</code> step, then run the pipeline.</Empty>;
  }
  return (
    <div className="grid gap-4 md:grid-cols-2">
      {keys.map((key) => {
        const found = runs.map((run) => run.rules.find((r) => ruleKey(r) === key));
        const last = [...found].reverse().find((r) => r) as RuleResult;
        const seen = found.filter((r) => r).length;
        return (
          <div key={key} data-testid="quality-rule" data-rule={key} data-severity={last.severity}
            data-failed={last.failed} data-passed={last.passed} className="rounded border border-stone-200 p-2">
            <div className="mb-1 flex justify-between gap-2 text-xs">
              <span className="font-mono">{key}</span>
              <span className={`rounded px-1 ${last.severity === "fail" ? "bg-red-100 text-red-800" : "bg-amber-100 text-amber-900"}`}>{last.severity}</span>
              <span data-testid="quality-rule-last" className={last.failed ? "text-red-700" : "text-green-700"}>
                last: {last.failed} failed, {last.passed} passed
              </span>
            </div>
            <LineChart height={100} width={360} unit="%" labels={runs.map((r) => when(r.finished))}
              series={[{ name: "failed %", colour: "#dc2626",
                values: found.map((r) => (r && r.failed + r.passed ? (100 * r.failed) / (r.failed + r.passed) : r ? 0 : null)) }]} />
            <div className="text-right text-xs text-stone-500">{seen} run(s)</div>
          </div>
        );
      })}
    </div>
  );
}

export function PipelineQuality({ name }: { name: string }) {
  const history = useApi(() => governance.pipelineQuality(name, 200), [name]);
  if (history.loading) return <Loading what={`Loading quality of ${name}`} />;
  if (!history.data) return <ErrorState error={history.error!} title={`Could not load the quality of ${name}`} />;
  const runs = history.data.runs;
  const labels = runs.map((r) => `${when(r.finished)} (${r.status})`);
  if (runs.length === 0) {
    return <Empty testid="quality-runs-empty">No finished run of {name} yet — quality is measured on every run.</Empty>;
  }
  return (
    <div data-testid="pipeline-quality" data-pipeline={name}>
      <div className="grid gap-4 md:grid-cols-2">
        <div>
          <div className="mb-1 text-xs font-medium text-stone-600">Dead-letter rate per run</div>
          <LineChart testid="chart-dead-letter-rate" labels={labels} unit="%"
            series={[{ name: "dead-lettered %", colour: "#dc2626", values: runs.map((r) => r.dead_letter_rate * 100) }]} />
        </div>
        <div>
          <div className="mb-1 text-xs font-medium text-stone-600">Rows per run</div>
          <LineChart testid="chart-quality-rows" labels={labels}
            series={[{ name: "rows in", values: runs.map((r) => r.rows_in) },
              { name: "loaded", values: runs.map((r) => r.loaded), colour: "#16a34a" },
              { name: "volume anomaly", values: runs.map((r) => (r.anomalies.length ? r.rows_in : null)), colour: "#dc2626" }]} />
        </div>
      </div>
      <div className="mt-3 max-h-72 overflow-y-auto">
        <table data-testid="quality-run-table" className="w-full text-left text-xs">
          <thead className="sticky top-0 border-b bg-white uppercase text-stone-500">
            <tr><th className="py-1 pr-3">Run</th><th className="pr-3">Finished</th><th className="pr-3">Status</th>
              <th className="pr-3 text-right">Rows in</th><th className="pr-3 text-right">Loaded</th><th className="pr-3 text-right">Dead-lettered</th>
              <th className="pr-3 text-right">Rate</th><th className="pr-3 text-right">Rules failing</th><th>Anomaly</th></tr>
          </thead>
          <tbody>
            {[...runs].reverse().map((r) => (
              <tr key={r.run_id} data-testid="quality-run" data-run={r.run_id} data-read={r.rows_in} data-loaded={r.loaded}
                data-dead={r.dead_lettered} data-anomalies={r.anomalies.length} className="border-b border-stone-100">
                <td className="py-0.5 pr-3"><Link href={runHref(r.run_id)} className="font-mono text-blue-700 hover:underline">{r.run_id}</Link></td>
                <td className="pr-3">{when(r.finished)}</td>
                <td className="pr-3">{r.status}</td>
                <td className="pr-3 text-right tabular-nums">{count(r.rows_in)}</td>
                <td className="pr-3 text-right tabular-nums">{count(r.loaded)}</td>
                <td className="pr-3 text-right tabular-nums">{count(r.dead_lettered)}</td>
                <td data-testid="quality-run-rate" className="pr-3 text-right tabular-nums">{rate(r.dead_letter_rate)}</td>
                <td className="pr-3 text-right tabular-nums">{r.rules.filter((x) => x.failed).length} of {r.rules.length}</td>
                <td className="text-red-700">{r.anomalies.map((a) => `${a.metric} ${count(a.value)} outside ${a.low?.toFixed(0)}–${a.high?.toFixed(0)}`).join("; ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="mt-4">
        <div className="mb-1 text-xs font-medium text-stone-600">Rule results per run and column (share of rows failing), with severity</div>
        <RuleTrends runs={runs} />
      </div>
    </div>
  );
}
