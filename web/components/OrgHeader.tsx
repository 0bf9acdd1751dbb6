"use client";
// The heading of the organisation's marketplace pages (licences, usage): which registry
// organisation this server belongs to, or what to set when it belongs to none.
import Link from "next/link";
import type { ReactNode } from "react";
import { market } from "@/lib/marketplace";
import { useApi } from "@/lib/useApi";
import { ErrorState, Loading } from "@/components/States";

export function OrgPage({ title, testid, children }: { title: string; testid: string; children: ReactNode }) {
  const org = useApi(() => market.organisation(), []);
  return (
    <div data-testid={testid}>
      <div className="mb-1 text-xs"><Link href="/marketplace/" className="text-blue-700 hover:underline">← Marketplace</Link></div>
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold">{title}</h1>
        <div className="flex gap-3 text-sm">
          <Link href="/marketplace/licences/" className="text-blue-700 hover:underline">Licences</Link>
          <Link href="/marketplace/usage/" className="text-blue-700 hover:underline">Usage &amp; invoices</Link>
        </div>
      </div>
      {org.error ? <ErrorState error={org.error} title="You cannot see the organisation's marketplace pages" />
        : org.loading || !org.data ? <Loading what="Loading the organisation" />
          : !org.data.configured ? (
            <ErrorState title="No registry organisation configured" error={{
              type: "not_configured", problems: [],
              message: "This server does not belong to a registry organisation.",
              hint: "Set DTEG_MARKETPLACE_ORG and DTEG_MARKETPLACE_ORG_TOKEN for dteg server, then restart it.",
            }} />
          ) : (
            <>
              <p className="mb-4 text-sm text-stone-600">Organisation <span data-testid="org-name" className="font-mono font-semibold">{org.data.organisation}</span> on <span className="font-mono text-xs">{org.data.registry}</span></p>
              {children}
            </>
          )}
    </div>
  );
}
