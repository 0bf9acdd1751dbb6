"use client";
// What did our organisation use of its premium components this month, and what was billed?
import { useState } from "react";
import { count } from "@/lib/format";
import { market } from "@/lib/marketplace";
import { useApi } from "@/lib/useApi";
import { OrgPage } from "@/components/OrgHeader";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";

const thisMonth = () => new Date().toISOString().slice(0, 7);

function Usage() {
  const [period, setPeriod] = useState(thisMonth());
  const usage = useApi(() => market.usage(period), [period]);
  const invoices = useApi(() => market.invoices(), []);
  const items = usage.data?.items ?? [];
  const most = Math.max(1, ...items.map((u) => u.rows ?? 0));
  return (
    <>
      <Section title="Usage" testid="usage" actions={
        <input type="month" data-testid="usage-period" value={period} onChange={(e) => e.target.value && setPeriod(e.target.value)}
          className="rounded-md border border-stone-300 px-2 py-0.5 text-sm" />}>
        {usage.error ? <ErrorState error={usage.error} title="Could not load the usage" />
          : usage.loading || !usage.data ? <Loading what="Loading usage" />
            : !usage.data.supported ? <Empty testid="usage-unsupported">This registry does not meter usage.</Empty>
              : items.length === 0 ? <Empty testid="usage-empty">No metered usage in {period}.</Empty> : (
                <table className="w-full text-left text-sm">
                  <thead className="border-b text-xs uppercase text-stone-500">
                    <tr><th className="py-1 pr-3">Component</th><th className="pr-3">Licence</th><th className="pr-3 text-right">Runs</th><th className="pr-3 text-right">Rows</th><th /></tr>
                  </thead>
                  <tbody>
                    {items.map((u, i) => (
                      <tr key={`${u.component}-${u.licence}-${i}`} data-testid="usage-row" data-component={u.component} data-runs={u.runs ?? 0} data-rows={u.rows ?? 0} className="border-b border-stone-100">
                        <td className="py-1 pr-3 font-mono text-xs">{u.component}</td>
                        <td className="pr-3 font-mono text-xs">{u.licence ?? "—"}</td>
                        <td className="pr-3 text-right text-xs">{count(u.runs)}</td>
                        <td className="pr-3 text-right text-xs">{count(u.rows)}</td>
                        <td className="w-48"><div className="h-2 rounded bg-blue-500" style={{ width: `${((u.rows ?? 0) / most) * 100}%` }} /></td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
      </Section>
      <Section title="Invoices" testid="invoices">
        {invoices.error ? <ErrorState error={invoices.error} title="Could not load the invoices" />
          : invoices.loading || !invoices.data ? <Loading what="Loading invoices" />
            : !invoices.data.supported ? <Empty testid="invoices-unsupported">This registry does not bill.</Empty>
              : invoices.data.items.length === 0 ? <Empty testid="invoices-empty">No invoices yet.</Empty> : (
                <table className="w-full text-left text-sm">
                  <thead className="border-b text-xs uppercase text-stone-500">
                    <tr><th className="py-1 pr-3">Invoice</th><th className="pr-3">Period</th><th className="pr-3 text-right">Total</th><th className="pr-3">Lines</th><th>Status</th></tr>
                  </thead>
                  <tbody>
                    {invoices.data.items.map((inv) => (
                      <tr key={inv.id} data-testid="invoice-row" data-invoice={inv.id} className="border-b border-stone-100">
                        <td className="py-1 pr-3 font-mono text-xs">{inv.id}</td>
                        <td className="pr-3 text-xs">{inv.period}</td>
                        <td className="pr-3 text-right text-xs" data-testid="invoice-total">{String(inv.total)} {inv.currency ?? ""}</td>
                        <td className="pr-3 text-xs">{inv.lines?.length ?? 0}</td>
                        <td className="text-xs">{inv.status ?? "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
      </Section>
    </>
  );
}

export default function UsagePage() {
  return <OrgPage title="Usage & invoices" testid="usage-page"><Usage /></OrgPage>;
}
