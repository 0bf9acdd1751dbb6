// The marketplace as dteg server shows it (/api/v1/marketplace, a read-only view of the
// configured registry). The types mirror dteg/server/marketplace_models.py; fields an older
// registry lacks arrive null or empty.
import { query, request } from "./api";

export interface Rating {
  average: number | null;
  count: number;
}

export interface Pricing {
  tier: string;
  price?: number | string | null;
  unit?: string | null;
  currency?: string | null;
}

export interface ComponentHit {
  name: string;
  latest_version?: string | null;
  kind?: string | null;
  category?: string | null;
  description: string;
  author: string;
  publisher?: string | null;
  rating: Rating;
  badges: string[];
  tier: string;
  pricing: Pricing;
  downloads: number;
  downloads_month?: number | null;
  success_rate?: number | null;
  active_installs_month?: number | null;
  gates: Record<string, string>;
  updated_at?: string | null;
}

export interface Facets {
  kinds: string[];
  categories: string[];
  tiers: string[];
  badges: string[];
  pricing: string[];
}

export interface SearchResult {
  registry: string;
  results: ComponentHit[];
  total: number;
  facets: Facets;
}

export interface Gate {
  status: string;
  detail?: string | null;
  value?: number | null;
  threshold?: number | null;
}

export interface GateReport {
  component?: string;
  version?: string;
  passed?: boolean;
  gates?: Record<string, Gate>;
}

export interface BreakingChange {
  version: string;
  change: string;
  migration: string;
}

export interface VersionInfo {
  name: string;
  version: string;
  published_at?: string | null;
  publisher?: string | null;
  requires_python: string;
  framework_versions: string;
  breaking_changes: BreakingChange[];
  gate_report: GateReport;
  yanked: boolean;
  manifest: Record<string, unknown>;
}

export interface Compatibility {
  dteg: string;
  python: string;
  fits: boolean;
  version?: string | null;
  reasons: Record<string, string>;
}

export interface ComponentPage extends ComponentHit {
  versions: VersionInfo[];
  install: string;
  compatibility: Compatibility;
  downloads_detail?: { total: number; last_30_days: number; by_version: Record<string, number> } | null;
  registry: string;
}

export interface DocSection {
  name: string;
  markdown: string;
}

export interface Documentation {
  component: string;
  version: string;
  source: "docs" | "readme" | "none";
  sections: DocSection[];
  note?: string | null;
}

export interface Listing<T> {
  items: T[];
  total?: number | null;
  supported: boolean;
  [extra: string]: unknown;
}

export interface Review {
  id: string;
  user: string;
  version?: string | null;
  rating: number;
  text?: string | null;
  created?: string | null;
  updated?: string | null;
  reply?: { text: string; created?: string | null } | null;
  hidden?: boolean;
}

export interface Thread {
  id: string;
  title: string;
  user?: string | null;
  created?: string | null;
  posts?: number | null;
  solved?: boolean | null;
}

export interface Publisher {
  name: string;
  verified?: boolean | null;
  official?: boolean | null;
  components: ComponentHit[];
  keys: { key_id: string; public_key?: string; added_at?: string }[];
}

export interface Organisation {
  organisation?: string | null;
  configured: boolean;
  registry: string;
}

export interface Licence {
  id: string;
  components: string[] | string;
  seats?: number | null;
  seats_used?: number | null;
  expires?: string | null;
  kind?: string | null;
  status?: string | null;
}

export interface UsageLine {
  component: string;
  licence?: string | null;
  runs?: number | null;
  rows?: number | null;
}

export interface Invoice {
  id: string;
  period: string;
  total: number | string;
  currency?: string | null;
  status?: string | null;
  lines?: unknown[] | null;
}

export interface SearchFilter {
  q?: string;
  kind?: string;
  category?: string;
  tier?: string;
  badge?: string;
  pricing?: string;
}

const seg = encodeURIComponent;
const M = "/marketplace";

export const market = {
  search: (filter: SearchFilter = {}, limit = 50) =>
    request<SearchResult>("GET", `${M}/search${query({ ...filter, limit })}`),
  component: (name: string) => request<ComponentPage>("GET", `${M}/components/${seg(name)}`),
  docs: (name: string, version: string) =>
    request<Documentation>("GET", `${M}/components/${seg(name)}/versions/${seg(version)}/docs`),
  reviews: (name: string) => request<Listing<Review>>("GET", `${M}/components/${seg(name)}/reviews`),
  threads: (name: string) => request<Listing<Thread>>("GET", `${M}/components/${seg(name)}/threads`),
  publisher: (name: string) => request<Publisher>("GET", `${M}/publishers/${seg(name)}`),
  organisation: () => request<Organisation>("GET", `${M}/organisation`),
  licences: () => request<Listing<Licence>>("GET", `${M}/organisation/licences`),
  usage: (period?: string) => request<Listing<UsageLine>>("GET", `${M}/organisation/usage${query({ period })}`),
  invoices: () => request<Listing<Invoice>>("GET", `${M}/organisation/invoices`),
};

export const componentHref = (name: string) => `/marketplace/component/?name=${seg(name)}`;
export const publisherHref = (name: string) => `/marketplace/publisher/?name=${seg(name)}`;

/** What a component costs, in words. */
export function priceText(p: Pricing | undefined): string {
  if (!p || !p.tier || p.tier === "free") return "free";
  if (p.price === null || p.price === undefined || p.price === "") return p.tier;
  const unit = p.unit ? ` / ${p.unit.replace(/_/g, " ")}` : "";
  return `${p.tier} · ${p.price}${p.currency ? ` ${p.currency}` : ""}${unit}`;
}
