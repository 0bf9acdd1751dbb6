"use client";
// Which component should I use? The registry's components, best first, with filters.
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState, type FormEvent } from "react";
import { count } from "@/lib/format";
import { componentHref, market, publisherHref, type SearchFilter } from "@/lib/marketplace";
import { useApi } from "@/lib/useApi";
import { can } from "@/lib/access";
import { useSession } from "@/lib/session";
import { Badges, Price, Stars, Tier } from "@/components/MarketBits";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";

const FILTERS = ["kind", "category", "tier", "badge", "pricing"] as const;
type FilterKey = (typeof FILTERS)[number];
const FACET: Record<FilterKey, "kinds" | "categories" | "tiers" | "badges" | "pricing"> = {
  kind: "kinds", category: "categories", tier: "tiers", badge: "badges", pricing: "pricing",
};
const input = "rounded-md border border-stone-300 px-2 py-1 text-sm";

function filterOf(params: URLSearchParams): SearchFilter {
  const f: SearchFilter = { q: params.get("q") ?? "" };
  for (const key of FILTERS) { const v = params.get(key); if (v) f[key] = v; }
  return f;
}

function hrefOf(f: SearchFilter): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `/marketplace/?${s}` : "/marketplace/";
}

function OrgLinks() {
  const { me } = useSession();
  if (!can(me, "marketplace.organisation")) return null;
  return (
    <div className="flex gap-3 text-sm">
      <Link data-testid="link-licences" href="/marketplace/licences/" className="text-blue-700 hover:underline">Licences</Link>
      <Link data-testid="link-usage" href="/marketplace/usage/" className="text-blue-700 hover:underline">Usage &amp; invoices</Link>
    </div>
  );
}

function Search() {
  const params = useSearchParams();
  const router = useRouter();
  const filter = filterOf(params);
  const key = JSON.stringify(filter);
  const found = useApi(() => market.search(filter), [key]);
  const [text, setText] = useState(filter.q ?? "");
  const go = (f: SearchFilter) => router.push(hrefOf(f));
  function submit(e: FormEvent) { e.preventDefault(); go({ ...filter, q: text }); }
  const facets = found.data?.facets;
  return (
    <div data-testid="marketplace">
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold">Marketplace</h1>
        <OrgLinks />
      </div>
      <form data-testid="market-search" onSubmit={submit} className="mb-4 flex flex-wrap items-center gap-2">
        <input data-testid="market-q" className={`${input} w-72`} placeholder="Search components (name, category, …)"
          value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit" data-testid="market-go" className="rounded-md border border-blue-700 bg-blue-600 px-3 py-1 text-sm font-medium text-white hover:bg-blue-700">Search</button>
        {FILTERS.map((k) => (
          <label key={k} className="flex items-center gap-1 text-xs text-stone-600">
            {k}
            <select data-testid={`filter-${k}`} className={input} value={filter[k] ?? ""}
              onChange={(e) => go({ ...filter, q: text, [k]: e.target.value || undefined })}>
              <option value="">any</option>
              {(facets?.[FACET[k]] ?? (filter[k] ? [filter[k] as string] : [])).map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          </label>
        ))}
      </form>
      {found.error ? <ErrorState error={found.error} title="Could not reach the marketplace registry" />
        : found.loading || !found.data ? <Loading what="Searching the marketplace" /> : (
          <Section title={`${found.data.total} component(s)`} testid="market-results"
            actions={<span className="font-mono text-xs text-stone-500" data-testid="market-registry">{found.data.registry}</span>}>
            {found.data.results.length === 0 ? (
              <Empty testid="market-empty">No component matches{filter.q ? <> “{filter.q}”</> : ""}{FILTERS.some((k) => filter[k]) ? " with these filters" : ""}. <Link className="text-blue-700 underline" href="/marketplace/">Clear the search</Link> to see them all.</Empty>
            ) : (
              <ul className="divide-y divide-stone-100">
                {found.data.results.map((c) => (
                  <li key={c.name} data-testid="market-hit" data-component={c.name} className="flex flex-wrap items-start justify-between gap-3 py-3">
                    <div className="min-w-0 flex-1">
                      <div className="flex flex-wrap items-center gap-2">
                        <Link href={componentHref(c.name)} data-testid="hit-link" className="font-mono font-semibold text-blue-800 hover:underline">{c.name}</Link>
                        <span className="font-mono text-xs text-stone-500">{c.latest_version}</span>
                        <Tier tier={c.tier} /><Badges badges={c.badges} /><Price pricing={c.pricing} />
                      </div>
                      <p className="mt-1 text-sm text-stone-700">{c.description}</p>
                      <div className="mt-1 text-xs text-stone-500">
                        {c.kind} · {c.category}
                        {c.publisher && <> · by <Link href={publisherHref(c.publisher)} className="hover:underline">{c.publisher}</Link></>}
                      </div>
                    </div>
                    <div className="flex flex-col items-end gap-1 text-xs text-stone-600">
                      <Stars rating={c.rating} />
                      <span data-testid="hit-downloads" data-downloads={c.downloads_month ?? c.downloads}>
                        {count(c.downloads_month ?? c.downloads)} download(s){c.downloads_month !== null && c.downloads_month !== undefined ? " this month" : ""}
                      </span>
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </Section>
        )}
    </div>
  );
}

export default function MarketplacePage() {
  return <Suspense fallback={<Loading />}><Search /></Suspense>;
}
