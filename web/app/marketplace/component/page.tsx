"use client";
// Should I install this component? Its docs, versions, gates, compatibility with this server,
// what people say about it, and the command that installs it.
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import { ago, count, when } from "@/lib/format";
import { market, publisherHref, type ComponentPage } from "@/lib/marketplace";
import { useApi } from "@/lib/useApi";
import { Markdown } from "@/components/Markdown";
import { Badges, GateTable, Price, Stars, Tier } from "@/components/MarketBits";
import { Section } from "@/components/Section";
import { Empty, ErrorState, Loading } from "@/components/States";

function Docs({ name, version }: { name: string; version: string }) {
  const docs = useApi(() => market.docs(name, version), [name, version]);
  if (docs.error) return <ErrorState error={docs.error} title="Could not read the documentation" />;
  if (docs.loading || !docs.data) return <Loading what="Reading the documentation" />;
  if (docs.data.sections.length === 0) {
    return <Empty testid="docs-empty">This version ships no documentation{docs.data.note ? ` (${docs.data.note})` : ""}.</Empty>;
  }
  return (
    <div data-testid="docs" data-source={docs.data.source} className="space-y-6">
      {docs.data.sections.map((s) => (
        <article key={s.name} data-testid="doc-section" data-section={s.name}>
          {docs.data?.source === "docs" && <h3 className="mb-2 text-xs font-semibold uppercase tracking-wide text-stone-500">{s.name}</h3>}
          <Markdown source={s.markdown} testid={`doc-${s.name}`} />
        </article>
      ))}
    </div>
  );
}

function Install({ c }: { c: ComponentPage }) {
  const [copied, setCopied] = useState(false);
  const premium = c.pricing?.tier && c.pricing.tier !== "free";
  return (
    <div>
      <div className="flex items-center gap-2">
        <code data-testid="install-command" className="flex-1 overflow-x-auto rounded-md bg-stone-900 px-3 py-2 font-mono text-xs text-stone-100">{c.install}</code>
        <button type="button" className="rounded-md border border-stone-300 px-2 py-1 text-xs hover:bg-stone-100"
          onClick={() => { navigator.clipboard?.writeText(c.install).then(() => setCopied(true), () => setCopied(false)); }}>
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      {premium && <p className="mt-2 text-xs text-fuchsia-800">A {c.pricing.tier} component: installing it needs a licence for your organisation.</p>}
      <p data-testid="compat" data-fits={String(c.compatibility.fits)} className={`mt-2 text-xs ${c.compatibility.fits ? "text-emerald-800" : "text-red-800"}`}>
        {c.compatibility.fits
          ? `Version ${c.compatibility.version} fits this server (dteg ${c.compatibility.dteg}, Python ${c.compatibility.python}).`
          : `No version fits this server (dteg ${c.compatibility.dteg}, Python ${c.compatibility.python}).`}
      </p>
      {Object.keys(c.compatibility.reasons).length > 0 && (
        <ul className="mt-1 list-disc pl-5 text-xs text-stone-600">
          {Object.entries(c.compatibility.reasons).map(([v, why]) => <li key={v}><span className="font-mono">{v}</span>: {why}</li>)}
        </ul>
      )}
    </div>
  );
}

function Reviews({ name }: { name: string }) {
  const reviews = useApi(() => market.reviews(name), [name]);
  if (reviews.error) return <ErrorState error={reviews.error} title="Could not load the reviews" />;
  if (reviews.loading || !reviews.data) return <Loading what="Loading reviews" />;
  if (!reviews.data.supported) return <Empty testid="reviews-unsupported">This registry does not collect reviews yet.</Empty>;
  if (reviews.data.items.length === 0) return <Empty testid="reviews-empty">No reviews yet — review it with <code>dteg review {name}</code> once you have used it.</Empty>;
  return (
    <ul data-testid="reviews" className="divide-y divide-stone-100">
      {reviews.data.items.map((r) => (
        <li key={r.id} data-testid="review" data-user={r.user} data-rating={r.rating} className="py-2 text-sm">
          <div className="flex items-center gap-2">
            <Stars rating={{ average: r.rating, count: 1 }} testid="review-stars" showCount={false} />
            <span className="font-medium">{r.user}</span>
            {r.version && <span className="font-mono text-xs text-stone-500">on {r.version}</span>}
            <span className="text-xs text-stone-400">{ago(r.updated ?? r.created)}</span>
          </div>
          {r.text && <p className="mt-1 whitespace-pre-wrap text-stone-700">{r.text}</p>}
          {r.reply && <p data-testid="review-reply" className="ml-4 mt-1 border-l-2 border-blue-200 pl-2 text-stone-600"><span className="font-medium">Publisher:</span> {r.reply.text}</p>}
        </li>
      ))}
    </ul>
  );
}

function Threads({ name }: { name: string }) {
  const threads = useApi(() => market.threads(name), [name]);
  if (threads.error) return <ErrorState error={threads.error} title="Could not load the support threads" />;
  if (threads.loading || !threads.data) return <Loading what="Loading support threads" />;
  if (!threads.data.supported) return <Empty testid="threads-unsupported">This registry has no support threads yet.</Empty>;
  if (threads.data.items.length === 0) return <Empty testid="threads-empty">No questions yet — ask one with <code>dteg support {name}</code>.</Empty>;
  return (
    <ul data-testid="threads" className="space-y-1 text-sm">
      {threads.data.items.map((t) => (
        <li key={t.id} data-testid="thread" className="flex items-center gap-2">
          {t.solved ? <span className="rounded bg-emerald-100 px-1 text-xs text-emerald-800">solved</span> : <span className="rounded bg-stone-100 px-1 text-xs text-stone-600">open</span>}
          <span>{t.title}</span>
          <span className="text-xs text-stone-400">{t.user} · {t.posts ?? 0} post(s) · {ago(t.created)}</span>
        </li>
      ))}
    </ul>
  );
}

function Component({ name }: { name: string }) {
  const page = useApi(() => market.component(name), [name]);
  const [picked, setPicked] = useState<string>();
  if (page.loading) return <Loading what={`Loading ${name}`} />;
  if (!page.data) return page.error ? <ErrorState error={page.error} title={`Could not load component ${name}`} /> : <Loading />;
  const c = page.data;
  const versions = [...c.versions].reverse();
  const version = picked ?? c.latest_version ?? versions[0]?.version;
  const shown = c.versions.find((v) => v.version === version);
  return (
    <div data-testid="component-page" data-component={c.name}>
      <div className="mb-1 text-xs"><Link href="/marketplace/" className="text-blue-700 hover:underline">← Marketplace</Link></div>
      <div className="mb-4 flex flex-wrap items-start justify-between gap-3">
        <div>
          <h1 className="flex flex-wrap items-center gap-2 text-2xl font-bold">
            <span className="font-mono">{c.name}</span>
            <span data-testid="latest-version" className="font-mono text-base text-stone-500">{c.latest_version}</span>
            <Tier tier={c.tier} /><Badges badges={c.badges} /><Price pricing={c.pricing} />
          </h1>
          <p className="mt-1 text-sm text-stone-700">{c.description}</p>
          <div className="mt-1 text-xs text-stone-500">
            {c.kind} · {c.category} · by {c.author}
            {c.publisher && <> · publisher <Link data-testid="publisher-link" href={publisherHref(c.publisher)} className="text-blue-700 hover:underline">{c.publisher}</Link></>}
          </div>
        </div>
        <div className="flex flex-col items-end gap-1 text-xs text-stone-600">
          <Stars rating={c.rating} />
          <span data-testid="downloads">{count(c.downloads_month ?? c.downloads_detail?.last_30_days ?? c.downloads)} download(s) in the last month · {count(c.downloads_detail?.total ?? c.downloads)} in all</span>
          {c.success_rate !== null && c.success_rate !== undefined && <span data-testid="success-rate">{(c.success_rate * 100).toFixed(1)} % of reported runs succeeded</span>}
          {c.active_installs_month !== null && c.active_installs_month !== undefined && <span>{count(c.active_installs_month)} active install(s) this month</span>}
        </div>
      </div>
      <Section title="Install" testid="install"><Install c={c} /></Section>
      <div className="grid gap-6 lg:grid-cols-3">
        <div className="lg:col-span-2">
          <Section title={`Documentation (${version})`} testid="readme">
            {version ? <Docs name={c.name} version={version} /> : <Empty>No version published.</Empty>}
          </Section>
          <Section title="Reviews" testid="reviews-section"><Reviews name={c.name} /></Section>
          <Section title="Support" testid="threads-section"><Threads name={c.name} /></Section>
        </div>
        <div>
          <Section title="Versions" testid="versions">
            <ul className="space-y-2 text-sm">
              {versions.map((v) => (
                <li key={v.version} data-testid="version-row" data-version={v.version}>
                  <button type="button" onClick={() => setPicked(v.version)}
                    className={`font-mono ${v.version === version ? "font-bold text-stone-900" : "text-blue-700 hover:underline"}`}>{v.version}</button>
                  {v.yanked && <span className="ml-1 rounded bg-red-100 px-1 text-xs text-red-800">yanked</span>}
                  <span className="ml-2 text-xs text-stone-500" title={when(v.published_at)}>{ago(v.published_at)}</span>
                  <div className="text-xs text-stone-500">dteg <code>{v.framework_versions}</code> · Python <code>{v.requires_python}</code></div>
                  {v.breaking_changes.map((b) => (
                    <div key={b.version} data-testid="breaking-change" className="mt-1 text-xs text-amber-800">⚠ {b.version}: {b.change} → {b.migration}</div>
                  ))}
                </li>
              ))}
            </ul>
          </Section>
          <Section title={`Quality gates (${version})`} testid="gates"><GateTable report={shown?.gate_report} /></Section>
        </div>
      </div>
    </div>
  );
}

function FromQuery() {
  const name = useSearchParams().get("name");
  if (!name) return <ErrorState error={{ type: "invalid_request", message: "No component named in the address.", hint: "Open a component from the marketplace search.", problems: [] }} />;
  return <Component name={name} />;
}

export default function ComponentRoute() {
  return <Suspense fallback={<Loading />}><FromQuery /></Suspense>;
}
