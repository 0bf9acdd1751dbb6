import type { HourBucket } from "@/lib/api";
import { STATUS_FILL, STATUS_ORDER } from "@/lib/colors";
import { hourLabel } from "@/lib/format";

/** Runs per hour, one bar per hour, stacked by status (succeeded at the bottom). */
export function StackedBars({ buckets, height = 140 }: { buckets: HourBucket[]; height?: number }) {
  const totals = buckets.map((b) => Object.values(b.counts).reduce((a, c) => a + c, 0));
  const max = Math.max(1, ...totals);
  const barW = 24;
  const gap = 6;
  const left = 28;
  const width = left + buckets.length * (barW + gap);
  const plotH = height - 20;
  const statuses = [...STATUS_ORDER, ...new Set(buckets.flatMap((b) => Object.keys(b.counts)))]
    .filter((s, i, all) => all.indexOf(s) === i);
  return (
    <div className="overflow-x-auto">
      <svg data-testid="runs-by-hour" width={width} height={height} role="img" aria-label="runs per hour by status">
        <line x1={left - 4} x2={width} y1={plotH} y2={plotH} stroke="#d6d3d1" />
        <text x={left - 8} y={10} textAnchor="end" fontSize={10} fill="#78716c">{max}</text>
        <text x={left - 8} y={plotH} textAnchor="end" fontSize={10} fill="#78716c">0</text>
        {buckets.map((b, i) => {
          const x = left + i * (barW + gap);
          let y = plotH;
          return (
            <g key={b.hour}>
              <title>{`${hourLabel(b.hour)}: ${Object.entries(b.counts).map(([s, n]) => `${n} ${s}`).join(", ") || "no runs"}`}</title>
              {statuses.map((s) => {
                const n = b.counts[s] ?? 0;
                if (!n) return null;
                const h = (n / max) * (plotH - 4);
                y -= h;
                return <rect key={s} x={x} y={y} width={barW} height={h} fill={STATUS_FILL[s] ?? "#a8a29e"} />;
              })}
              {i % 3 === 0 && (
                <text x={x + barW / 2} y={height - 4} textAnchor="middle" fontSize={9} fill="#78716c">
                  {hourLabel(b.hour)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

export function StatusLegend({ counts }: { counts: Record<string, number> }) {
  return (
    <div className="flex flex-wrap gap-4 text-sm">
      {Object.entries(counts).map(([status, n]) => (
        <span key={status} data-testid={`count-${status}`} className="inline-flex items-center gap-1.5">
          <span className="h-3 w-3 rounded-sm" style={{ background: STATUS_FILL[status] ?? "#a8a29e" }} />
          <span className="font-semibold">{n}</span> {status}
        </span>
      ))}
    </div>
  );
}
