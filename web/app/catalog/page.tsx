"use client";
// The catalog: every dataset the pipelines read or write — which hold personal data, who owns
// them, how fresh they are. Search by text (name, column, owner, tag, PII class), PII only,
// owner or tag.
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { ago, count } from "@/lib/format";
import { datasetHref, governance, shortKey, type CatalogDataset } from "@/lib/governance";
import { useApi } from "@/lib/useApi";
import { PiiList } from "@/components/PiiBadge";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";

function protectionOf(d: CatalogDataset): Record<string, string | null | undefined> {
  return Object.fromEntries(d.columns.map((c) => [c.name, c.protection]));
}

function Row({ d }: { d: CatalogDataset }) {
  return (
    <tr data-testid="catalog-row" data-key={d.key} className="border-b border-stone-100 align-top">
      <td className="py-2 pr-3">
        <Link href={datasetHref(d.key)} data-testid="dataset-link" className="font-mono text-sm font-medium text-blue-700 hover:underline">
          {shortKey(d.key)}
        </Link>
        {d.dead_letter && <span className="ml-2 rounded bg-amber-100 px-1.5 text-xs text-amber-900">dead letters</span>}
        <div className="max-w-md truncate font-mono text-xs text-stone-500" title={d.key}>{d.namespace}</div>
      </td>
      <td className="pr-3 text-xs">{d.component}</td>
      <td className="pr-3"><PiiList classes={d.pii_classes} protection={protectionOf(d)} /></td>
      <td className="pr-3 text-xs">
        {d.owners.length ? d.owners.join(", ") : <span className="text-stone-400">no owner</span>}
        {d.tags.length > 0 && <div className="mt-1 flex flex-wrap gap-1">{d.tags.map((t) => <span key={t} className="rounded bg-stone-100 px-1">#{t}</span>)}</div>}
      </td>
      <td className="pr-3 text-right text-xs tabular-nums">{count(d.last_rows)}</td>
      <td className="whitespace-nowrap text-xs" title={d.last_written ?? d.last_read ?? ""}>
        {d.last_written ? <>written {ago(d.last_written)}</> : d.last_read ? <>read {ago(d.last_read)}</> : "—"}
      </td>
    </tr>
  );
}

function CatalogView() {
  const params = useSearchParams();
  const router = useRouter();
  const q = params.get("q") ?? "";
  const pii = params.get("pii") === "true";
  const [text, setText] = useState(q);
  const [owner, setOwner] = useState("");
  const [tag, setTag] = useState("");
  // The answer keeps the filter it was asked with: the old list stays up while a new one loads.
  const list = useApi(() => governance.catalog(q || undefined, pii).then((items) => ({ q, pii, items })), [q, pii]);

  function go(next: { q?: string; pii?: boolean }) {
    const search = new URLSearchParams();
    const nq = next.q ?? q;
    if (nq) search.set("q", nq);
    if (next.pii ?? pii) search.set("pii", "true");
    const s = search.toString();
    router.replace(`/catalog/${s ? `?${s}` : ""}`);
  }

  const all = list.data?.items ?? [];
  const owners = [...new Set(all.flatMap((d) => d.owners))].sort();
  const tags = [...new Set(all.flatMap((d) => d.tags))].sort();
  const shown = all.filter((d) => (!owner || d.owners.includes(owner)) && (!tag || d.tags.includes(tag)));
  return (
    <div data-testid="catalog-page">
      <h1 className="mb-4 text-2xl font-bold">Catalog</h1>
      <form data-testid="catalog-search" className="mb-4 flex flex-wrap items-center gap-3"
        onSubmit={(e) => { e.preventDefault(); go({ q: text }); }}>
        <input data-testid="catalog-q" value={text} onChange={(e) => setText(e.target.value)} maxLength={200}
          placeholder="Search names, columns, owners, tags, PII classes…"
          className="w-80 rounded-md border border-stone-300 px-3 py-1 text-sm" />
        <button type="submit" className="rounded-md border border-stone-300 bg-white px-3 py-1 text-sm hover:bg-stone-50">Search</button>
        <label className="flex items-center gap-1 text-sm">
          <input type="checkbox" data-testid="catalog-pii" checked={pii} onChange={(e) => go({ pii: e.target.checked })} />
          Personal data only
        </label>
        <select data-testid="catalog-owner" value={owner} onChange={(e) => setOwner(e.target.value)} disabled={owners.length === 0}
          className="rounded-md border border-stone-300 px-2 py-1 text-sm">
          <option value="">{owners.length ? "Any owner" : "No owners declared"}</option>
          {owners.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>
        <select data-testid="catalog-tag" value={tag} onChange={(e) => setTag(e.target.value)} disabled={tags.length === 0}
          className="rounded-md border border-stone-300 px-2 py-1 text-sm">
          <option value="">{tags.length ? "Any tag" : "No tags declared"}</option>
          {tags.map((t) => <option key={t} value={t}>#{t}</option>)}
        </select>
      </form>
      {list.loading ? <Loading what="Loading the catalog" /> : list.error && !list.data ? (
        <ErrorState error={list.error} title="Could not load the catalog" />
      ) : shown.length === 0 ? (
        q || pii || owner || tag ? (
          <Empty testid="catalog-empty">No dataset matches{q ? <> <code>{q}</code></> : ""}{pii ? " with personal data" : ""}{owner ? ` owned by ${owner}` : ""}{tag ? ` tagged #${tag}` : ""}. Clear the filters to see every dataset.</Empty>
        ) : (
          <Empty testid="catalog-empty">No datasets yet — the catalog fills itself when a pipeline runs: every dataset it reads or writes appears here with its schema and personal data. Run one from the <a className="text-blue-700 underline" href="/pipelines/">Pipelines</a> page.</Empty>
        )
      ) : (
        <Section title={`${shown.length} dataset(s)`} testid="catalog-list">
          <div data-testid="catalog-answer" data-q={list.data?.q} data-pii={String(list.data?.pii)} hidden />
          <div className="overflow-x-auto">
            <table data-testid="catalog-table" className="w-full text-left text-sm">
              <thead className="border-b text-xs uppercase text-stone-500">
                <tr><th className="py-1 pr-3">Dataset</th><th className="pr-3">Kind</th><th className="pr-3">Personal data (column: class · protection)</th>
                  <th className="pr-3">Owners / tags</th><th className="pr-3 text-right">Rows (last run)</th><th>Freshness</th></tr>
              </thead>
              <tbody>{shown.map((d) => <Row key={d.key} d={d} />)}</tbody>
            </table>
          </div>
        </Section>
      )}
    </div>
  );
}

export default function CatalogPage() {
  return <Suspense fallback={<Loading />}><CatalogView /></Suspense>;
}
