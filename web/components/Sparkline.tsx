/** The durations of the newest runs as a tiny line (oldest first); the last point is marked. */
export function Sparkline({ values, width = 96, height = 24, stroke = "#2563eb" }: {
  values: number[]; width?: number; height?: number; stroke?: string;
}) {
  if (values.length === 0) return <span className="text-xs text-stone-400">no runs</span>;
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min;
  const step = values.length > 1 ? (width - 4) / (values.length - 1) : 0;
  // All the same (or one run): a flat line through the middle.
  const y = (v: number) => (span ? height - 2 - ((v - min) / span) * (height - 4) : height / 2);
  const pts = values.map((v, i) => [2 + i * step, y(v)]);
  const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  const [lx, ly] = pts[pts.length - 1];
  return (
    <svg data-testid="sparkline" width={width} height={height} role="img"
      aria-label={`durations of the last ${values.length} runs`}>
      <title>{values.map((v) => `${v.toFixed(1)} s`).join(", ")}</title>
      <path d={d} fill="none" stroke={stroke} strokeWidth={1.5} strokeLinejoin="round" />
      <circle cx={lx} cy={ly} r={2} fill={stroke} />
    </svg>
  );
}
