import { RecordTable, Structured } from "./RecordTable";

type Rec = Record<string, unknown>;
const pct = (r: unknown) => (typeof r === "number" ? `${(r * 100).toFixed(1)}%` : "—");

/** The run's rule results per validate step ({"steps": [{step, rows, invalid, rules}]}). */
export function QualityResults({ quality }: { quality: Rec }) {
  const steps = quality.steps as Rec[] | undefined;
  if (!Array.isArray(steps)) return <Structured value={quality} />;
  return (
    <div className="space-y-4">
      {steps.map((s, i) => (
        <div key={i} data-testid="quality-step">
          <div className="mb-1 text-sm">
            <span className="font-mono font-semibold">{String(s.step)}</span>: {String(s.invalid)} of {String(s.rows)} rows
            invalid ({pct(s.invalid_ratio)})
          </div>
          <RecordTable rowTestid="quality-result" rows={((s.rules as Rec[]) ?? []).map((r) => ({
            rule: r.rule, columns: Array.isArray(r.columns) ? r.columns.join(", ") : r.columns,
            failed: r.failed, ratio: pct(r.ratio), on_failure: r.on_failure,
            limit: r.max_invalid_ratio === null || r.max_invalid_ratio === undefined ? "" : pct(r.max_invalid_ratio),
          }))} />
        </div>
      ))}
    </div>
  );
}

/** dbt after the load: the command, and each model and test with its status. */
export function DbtResults({ runs }: { runs: Rec[] }) {
  return (
    <div className="space-y-4">
      {runs.map((d, i) => {
        const nodes = Array.isArray(d.nodes) ? (d.nodes as Rec[]) : [];
        const failed = Array.isArray(d.failed) ? d.failed.length : 0;
        return (
          <div key={i} data-testid="dbt-run">
            <div className="mb-1 text-sm">
              step <span className="font-mono">{String(d.step)}</span>: <code>dbt {String(d.command ?? "")}</code>
              {typeof d.seconds === "number" ? ` in ${d.seconds.toFixed(1)} s` : ""} —{" "}
              <span className={failed ? "text-red-700" : "text-green-700"}>
                {Array.isArray(d.passed) ? d.passed.length : 0} passed, {failed} failed
              </span>
            </div>
            {nodes.length > 0 ? (
              <RecordTable rowTestid="dbt-row" rows={nodes.map((n) => ({ name: n.name, type: n.type, status: n.status }))} />
            ) : <Structured value={d} />}
          </div>
        );
      })}
    </div>
  );
}
