"use client";
// The audit log: who did what, to which resource, when, and whether it was allowed — newest
// first — and whether the hash chain still holds (nobody altered or removed an entry).
import { useEffect, useState } from "react";
import { api, ApiError, AUDIT_EXPORT, type AuditEntry, type AuditVerification, type ErrorBody } from "@/lib/api";
import { can } from "@/lib/access";
import { when } from "@/lib/format";
import { useApi } from "@/lib/useApi";
import { useSession } from "@/lib/session";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";

const RESULT: Record<string, string> = {
  succeeded: "bg-green-100 text-green-800",
  failed: "bg-amber-100 text-amber-900",
  denied: "bg-red-100 text-red-800",
};

function detailText(e: AuditEntry): string {
  const d = e.detail ?? {};
  const parts = [d.method && d.path ? `${d.method} ${d.path}` : null, d.reason ? String(d.reason) : null,
    ...Object.entries(d).filter(([k]) => !["method", "path", "reason"].includes(k)).map(([k, v]) => `${k}=${JSON.stringify(v)}`)];
  return parts.filter(Boolean).join(" · ");
}

function Verify() {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<AuditVerification>();
  const [failure, setFailure] = useState<ErrorBody>();
  async function verify() {
    setBusy(true);
    setFailure(undefined);
    try {
      setResult(await api.auditVerify());
    } catch (err) {
      setResult(undefined);
      setFailure(err instanceof ApiError ? err.body : { type: "internal", message: String(err), problems: [] });
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="flex flex-wrap items-center gap-3">
      <button type="button" data-testid="audit-verify" onClick={verify} disabled={busy}
        className="rounded-md border border-stone-300 bg-white px-3 py-1 text-sm font-medium hover:bg-stone-50 disabled:opacity-50">
        {busy ? "Verifying…" : "Verify the chain"}
      </button>
      {result && (
        <span data-testid="audit-verify-result" data-ok={String(result.ok)}
          className={`text-sm font-medium ${result.ok ? "text-green-800" : "text-red-800"}`}>
          {result.ok ? <>✓ <span data-testid="audit-verify-status">ok</span> — all {result.entries.toLocaleString()} entries chain unaltered</>
            : <>✗ <span data-testid="audit-verify-status">entry {result.first_bad}: {result.reason}</span> — entries from there on cannot be trusted</>}
        </span>
      )}
      {failure && <ErrorState error={failure} title="Could not verify the audit log" />}
    </div>
  );
}

function AuditLog() {
  const first = useApi(() => api.audit(), []);
  const [older, setOlder] = useState<AuditEntry[]>([]);
  const [before, setBefore] = useState<number | null | undefined>();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<ErrorBody>();
  useEffect(() => {
    if (first.data) { setOlder([]); setBefore(first.data.next_before ?? null); }
  }, [first.data]);

  async function more() {
    if (!before) return;
    setBusy(true);
    try {
      const page = await api.audit(before);
      setOlder((o) => [...o, ...page.items]);
      setBefore(page.next_before ?? null);
      setFailure(undefined);
    } catch (err) {
      setFailure(err instanceof ApiError ? err.body : { type: "internal", message: String(err), problems: [] });
    } finally {
      setBusy(false);
    }
  }

  if (first.loading) return <Loading what="Loading the audit log" />;
  if (!first.data) return <ErrorState error={first.error!} title="Could not load the audit log" />;
  const entries = [...first.data.items, ...older];
  return (
    <div data-testid="audit-page">
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold">Audit log</h1>
        <div className="flex items-center gap-3">
          <button type="button" data-testid="audit-reload" onClick={first.reload}
            className="rounded-md border border-stone-300 bg-white px-3 py-1 text-sm hover:bg-stone-50">Reload</button>
          <a data-testid="audit-export" href={AUDIT_EXPORT} download="dteg-audit.jsonl"
            className="text-sm text-blue-700 underline">Export (JSON Lines)</a>
        </div>
      </div>
      <Section title="Integrity" testid="audit-integrity">
        <p className="mb-2 text-xs text-stone-600">Each entry holds the hash of the one before it: verifying recomputes the chain
          and names the first entry that was altered or removed. The export can be checked offline with <code>dteg audit verify</code>.</p>
        <Verify />
      </Section>
      <Section title={`Entries, newest first (${entries.length}${before ? "+" : ""})`} testid="audit-entries">
        {entries.length === 0 ? <Empty>Nothing has been audited yet: sign-ins, changes, refused requests and reads of dead letters land here.</Empty> : (
          <div className="overflow-x-auto">
            <table data-testid="audit-table" className="w-full text-left text-xs">
              <thead className="border-b uppercase text-stone-500">
                <tr><th className="py-1 pr-3">#</th><th className="pr-3">When</th><th className="pr-3">Who</th><th className="pr-3">Action</th>
                  <th className="pr-3">Resource</th><th className="pr-3">Result</th><th className="pr-3">From</th><th>Detail</th></tr>
              </thead>
              <tbody>
                {entries.map((e) => (
                  <tr key={e.seq} data-testid="audit-row" data-seq={e.seq} data-action={e.action} data-actor={e.actor}
                    data-result={e.result} data-resource={e.resource} className="border-b border-stone-100 align-top">
                    <td className="py-1 pr-3 font-mono text-stone-500">{e.seq}</td>
                    <td className="whitespace-nowrap pr-3" title={e.at}>{when(e.at)}</td>
                    <td className="pr-3 font-mono">{e.actor}</td>
                    <td className="pr-3 font-mono">{e.action}</td>
                    <td className="pr-3 font-mono">{e.resource}</td>
                    <td className="pr-3"><span className={`rounded px-1.5 py-0.5 ${RESULT[e.result] ?? "bg-stone-100"}`}>{e.result}{e.status ? ` ${e.status}` : ""}</span></td>
                    <td className="pr-3 font-mono text-stone-500">{e.address ?? ""}</td>
                    <td className="max-w-md truncate font-mono text-stone-600" title={detailText(e)}>{detailText(e)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {failure && <ErrorState error={failure} title="Could not load older entries" />}
        {before ? (
          <button type="button" data-testid="audit-older" onClick={more} disabled={busy}
            className="mt-3 rounded-md border border-stone-300 bg-white px-3 py-1 text-sm hover:bg-stone-50 disabled:opacity-50">
            {busy ? "Loading…" : "Older entries"}
          </button>
        ) : entries.length > 0 && <p className="mt-3 text-xs text-stone-500">That is the first entry.</p>}
      </Section>
    </div>
  );
}

export default function AuditPage() {
  const { me } = useSession();
  if (me && !can(me, "audit.read")) {
    return <Empty testid="forbidden">You need the audit.read permission (an admin role on every pipeline) to read the audit log.</Empty>;
  }
  return <AuditLog />;
}
