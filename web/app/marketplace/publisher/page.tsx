"use client";
// Who publishes these components, and can I trust them? Verified or not, what they publish.
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { ago, count } from "@/lib/format";
import { componentHref, market } from "@/lib/marketplace";
import { useApi } from "@/lib/useApi";
import { Badges, Price, Stars, Tier } from "@/components/MarketBits";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";

function PublisherView({ name }: { name: string }) {
  const page = useApi(() => market.publisher(name), [name]);
  if (page.loading) return <Loading what={`Loading publisher ${name}`} />;
  if (!page.data) return page.error ? <ErrorState error={page.error} title={`Could not load publisher ${name}`} /> : <Loading />;
  const p = page.data;
  return (
    <div data-testid="publisher-page" data-publisher={p.name}>
      <div className="mb-1 text-xs"><Link href="/marketplace/" className="text-blue-700 hover:underline">← Marketplace</Link></div>
      <h1 className="mb-4 flex items-center gap-2 text-2xl font-bold">
        {p.name}
        {p.official && <span data-testid="publisher-official" className="rounded-full bg-blue-100 px-2 py-0.5 text-xs text-blue-800">official</span>}
        {p.verified === true && <span data-testid="publisher-verified" className="rounded-full bg-emerald-100 px-2 py-0.5 text-xs text-emerald-800">verified publisher</span>}
        {p.verified === false && <span data-testid="publisher-unverified" className="rounded-full bg-stone-100 px-2 py-0.5 text-xs text-stone-600">not verified</span>}
      </h1>
      <Section title={`${p.components.length} component(s)`} testid="publisher-components">
        {p.components.length === 0 ? <Empty>This publisher has published nothing yet.</Empty> : (
          <table className="w-full text-left text-sm">
            <thead className="border-b text-xs uppercase text-stone-500">
              <tr><th className="py-1 pr-3">Component</th><th className="pr-3">Latest</th><th className="pr-3">Kind</th><th className="pr-3">Rating</th><th className="pr-3">Downloads</th><th>Tier · badges · price</th></tr>
            </thead>
            <tbody>
              {p.components.map((c) => (
                <tr key={c.name} data-testid="publisher-component" data-component={c.name} className="border-b border-stone-100">
                  <td className="py-2 pr-3"><Link href={componentHref(c.name)} className="font-mono text-blue-800 hover:underline">{c.name}</Link>
                    <div className="text-xs text-stone-500">{c.description}</div></td>
                  <td className="pr-3 font-mono text-xs">{c.latest_version}</td>
                  <td className="pr-3 text-xs">{c.kind} · {c.category}</td>
                  <td className="pr-3"><Stars rating={c.rating} /></td>
                  <td className="pr-3 text-xs">{count(c.downloads_month ?? c.downloads)}</td>
                  <td><span className="inline-flex flex-wrap gap-1"><Tier tier={c.tier} /><Badges badges={c.badges} /><Price pricing={c.pricing} /></span></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Signing keys" testid="publisher-keys">
        {p.keys.length === 0 ? <Empty>No signing key registered: its artifacts cannot be verified.</Empty> : (
          <ul className="space-y-1 font-mono text-xs">
            {p.keys.map((k) => <li key={k.key_id} data-testid="publisher-key">{k.key_id} <span className="text-stone-400">added {ago(k.added_at)}</span></li>)}
          </ul>
        )}
      </Section>
    </div>
  );
}

function FromQuery() {
  const name = useSearchParams().get("name");
  if (!name) return <ErrorState error={{ type: "invalid_request", message: "No publisher named in the address.", hint: "Open a publisher from a component's page.", problems: [] }} />;
  return <PublisherView name={name} />;
}

export default function PublisherRoute() {
  return <Suspense fallback={<Loading />}><FromQuery /></Suspense>;
}
