// Small pieces every marketplace page shows the same way: rating stars, badges, the tier,
// the price, a gate report.
import type { GateReport, Pricing, Rating } from "@/lib/marketplace";
import { priceText } from "@/lib/marketplace";

/** Five stars filled to the average (tests read data-average and data-count). */
export function Stars({ rating, testid = "rating", showCount = true }: { rating: Rating | undefined; testid?: string; showCount?: boolean }) {
  const average = rating?.average ?? null;
  const count = rating?.count ?? 0;
  if (average === null) {
    return <span data-testid={testid} data-average="" data-count={count} className="text-xs text-stone-400">no ratings yet</span>;
  }
  const pct = Math.max(0, Math.min(100, (average / 5) * 100));
  return (
    <span data-testid={testid} data-average={average} data-count={count} className="inline-flex items-center gap-1 text-xs"
      title={`${average.toFixed(2)} out of 5 from ${count} review(s)`}>
      <span className="relative inline-block text-base leading-none tracking-tight text-stone-300" aria-hidden>
        ★★★★★
        <span className="absolute inset-0 overflow-hidden text-amber-500" style={{ width: `${pct}%` }}>★★★★★</span>
      </span>
      <span data-testid={`${testid}-text`} className="text-stone-700">{average.toFixed(1)}</span>
      {showCount && <span className="text-stone-400">({count})</span>}
    </span>
  );
}

const BADGE = "inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset";
const BADGE_COLORS: Record<string, string> = {
  certified: "bg-emerald-50 text-emerald-800 ring-emerald-300",
  popular: "bg-amber-50 text-amber-800 ring-amber-300",
};
const TIER_COLORS: Record<string, string> = {
  official: "bg-blue-50 text-blue-800 ring-blue-300",
  verified: "bg-emerald-50 text-emerald-800 ring-emerald-300",
  community: "bg-stone-50 text-stone-700 ring-stone-300",
};

export function Badges({ badges }: { badges: string[] }) {
  if (!badges.length) return null;
  return (
    <span className="inline-flex flex-wrap gap-1">
      {badges.map((b) => (
        <span key={b} data-testid="badge" data-badge={b} className={`${BADGE} ${BADGE_COLORS[b] ?? "bg-violet-50 text-violet-800 ring-violet-300"}`}>{b}</span>
      ))}
    </span>
  );
}

export function Tier({ tier }: { tier: string }) {
  return <span data-testid="tier" data-tier={tier} className={`${BADGE} ${TIER_COLORS[tier] ?? TIER_COLORS.community}`}>{tier}</span>;
}

export function Price({ pricing }: { pricing: Pricing | undefined }) {
  const text = priceText(pricing);
  const paid = text !== "free";
  return <span data-testid="price" data-pricing={pricing?.tier ?? "free"} className={`${BADGE} ${paid ? "bg-fuchsia-50 text-fuchsia-800 ring-fuchsia-300" : "bg-white text-stone-600 ring-stone-200"}`}>{text}</span>;
}

/** Each gate of a report with its status and detail. */
export function GateTable({ report }: { report: GateReport | undefined }) {
  const gates = Object.entries(report?.gates ?? {});
  if (!gates.length) return <p className="text-sm text-stone-500">This version was published without a gate report.</p>;
  return (
    <table data-testid="gate-table" className="w-full text-left text-sm">
      <thead className="border-b text-xs uppercase text-stone-500">
        <tr><th className="py-1 pr-3">Gate</th><th className="pr-3">Status</th><th className="pr-3">Detail</th><th>Value / threshold</th></tr>
      </thead>
      <tbody>
        {gates.map(([name, g]) => (
          <tr key={name} data-testid="gate-row" data-gate={name} data-status={g.status} className="border-b border-stone-100">
            <td className="py-1 pr-3 font-mono text-xs">{name}</td>
            <td className="pr-3">
              <span className={`${BADGE} ${g.status === "pass" ? "bg-emerald-50 text-emerald-800 ring-emerald-300" : g.status === "fail" ? "bg-red-50 text-red-800 ring-red-300" : "bg-stone-50 text-stone-700 ring-stone-300"}`}>{g.status}</span>
            </td>
            <td className="pr-3 text-xs text-stone-600">{g.detail ?? ""}</td>
            <td className="text-xs">{g.value ?? "—"}{g.threshold !== null && g.threshold !== undefined ? ` / ${g.threshold}` : ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
