"use client";
// Compliance (GDPR/CCPA): which datasets hold personal data, protected how, kept how long and
// read by whom (the record of processing, as `dteg privacy report`); whether each load's
// retention is enforced; the receipts of recent data-subject requests; and, for admins, filing
// an erasure.
import Link from "next/link";
import { useState } from "react";
import { ApiError, type ErrorBody } from "@/lib/api";
import { can } from "@/lib/access";
import { ago, count, when } from "@/lib/format";
import { datasetHref, governance, shortKey, type ErasureResult, type RetentionRow, type SubjectRequest } from "@/lib/governance";
import { useApi } from "@/lib/useApi";
import { useSession } from "@/lib/session";
import { PiiList } from "@/components/PiiBadge";
import { PipelineLink } from "@/components/PipelineLink";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";

const RETENTION: Record<RetentionRow["status"], [string, string]> = {
  enforced: ["enforced", "bg-green-100 text-green-800"],
  not_enforced: ["NOT ENFORCED", "bg-red-100 text-red-800"],
  not_set: ["no limit", "bg-stone-100 text-stone-600"],
};

const OUTCOME: Record<string, string> = {
  erased: "bg-green-100 text-green-800", exported: "bg-green-100 text-green-800",
  crypto_shredded: "bg-green-100 text-green-800", not_found: "bg-stone-100 text-stone-700", unsupported: "bg-amber-100 text-amber-900", failed: "bg-red-100 text-red-800",
};

function Outcome({ status }: { status: string }) {
  return <span data-testid="receipt-status" className={`rounded px-1.5 py-0.5 text-xs ${OUTCOME[status] ?? "bg-stone-100"}`}>{status.replace("_", " ")}</span>;
}

function Retention({ rows }: { rows: RetentionRow[] }) {
  if (rows.length === 0) return <Empty testid="retention-empty">No pipeline loads anything yet.</Empty>;
  return (
    <div className="overflow-x-auto">
      <table data-testid="retention-table" className="w-full text-left text-sm">
        <thead className="border-b text-xs uppercase text-stone-500">
          <tr><th className="py-1 pr-3">Load</th><th className="pr-3">Dataset</th><th className="pr-3">Limit</th><th className="pr-3">Status</th><th>Why</th></tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const [label, cls] = RETENTION[r.status];
            return (
              <tr key={`${r.pipeline}.${r.step}`} data-testid="retention-row" data-pipeline={r.pipeline} data-step={r.step} data-status={r.status}
                className="border-b border-stone-100 align-top">
                <td className="py-1 pr-3"><PipelineLink name={r.pipeline} /><span className="font-mono text-xs text-stone-500">.{r.step} ({r.target})</span></td>
                <td className="pr-3"><Link href={datasetHref(r.dataset)} className="font-mono text-xs text-blue-700 hover:underline">{shortKey(r.dataset)}</Link></td>
                <td className="pr-3 font-mono text-xs">{r.keep ? `${r.keep} by ${r.column}` : "—"}</td>
                <td className="pr-3"><span className={`whitespace-nowrap rounded px-1.5 py-0.5 text-xs font-medium ${cls}`}>{label}</span></td>
                <td data-testid="retention-reason" className="text-xs text-stone-700">{r.reason}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Inventory() {
  const report = useApi(() => governance.report(), []);
  if (report.loading) return <Loading what="Loading the PII inventory" />;
  if (!report.data) return <ErrorState error={report.error!} title="Could not load the compliance report" />;
  const { datasets, retention } = report.data;
  const unprotected = datasets.filter((d) => d.unprotected.length > 0);
  return (
    <>
      <Section title={`Record of processing — ${datasets.length} dataset(s) with personal data`} testid="inventory">
        {datasets.length === 0 ? (
          <Empty testid="inventory-empty">No cataloged dataset holds personal data — or nothing has run yet: the inventory is built from the catalog, which fills itself on every run.</Empty>
        ) : (
          <>
            {unprotected.length > 0 && (
              <p data-testid="unprotected-warning" className="mb-2 text-sm text-red-800">
                ⚠ {unprotected.length} dataset(s) store personal data unprotected: mask or encrypt those columns in the writing pipeline (<code>security.data_masking</code>), or record why they may stay.
              </p>
            )}
            <div className="overflow-x-auto">
              <table data-testid="inventory-table" className="w-full text-left text-sm">
                <thead className="border-b text-xs uppercase text-stone-500">
                  <tr><th className="py-1 pr-3">Dataset</th><th className="pr-3">Purpose</th><th className="pr-3">Categories (column: class · protection)</th>
                    <th className="pr-3">Owners</th><th className="pr-3">Recipients</th><th className="pr-3">Retention</th><th>Last written</th></tr>
                </thead>
                <tbody>
                  {datasets.map((d) => (
                    <tr key={d.dataset} data-testid="inventory-row" data-key={d.dataset} className="border-b border-stone-100 align-top">
                      <td className="py-2 pr-3"><Link href={datasetHref(d.dataset)} className="font-mono text-xs font-medium text-blue-700 hover:underline">{shortKey(d.dataset)}</Link></td>
                      <td className="pr-3 text-xs">{d.purposes.join("; ") || "—"}</td>
                      <td className="pr-3"><PiiList classes={d.columns} protection={d.protection} /></td>
                      <td className="pr-3 text-xs">{d.owners.join(", ") || <span className="text-stone-400">none declared</span>}</td>
                      <td className="pr-3 text-xs">
                        {d.recipients.length + d.models.length === 0 ? "—" : (
                          <span className="flex flex-wrap gap-1">{d.recipients.map((p) => <PipelineLink key={p} name={p} />)}
                            {d.models.map((m) => <span key={m} className="rounded bg-amber-100 px-1 font-mono">dbt: {m}</span>)}</span>)}
                      </td>
                      <td className="pr-3 text-xs">{d.retention}</td>
                      <td className="whitespace-nowrap text-xs" title={d.last_written ?? ""}>{ago(d.last_written)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p className="mt-2 text-xs text-stone-500">Generated {when(report.data.generated_at)}. The same record as an HTML page: <code>dteg privacy report --html record.html</code>.</p>
          </>
        )}
      </Section>
      <Section title="Retention per load" testid="retention"><Retention rows={retention} /></Section>
    </>
  );
}

function Requests({ requests }: { requests: SubjectRequest[] }) {
  if (requests.length === 0) {
    return <Empty testid="requests-empty">No data-subject request yet. Erasures filed here or with <code>dteg privacy erase --subject email=…</code> leave one receipt per dataset in the audit log.</Empty>;
  }
  return (
    <ul className="space-y-3">
      {requests.map((r) => (
        <li key={r.request_id} data-testid="subject-request" data-request={r.request_id} data-kind={r.kind} data-complete={String(r.complete)}
          className="rounded border border-stone-200 p-2">
          <div className="mb-1 flex flex-wrap items-center gap-3 text-sm">
            <span className="font-mono font-medium">{r.kind} {r.request_id}</span>
            <span className="text-xs text-stone-600">by {r.actor} · {when(r.at)}</span>
            <span className={`rounded px-1.5 py-0.5 text-xs ${r.complete ? "bg-green-100 text-green-800" : "bg-amber-100 text-amber-900"}`}>
              {r.complete ? "complete" : "incomplete: see the receipts"}</span>
          </div>
          <table className="w-full text-left text-xs">
            <tbody>
              {r.receipts.map((x) => (
                <tr key={x.seq} data-testid="request-receipt" data-dataset={x.dataset} data-status={x.status} className="border-t border-stone-100 align-top">
                  <td className="py-0.5 pr-3 font-mono">{shortKey(x.dataset)}</td>
                  <td className="pr-3 font-mono text-stone-600">{x.column}{x.protection ? ` [${x.protection}]` : ""}</td>
                  <td className="pr-3"><Outcome status={x.status} /></td>
                  <td className="pr-3 tabular-nums">{count(x.rows)} row(s)</td>
                  <td className="text-stone-600">{x.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </li>
      ))}
    </ul>
  );
}

function EraseForm({ onDone }: { onDone: () => void }) {
  const [subject, setSubject] = useState("");
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorBody>();
  const [result, setResult] = useState<ErasureResult>();
  const valid = /^[^=\s]+=.+$/.test(subject.trim());
  async function erase() {
    setBusy(true);
    setError(undefined);
    try {
      setResult(await governance.erase(subject.trim()));
      setSubject("");
      setAsking(false);
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? err.body : { type: "internal", message: String(err), problems: [] });
    } finally {
      setBusy(false);
    }
  }
  return (
    <div data-testid="erase-form">
      <p className="mb-2 text-xs text-stone-600">Deletes the subject&apos;s rows from every load of the served pipelines — also where the column is hashed
        or tokenized (dteg holds the keys) — and writes one receipt per dataset to the audit log. The value is never stored or shown.</p>
      <form className="flex flex-wrap items-start gap-2" onSubmit={(e) => { e.preventDefault(); if (valid) setAsking(true); }}>
        <input data-testid="erase-subject" value={subject} maxLength={1000} disabled={asking || busy}
          onChange={(e) => setSubject(e.target.value)} placeholder="column=value, e.g. email=ada@example.com" autoComplete="off"
          className="w-96 rounded-md border border-stone-300 px-3 py-1 font-mono text-sm" />
        {!asking ? (
          <button type="submit" data-testid="erase-submit" disabled={!valid}
            className="rounded-md border border-red-300 bg-white px-3 py-1 text-sm font-medium text-red-700 hover:bg-red-50 disabled:opacity-50">Erase…</button>
        ) : (
          <span className="inline-flex items-center gap-2">
            <span data-testid="erase-confirm-text" className="text-sm text-red-800">Erase every row of this subject? This cannot be undone.</span>
            <button type="button" data-testid="erase-confirm" onClick={erase} disabled={busy}
              className="rounded-md border border-red-700 bg-red-600 px-3 py-1 text-sm font-medium text-white hover:bg-red-700 disabled:opacity-50">
              {busy ? "Erasing…" : "Yes, erase"}</button>
            <button type="button" data-testid="erase-cancel" onClick={() => setAsking(false)} disabled={busy} className="px-2 py-1 text-sm text-stone-600 hover:underline">Keep</button>
          </span>
        )}
      </form>
      {error && <ErrorState error={error} title="The erasure was refused" />}
      {result && (
        <div data-testid="erase-result" data-request={result.request_id} data-complete={String(result.complete)}
          className={`mt-3 rounded border p-2 text-sm ${result.complete ? "border-green-300 bg-green-50" : "border-amber-300 bg-amber-50"}`}>
          Request <span className="font-mono">{result.request_id}</span>: {result.receipts.length} dataset(s) in {result.seconds.toFixed(2)} s —{" "}
          {result.complete ? "erased everywhere it was found." : "some datasets could not be erased; their receipts below say why and what to do."}
        </div>
      )}
    </div>
  );
}

function RequestsSection() {
  const { me } = useSession();
  const mayRead = can(me, "audit.read");
  const requests = useApi(mayRead ? () => governance.requests(20) : null, [mayRead]);
  return (
    <>
      {can(me, "privacy.erase") && (
        <Section title="File an erasure (GDPR art. 17 / CCPA)" testid="erasure">
          <EraseForm onDone={requests.reload} />
        </Section>
      )}
      <Section title="Recent data-subject requests" testid="requests">
        {!mayRead ? (
          <Empty testid="requests-forbidden">The receipts live in the audit log: reading them needs the audit.read permission (an admin role on every pipeline).</Empty>
        ) : requests.loading ? <Loading what="Loading receipts" /> : requests.error && !requests.data ? (
          <ErrorState error={requests.error} title="Could not load the receipts" />
        ) : <Requests requests={requests.data ?? []} />}
      </Section>
    </>
  );
}

export default function CompliancePage() {
  const { me } = useSession();
  return (
    <div data-testid="compliance-page">
      <h1 className="mb-4 text-2xl font-bold">Compliance</h1>
      <Inventory />
      {me && <RequestsSection />}
    </div>
  );
}
