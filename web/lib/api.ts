// Typed helpers for dteg's API (/api/v1, same origin). The types mirror
// dteg/server/models.py, which is the contract: keep the two in step (a field is added,
// never renamed or removed, within v1). Datetimes arrive as ISO 8601 strings.

export type RunStatus = "queued" | "dispatched" | "running" | "succeeded" | "failed" | "cancelled";
export type RunKind = "schedule" | "catchup" | "manual" | "backfill" | "trigger" | "retry";
export type PipelineStatus = "never_run" | "error" | RunStatus;

export interface ErrorBody {
  type: string;
  message: string;
  file?: string | null;
  line?: number | null;
  step?: string | null;
  hint?: string | null;
  problems: ErrorBody[];
}

export interface RunBrief {
  id: string;
  status: RunStatus;
  kind: string;
  created_at: string;
  started_at?: string | null;
  finished_at?: string | null;
  seconds?: number | null;
}

export interface PipelineSummary {
  name: string;
  file: string;
  revision: string;
  schedule?: string | null;
  paused: boolean;
  status: PipelineStatus;
  error?: string | null;
  next_run_at?: string | null;
  last_run?: RunBrief | null;
  last_success_at?: string | null;
  recent_seconds: number[];
  access_level?: string | null;
}

export interface GraphNode {
  id: string;
  label: string;
  kind: string;
  type?: string | null;
  line?: number | null;
  generated: boolean;
}

export interface GraphEdge {
  source: string;
  target: string;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface PipelineDetail extends PipelineSummary {
  yaml: string;
  plan: Record<string, unknown>;
  graph: Graph;
  warnings: string[];
}

export interface PipelinePage {
  items: PipelineSummary[];
  problems: ErrorBody[];
}

export interface ValidateResult {
  valid: boolean;
  pipeline?: string | null;
  errors: ErrorBody[];
  warnings: string[];
  plan?: Record<string, unknown> | null;
}

export interface RevisionResult {
  pipeline: string;
  file: string;
  revision: string;
  created: boolean;
  changed: boolean;
}

export interface BackfillRequest {
  start: string;
  end: string;
  step?: string;
  restart?: boolean;
}

export interface BackfillResult {
  pipeline: string;
  backfill: string;
  description: string;
  partitions: number;
  done_before: number;
  queued: RunBrief[];
  already_queued: number;
}

export interface StepCount {
  step: string;
  kind: string;
  attempt: number;
  rows_in: number;
  rows_out: number;
  dead_letter: number;
  filtered: number;
  loaded: number;
}

export interface AttemptInfo {
  number: number;
  worker?: string | null;
  started_at: string;
  finished_at?: string | null;
  status: string;
  error?: string | null;
  retriable?: boolean | null;
  seconds?: number | null;
}

export interface Run extends RunBrief {
  pipeline: string;
  revision: string;
  scheduled_at?: string | null;
  not_before: string;
  attempt: number;
  max_attempts: number;
  worker?: string | null;
  error?: string | null;
  retriable?: boolean | null;
  rows_read?: number | null;
  rows_loaded?: number | null;
  rows_dead_lettered?: number | null;
  params: Record<string, unknown>;
  triggered_by?: string | null;
}

export interface RunPage {
  items: Run[];
  next_cursor?: string | null;
}

export interface DatasetRef {
  id: string;
  namespace: string;
  name: string;
  direction: "input" | "output";
  step: string;
}

export interface RunDetail extends Run {
  attempts: AttemptInfo[];
  steps: StepCount[];
  reconciles?: boolean | null;
  quality?: Record<string, unknown> | null;
  schema_drift: Record<string, unknown>[];
  dbt: Record<string, unknown>[];
  targets: Record<string, string>;
  dead_letter_target?: string | null;
  datasets: DatasetRef[];
}

export interface DeadLetterSample {
  run_id: string;
  target: string | null;
  readable: boolean;
  total?: number | null;
  records: Record<string, unknown>[];
  note?: string | null;
}

export interface LogLine {
  id: number;
  attempt: number;
  at: string;
  level: string;
  step?: string | null;
  message: string;
}

export interface LogPage {
  items: LogLine[];
  next_after: number;
  finished: boolean;
}

export interface ScheduleTimes {
  pipeline: string;
  schedule: string | null;
  timezone?: string | null;
  paused: boolean;
  next: string[];
}

export interface SchemaVersion {
  first_seen: string;
  run_id: string;
  fields: Record<string, string>[];
}

export interface Dataset {
  id: string;
  namespace: string;
  name: string;
  producers: string[];
  consumers: string[];
  schema_history: SchemaVersion[];
}

export interface Lineage {
  graph: Graph;
  datasets: Dataset[];
}

export interface RulePoint {
  run_id: string;
  at: string;
  step: string;
  rule: string;
  failed: number;
  rows: number;
  ratio?: number | null;
  passed: boolean;
}

export interface QualityHistory {
  pipeline: string;
  points: RulePoint[];
}

export interface AlertDelivery {
  id: number;
  pipeline: string;
  run_id?: string | null;
  channel: string;
  event: string;
  status: string;
  error?: string | null;
  at: string;
}

export interface HourBucket {
  hour: string;
  counts: Record<string, number>;
}

export interface Overview {
  since: string;
  runs_by_status: Record<string, number>;
  runs_by_hour: HourBucket[];
  failing: PipelineSummary[];
  stale: PipelineSummary[];
  active: Run[];
}

export interface Health {
  status: "ok";
  version: string;
}

export interface Readiness {
  ready: boolean;
  store: boolean;
  scheduler?: boolean | null;
  ui: boolean;
}

export const API = "/api/v1";

/** An error the API answered with (its `error` body), or one made up for a network failure. */
export class ApiError extends Error {
  constructor(public status: number, public body: ErrorBody) {
    super(body.message);
  }
}

function errorBody(status: number, payload: unknown, fallback: string): ErrorBody {
  const error = (payload as { error?: ErrorBody } | null)?.error;
  if (error && typeof error.message === "string") return { ...error, problems: error.problems ?? [] };
  // FastAPI's own 422 body is {"detail": [...]}; keep its text rather than lose it.
  const detail = (payload as { detail?: unknown } | null)?.detail;
  return {
    type: status >= 500 ? "internal" : "invalid_request",
    message: detail ? `${fallback}: ${JSON.stringify(detail)}` : fallback,
    problems: [],
  };
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API}${path}`, {
      method,
      headers: body === undefined ? { Accept: "application/json" }
        : { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, {
      type: "network",
      message: `The dteg server did not answer (${String(err)}).`,
      hint: "Check that `dteg server` is running and reachable from this browser.",
      problems: [],
    });
  }
  const text = await response.text();
  let payload: unknown = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status,
      errorBody(response.status, payload, `${method} ${path} answered ${response.status}`));
  }
  return payload as T;
}

function query(params: Record<string, string | number | string[] | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const seg = encodeURIComponent;

export const api = {
  health: () => request<Health>("GET", "/health"),
  ready: () => request<Readiness>("GET", "/ready"),
  overview: (hours = 24) => request<Overview>("GET", `/overview${query({ hours })}`),
  pipelines: () => request<PipelinePage>("GET", "/pipelines"),
  pipeline: (name: string) => request<PipelineDetail>("GET", `/pipelines/${seg(name)}`),
  validate: (yaml: string, filename = "pipeline.yaml") =>
    request<ValidateResult>("POST", "/pipelines/validate", { yaml, filename }),
  saveRevision: (name: string, yaml: string) =>
    request<RevisionResult>("PUT", `/pipelines/${seg(name)}`, { yaml }),
  pause: (name: string) => request<PipelineSummary>("POST", `/pipelines/${seg(name)}/pause`),
  resume: (name: string) => request<PipelineSummary>("POST", `/pipelines/${seg(name)}/resume`),
  trigger: (name: string, params: Record<string, unknown> = {}) =>
    request<Run>("POST", `/pipelines/${seg(name)}/runs`, { params }),
  backfill: (name: string, body: BackfillRequest) =>
    request<BackfillResult>("POST", `/pipelines/${seg(name)}/backfills`, body),
  schedule: (name: string, count = 10) =>
    request<ScheduleTimes>("GET", `/pipelines/${seg(name)}/schedule${query({ count })}`),
  quality: (name: string, limit = 200) =>
    request<QualityHistory>("GET", `/pipelines/${seg(name)}/quality${query({ limit })}`),
  runs: (filter: {
    pipeline?: string; status?: RunStatus[]; kind?: string; since?: string; until?: string;
    cursor?: string; limit?: number;
  } = {}) => request<RunPage>("GET", `/runs${query(filter)}`),
  run: (id: string) => request<RunDetail>("GET", `/runs/${seg(id)}`),
  deadLetters: (id: string, limit = 20) =>
    request<DeadLetterSample>("GET", `/runs/${seg(id)}/dead-letters${query({ limit })}`),
  logs: (id: string, after = 0, limit = 500) =>
    request<LogPage>("GET", `/runs/${seg(id)}/logs${query({ after, limit })}`),
  cancel: (id: string) => request<Run>("POST", `/runs/${seg(id)}/cancel`),
  retry: (id: string) => request<Run>("POST", `/runs/${seg(id)}/retry`),
  lineage: () => request<Lineage>("GET", "/lineage"),
  alerts: (pipeline?: string, limit = 50) =>
    request<AlertDelivery[]>("GET", `/alerts${query({ pipeline, limit })}`),
};

/** The URL of a run's Server-Sent Events (`run`, `log`, `end`). */
export function runEventsUrl(id: string, after = 0): string {
  return `${API}/runs/${seg(id)}/events${query({ after: after || undefined })}`;
}

export const FINISHED: readonly string[] = ["succeeded", "failed", "cancelled"];
export const isFinished = (status: string) => FINISHED.includes(status);
