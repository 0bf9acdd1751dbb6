import type { RunDetail } from "@/lib/api";
import { count } from "@/lib/format";

/** Per-step counts of the run's newest attempt, and whether read = loaded + dead + filtered. */
export function StepTable({ run }: { run: RunDetail }) {
  const read = run.rows_read ?? 0;
  const loaded = run.rows_loaded ?? 0;
  const dead = run.rows_dead_lettered ?? 0;
  const filtered = run.steps.reduce((a, s) => a + (s.filtered ?? 0), 0);
  return (
    <div>
      <table data-testid="step-table" className="w-full text-left text-sm">
        <thead className="border-b text-xs uppercase text-stone-500">
          <tr>
            <th className="py-1 pr-3">Step</th><th className="pr-3">Kind</th>
            <th className="pr-3 text-right">In</th><th className="pr-3 text-right">Out</th>
            <th className="pr-3 text-right">Dead-lettered</th><th className="pr-3 text-right">Filtered</th>
            <th className="text-right">Loaded</th>
          </tr>
        </thead>
        <tbody>
          {run.steps.map((s) => (
            <tr key={`${s.attempt}-${s.step}`} data-testid="step-row" data-step={s.step}
              className="border-b border-stone-100 font-mono text-xs">
              <td className="py-1 pr-3 font-sans text-sm">{s.step}</td>
              <td className="pr-3 font-sans text-stone-600">{s.kind}</td>
              <td className="pr-3 text-right" data-testid="rows-in">{count(s.rows_in)}</td>
              <td className="pr-3 text-right" data-testid="rows-out">{count(s.rows_out)}</td>
              <td className="pr-3 text-right" data-testid="dead-letter">{count(s.dead_letter)}</td>
              <td className="pr-3 text-right" data-testid="filtered">{count(s.filtered)}</td>
              <td className="text-right" data-testid="loaded">{count(s.loaded)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {run.reconciles !== null && run.reconciles !== undefined && (
        <p data-testid="reconciliation" data-reconciles={String(run.reconciles)}
          className={`mt-2 text-sm ${run.reconciles ? "text-green-800" : "text-red-800"}`}>
          {run.reconciles ? "✓" : "✗"} read {count(read)} = loaded {count(loaded)} + dead-lettered {count(dead)}
          {" "}+ filtered {count(filtered)}{run.reconciles ? "" : " — the counts do not add up"}
        </p>
      )}
    </div>
  );
}
