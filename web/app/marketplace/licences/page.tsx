"use client";
// Which premium components may our organisation run, with how many seats, until when?
import { when } from "@/lib/format";
import { market } from "@/lib/marketplace";
import { useApi } from "@/lib/useApi";
import { OrgPage } from "@/components/OrgHeader";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";

const STATUS: Record<string, string> = {
  valid: "bg-emerald-50 text-emerald-800 ring-emerald-300",
  active: "bg-emerald-50 text-emerald-800 ring-emerald-300",
  grace: "bg-amber-50 text-amber-800 ring-amber-300",
  expired: "bg-red-50 text-red-800 ring-red-300",
  revoked: "bg-red-50 text-red-800 ring-red-300",
};

function Licences() {
  const list = useApi(() => market.licences(), []);
  if (list.error) return <ErrorState error={list.error} title="Could not load the licences" />;
  if (list.loading || !list.data) return <Loading what="Loading licences" />;
  if (!list.data.supported) return <Empty testid="licences-unsupported">This registry does not issue licences.</Empty>;
  return (
    <Section title={`${list.data.items.length} licence(s)`} testid="licences">
      {list.data.items.length === 0 ? <Empty testid="licences-empty">No licences yet: premium components need one — ask the registry for a licence for your organisation.</Empty> : (
        <table className="w-full text-left text-sm">
          <thead className="border-b text-xs uppercase text-stone-500">
            <tr><th className="py-1 pr-3">Licence</th><th className="pr-3">Kind</th><th className="pr-3">Components</th><th className="pr-3">Seats</th><th className="pr-3">Expires</th><th>Status</th></tr>
          </thead>
          <tbody>
            {list.data.items.map((l) => {
              const used = l.seats ? Math.min(100, ((l.seats_used ?? 0) / l.seats) * 100) : 0;
              return (
                <tr key={l.id} data-testid="licence-row" data-licence={l.id} data-status={l.status ?? ""} className="border-b border-stone-100 align-middle">
                  <td className="py-2 pr-3 font-mono text-xs">{l.id}</td>
                  <td className="pr-3 text-xs">{l.kind ?? "—"}</td>
                  <td className="pr-3 font-mono text-xs" data-testid="licence-components">{Array.isArray(l.components) ? l.components.join(", ") : l.components}</td>
                  <td className="pr-3 text-xs" data-testid="licence-seats">
                    {l.seats ? <>{l.seats_used ?? 0} / {l.seats}
                      <div className="mt-1 h-1.5 w-24 rounded bg-stone-200"><div className="h-1.5 rounded bg-blue-600" style={{ width: `${used}%` }} /></div></> : "unlimited"}
                  </td>
                  <td className="pr-3 text-xs" title={l.expires ?? ""}>{when(l.expires)}</td>
                  <td><span className={`inline-flex rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STATUS[l.status ?? ""] ?? "bg-stone-50 text-stone-700 ring-stone-300"}`}>{l.status ?? "—"}</span></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Section>
  );
}

export default function LicencesPage() {
  return <OrgPage title="Licences" testid="licences-page"><Licences /></OrgPage>;
}
