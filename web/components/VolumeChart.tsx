import type { VolumePoint } from "@/lib/governance";
import { LineChart } from "./LineChart";
import { Empty } from "./States";

/** Rows per run with the rolling median band; runs outside it are listed as anomalies. */
export function VolumeChart({ points, testid = "volume-chart" }: { points: VolumePoint[]; testid?: string }) {
  if (points.length === 0) {
    return <Empty testid="volume-empty">No row counts yet — they are recorded on every run that reads or writes this dataset.</Empty>;
  }
  const anomalies = points.filter((p) => p.anomaly);
  return (
    <div data-testid={testid} data-points={points.length} data-anomalies={anomalies.length}>
      <LineChart testid={`${testid}-svg`} height={150}
        labels={points.map((p) => new Date(p.at).toLocaleString())}
        series={[
          { name: "rows", values: points.map((p) => p.rows), colour: "#2563eb" },
          { name: "rolling median", values: points.map((p) => p.median ?? null), colour: "#a8a29e" },
          { name: "anomaly", values: points.map((p) => (p.anomaly ? p.rows : null)), colour: "#dc2626" },
        ]} />
      {anomalies.length === 0 ? (
        <p className="mt-1 text-xs text-stone-500">No volume anomaly: every run is within the rolling median ± k·MAD.</p>
      ) : (
        <ul className="mt-1 text-xs text-red-800">
          {anomalies.map((p) => (
            <li key={p.run_id} data-testid="volume-anomaly" data-run={p.run_id}>
              ⚠ run <span className="font-mono">{p.run_id}</span>: {p.rows.toLocaleString("en-US")} rows, expected {p.low?.toFixed(0)}–{p.high?.toFixed(0)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
