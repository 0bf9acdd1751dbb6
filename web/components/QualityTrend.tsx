import type { RulePoint } from "@/lib/api";
import { LineChart } from "./LineChart";
import { Empty } from "./States";

/** One small chart per rule: the share of rows that failed it, run by run. */
export function QualityTrend({ points }: { points: RulePoint[] }) {
  if (points.length === 0) {
    return <Empty testid="quality-empty">No quality results yet — add <code>quality.validation_rules</code> or a
      <code> validate</code> step, then run the pipeline.</Empty>;
  }
  const byRule = new Map<string, RulePoint[]>();
  for (const p of points) {
    const key = `${p.step} · ${p.rule}`;
    byRule.set(key, [...(byRule.get(key) ?? []), p]);
  }
  return (
    <div className="grid gap-4 md:grid-cols-2">
      {[...byRule.entries()].map(([rule, pts]) => {
        const last = pts[pts.length - 1];
        return (
          <div key={rule} data-testid="quality-rule" className="rounded border border-stone-200 p-2">
            <div className="mb-1 flex justify-between text-xs">
              <span className="font-mono">{rule}</span>
              <span className={last.passed ? "text-green-700" : "text-red-700"}>
                last: {last.failed} of {last.rows} failed {last.passed ? "(passed)" : "(failed)"}
              </span>
            </div>
            <LineChart height={100} width={360} unit="%"
              labels={pts.map((p) => new Date(p.at).toLocaleString())}
              series={[{ name: "failed %", colour: "#dc2626",
                values: pts.map((p) => (p.ratio ?? (p.rows ? p.failed / p.rows : 0)) * 100) }]} />
          </div>
        );
      })}
    </div>
  );
}
