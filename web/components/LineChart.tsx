import { SERIES } from "@/lib/colors";

export interface Series {
  name: string;
  values: (number | null)[];
  colour?: string;
}

/** Values per run (x = run, oldest left) as lines; the first series is filled as an area. */
export function LineChart({ series, labels, height = 140, width = 520, unit = "", testid, max }: {
  series: Series[]; labels: string[]; height?: number; width?: number; unit?: string; testid?: string;
  max?: number;
}) {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const top = max ?? Math.max(1e-9, ...all);
  const left = 44;
  const bottom = 16;
  const plotW = width - left - 8;
  const plotH = height - bottom - 8;
  const n = labels.length;
  const x = (i: number) => left + (n > 1 ? (i / (n - 1)) * plotW : plotW / 2);
  const y = (v: number) => 8 + plotH - (v / top) * plotH;
  const fmt = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k` : v >= 10 ? v.toFixed(0) : v.toFixed(2).replace(/\.?0+$/, ""));
  return (
    <div>
      <svg data-testid={testid} width="100%" viewBox={`0 0 ${width} ${height}`} role="img"
        aria-label={series.map((s) => s.name).join(", ")} className="max-w-full">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={left} x2={width - 8} y1={y(top * f)} y2={y(top * f)} stroke="#e7e5e4" />
            <text x={left - 4} y={y(top * f) + 3} textAnchor="end" fontSize={10} fill="#78716c">{fmt(top * f)}{unit}</text>
          </g>
        ))}
        {series.map((s, si) => {
          const colour = s.colour ?? SERIES[si % SERIES.length];
          const pts = s.values.map((v, i) => (v === null ? null : [x(i), y(v)] as const));
          const d = pts.reduce((acc, p, i) => (p ? `${acc}${acc && pts[i - 1] ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)} ` : acc), "");
          const firstI = pts.findIndex((p) => p);
          const lastI = pts.length - 1 - [...pts].reverse().findIndex((p) => p);
          return (
            <g key={s.name}>
              {si === 0 && firstI >= 0 && (
                <path d={`${d}L${x(lastI)},${y(0)} L${x(firstI)},${y(0)} Z`} fill={colour} opacity={0.12} />
              )}
              <path d={d} fill="none" stroke={colour} strokeWidth={1.75} />
              {pts.map((p, i) => p && (
                <circle key={i} cx={p[0]} cy={p[1]} r={2.5} fill={colour}>
                  <title>{`${labels[i]} — ${s.name}: ${s.values[i]}${unit}`}</title>
                </circle>
              ))}
            </g>
          );
        })}
      </svg>
      {series.length > 1 && (
        <div className="mt-1 flex gap-4 text-xs text-stone-600">
          {series.map((s, si) => (
            <span key={s.name} className="inline-flex items-center gap-1">
              <span className="h-2 w-3 rounded-sm" style={{ background: s.colour ?? SERIES[si % SERIES.length] }} />
              {s.name}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
