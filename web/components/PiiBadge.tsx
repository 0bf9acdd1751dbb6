/** A column's PII class and how the pipeline protects it; unprotected personal data in red. */
export function PiiBadge({ column, pii, protection }: { column: string; pii: string; protection?: string | null }) {
  const cls = protection ? "bg-violet-100 text-violet-900 ring-violet-600/30" : "bg-red-100 text-red-800 ring-red-600/30";
  return (
    <span data-testid="pii-badge" data-column={column} data-pii={pii} data-protection={protection ?? ""}
      title={protection ? `${pii}, protected by ${protection}` : `${pii}, stored unprotected`}
      className={`inline-flex items-center gap-1 rounded-full px-2 py-0.5 font-mono text-xs ring-1 ring-inset ${cls}`}>
      {column}: {pii} · {protection ?? "UNPROTECTED"}
    </span>
  );
}

/** Each PII column of a dataset as a badge, or a quiet "no personal data". */
export function PiiList({ classes, protection }: { classes: Record<string, string>; protection: Record<string, string | null | undefined> }) {
  const names = Object.keys(classes).sort();
  if (names.length === 0) return <span className="text-xs text-stone-400">no personal data found</span>;
  return (
    <span className="flex flex-wrap gap-1">
      {names.map((c) => <PiiBadge key={c} column={c} pii={classes[c]} protection={protection[c]} />)}
    </span>
  );
}
