import type { Run } from "@/lib/api";
import { LineChart } from "./LineChart";

/** Duration and rows per finished run, oldest left. */
export function RunCharts({ runs }: { runs: Run[] }) {
  const done = runs.filter((r) => r.finished_at).slice().reverse();
  if (done.length < 2) return null;
  const labels = done.map((r) => `${new Date(r.created_at).toLocaleString()} (${r.status})`);
  return (
    <div className="grid gap-4 md:grid-cols-2">
      <div>
        <div className="mb-1 text-xs font-medium text-stone-600">Duration per run</div>
        <LineChart testid="chart-duration" labels={labels} unit=" s"
          series={[{ name: "seconds", values: done.map((r) => r.seconds ?? null) }]} />
      </div>
      <div>
        <div className="mb-1 text-xs font-medium text-stone-600">Rows per run</div>
        <LineChart testid="chart-rows" labels={labels}
          series={[
            { name: "read", values: done.map((r) => r.rows_read ?? null) },
            { name: "loaded", values: done.map((r) => r.rows_loaded ?? null), colour: "#16a34a" },
            { name: "dead-lettered", values: done.map((r) => r.rows_dead_lettered ?? null), colour: "#dc2626" },
          ]} />
      </div>
    </div>
  );
}
