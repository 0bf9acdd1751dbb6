// Typed helpers for the governance API: the catalog (/catalog), the compliance report and
// data-subject requests (/privacy), quality over time (/pipelines/{name}/quality,
// /catalog/quality). The types mirror dteg/server/catalog_models.py and privacy_models.py.
import { query, request } from "./api";

export interface CatalogColumn {
  name: string;
  type: string;
  pii?: string | null;
  protection?: string | null;
  protected_by?: string | null;
}

export interface CatalogDataset {
  key: string;
  namespace: string;
  name: string;
  component: string;
  description?: string | null;
  owners: string[];
  tags: string[];
  columns: CatalogColumn[];
  pii_classes: Record<string, string>;
  last_written?: string | null;
  last_read?: string | null;
  last_rows?: number | null;
  dead_letter: boolean;
}

export interface CatalogUser { pipeline: string; step: string; role: string; last_run: string }
export interface CatalogModel { model: string; pipeline: string }
export interface CatalogSchemaVersion {
  version: number;
  schema: { name: string; type: string }[];
  run_id: string;
  pipeline: string;
  at: string;
}

export interface ColumnProfile {
  name: string;
  type?: string;
  rows?: number;
  nulls?: number;
  null_rate?: number | null;
  distinct?: number | null;
  min?: unknown;
  max?: unknown;
  pii?: string | null;
  pii_matched?: number;
  pii_checked?: number;
}

export interface CatalogRun {
  run_id: string;
  pipeline: string;
  step: string;
  role: string;
  at: string;
  rows?: number | null;
  profile?: { rows?: number; columns?: ColumnProfile[]; [key: string]: unknown } | null;
}

export interface CatalogDatasetDetail extends CatalogDataset {
  users: CatalogUser[];
  models: CatalogModel[];
  schema_history: CatalogSchemaVersion[];
  runs: CatalogRun[];
}

export interface VolumePoint {
  run_id: string;
  at: string;
  rows: number;
  median?: number | null;
  low?: number | null;
  high?: number | null;
  anomaly: boolean;
}

export interface SchemaChange {
  version: number;
  at: string;
  run_id: string;
  added: string[];
  removed: string[];
  retyped: string[];
  downstream_pipelines: string[];
  downstream_models: string[];
}

export interface DatasetQuality {
  key: string;
  volume: VolumePoint[];
  anomalies: number;
  schema_changes: SchemaChange[];
  last_written?: string | null;
}

export interface InventoryDataset {
  dataset: string;
  columns: Record<string, string>;
  protection: Record<string, string | null>;
  unprotected: string[];
  owners: string[];
  purposes: string[];
  writers: string[];
  recipients: string[];
  models: string[];
  retention: string;
  last_written?: string | null;
}

export interface RetentionRow {
  pipeline: string;
  step: string;
  dataset: string;
  target: string;
  column?: string | null;
  keep?: string | null;
  status: "enforced" | "not_enforced" | "not_set";
  reason: string;
}

export interface PrivacyReport {
  generated_at: string;
  datasets: InventoryDataset[];
  retention: RetentionRow[];
}

export interface RequestReceipt {
  seq: number;
  dataset: string;
  status: string;
  pipeline?: string | null;
  step?: string | null;
  target?: string | null;
  column?: string | null;
  protection?: string | null;
  rows?: number | null;
  message?: string | null;
}

export interface SubjectRequest {
  request_id: string;
  kind: string;
  actor: string;
  at: string;
  complete: boolean;
  receipts: RequestReceipt[];
}

export interface ErasureReceipt {
  dataset: string;
  pipeline: string;
  step: string;
  target: string;
  column: string;
  protection?: string | null;
  status: string;
  rows: number;
  message: string;
}

export interface ErasureResult {
  request_id: string;
  complete: boolean;
  seconds: number;
  receipts: ErasureReceipt[];
}

export interface RuleResult {
  step: string;
  rule: string;
  /** "" for a row-level rule. */
  column: string;
  /** fail: a failing rule fails the run; warn: it flags or quarantines rows. */
  severity: string;
  failed: number;
  passed: number;
}

export interface Anomaly {
  type: string;
  metric: string;
  value: number;
  low?: number | null;
  high?: number | null;
}

export interface QualityRun {
  run_id: string;
  finished: string;
  status: string;
  rows_in: number;
  loaded: number;
  dead_lettered: number;
  dead_letter_rate: number;
  rules: RuleResult[];
  anomalies: Anomaly[];
}

export interface PipelineQualityHistory {
  pipeline: string;
  /** Oldest first. */
  runs: QualityRun[];
}

export interface DatasetPoint {
  run_id: string;
  at: string;
  rows?: number | null;
  freshness_s?: number | null;
  schema_change?: SchemaChange | null;
  anomaly?: Anomaly | null;
}

export interface DatasetQualityHistory {
  dataset: string;
  points: DatasetPoint[];
}

export interface QualitySummaryRow {
  name: string;
  last_run?: string | null;
  pass_rate?: number | null;
  dead_letter_rate?: number | null;
  anomalies: number;
}

export interface QualitySummary {
  pipelines: QualitySummaryRow[];
}

export const governance = {
  catalog: (q?: string, pii = false) =>
    request<CatalogDataset[]>("GET", `/catalog${query({ q, pii: pii ? "true" : undefined })}`),
  dataset: (key: string, runs = 50) =>
    request<CatalogDatasetDetail>("GET", `/catalog/detail${query({ key, runs })}`),
  datasetQuality: (key: string, runs = 200) =>
    request<DatasetQuality>("GET", `/catalog/quality${query({ key, runs })}`),
  qualitySummary: (runs = 50) => request<QualitySummary>("GET", `/quality/summary${query({ runs })}`),
  pipelineQuality: (name: string, limit = 200) =>
    request<PipelineQualityHistory>("GET", `/quality/pipelines/${encodeURIComponent(name)}${query({ limit })}`),
  datasetHistory: (name: string, limit = 500) =>
    request<DatasetQualityHistory>("GET", `/quality/datasets${query({ name, limit })}`),
  report: () => request<PrivacyReport>("GET", "/privacy/report"),
  requests: (limit = 20) => request<SubjectRequest[]>("GET", `/privacy/requests${query({ limit })}`),
  erase: (subject: string) => request<ErasureResult>("POST", "/privacy/erase", { subject }),
};

/** A dataset's page (static export: the key goes in the query string). */
export const datasetHref = (key: string) => `/catalog/dataset/?key=${encodeURIComponent(key)}`;

/** A dataset's short name: a file's last two path parts, or `database · table`. */
export function shortKey(key: string): string {
  const [namespace, name] = key.split("::");
  if (!name) return key;
  const base = namespace.replace(/^file:/, "").split("/").filter(Boolean).pop() ?? namespace;
  return namespace.startsWith("file") ? name.split("/").slice(-2).join("/") : `${base} · ${name}`;
}
