/** Rows of loosely shaped records (quality results, drift, dbt, dead letters) as a table. */
export function RecordTable({ rows, testid, rowTestid }: {
  rows: Record<string, unknown>[]; testid?: string; rowTestid?: string;
}) {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) =>
    v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  return (
    <div className="overflow-x-auto">
      <table data-testid={testid} className="w-full text-left text-xs">
        <thead className="border-b uppercase text-stone-500">
          <tr>{keys.map((k) => <th key={k} className="py-1 pr-3">{k}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} data-testid={rowTestid} className="border-b border-stone-100 font-mono">
              {keys.map((k) => <td key={k} className="max-w-md truncate py-1 pr-3" title={cell(r[k])}>{cell(r[k])}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A value of unknown shape: a list of records becomes a table; anything else, rows of key → value. */
export function Structured({ value }: { value: unknown }) {
  if (Array.isArray(value) && value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
    return <RecordTable rows={value as Record<string, unknown>[]} />;
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return (
      <dl className="space-y-2">
        {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
          <div key={k}>
            <dt className="text-xs font-semibold text-stone-600">{k}</dt>
            <dd className="pl-3">{typeof v === "object" && v !== null ? <Structured value={v} />
              : <span className="font-mono text-xs">{String(v)}</span>}</dd>
          </div>
        ))}
      </dl>
    );
  }
  return <pre className="text-xs">{JSON.stringify(value, null, 2)}</pre>;
}
