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
  /** What the caller may do with this pipeline (see PIPELINE_ACTIONS); the UI hides the rest. */
  permissions?: string[];
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

export interface Binding {
  role: string;
  scope: string;
}

export interface Me {
  kind: string;
  id: string;
  name: string;
  groups: string[];
  bindings: Binding[];
  /** Each permission and the scopes it holds on (`*`, `sales_*`, `namespace:x`). */
  permissions: Record<string, string[]>;
  auth_enabled: boolean;
  sso: boolean;
}

export interface SignInOptions {
  auth_enabled: boolean;
  password: boolean;
  sso: boolean;
  sso_url?: string | null;
}

export interface UserInfo {
  id: string;
  name: string;
  source: string;
  groups: string[];
  disabled: boolean;
  created_at: string;
  last_login?: string | null;
  bindings: Binding[];
}

export interface UserCreate {
  name: string;
  password: string;
  bindings: Binding[];
  groups?: string[];
}

export interface UserChange {
  password?: string;
  bindings?: Binding[];
  groups?: string[];
  disabled?: boolean;
}

export interface TokenInfo {
  id: string;
  name: string;
  created_by: string;
  created_at: string;
  expires_at?: string | null;
  revoked_at?: string | null;
  last_used?: string | null;
  bindings: Binding[];
}

export interface TokenCreate {
  name: string;
  bindings: Binding[];
  expires_in_days?: number | null;
}

export interface TokenCreated extends TokenInfo {
  /** Shown once: the server keeps only its hash. */
  token: string;
}

export interface RoleInfo {
  name: string;
  permissions: string[];
  builtin: boolean;
  description?: string | null;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  resource: string;
  address?: string | null;
  result: string;
  status?: number | null;
  detail?: Record<string, unknown> | null;
  prev_hash: string;
  hash: string;
}

export interface AuditPage {
  items: AuditEntry[];
  next_before?: number | null;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  first_bad?: number | null;
  reason?: string | null;
}

export const API = "/api/v1";
/** The login page; `next` is where to go back to once signed in. */
export const LOGIN = "/login/";

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

// The session cookie is refused on a change without this header (the server's CSRF guard).
const CSRF = { "X-Requested-With": "dteg" };
// Routes whose 401 means "wrong credentials", not "the session has ended".
const SIGN_IN = ["/auth/login", "/auth/refresh", "/auth/token", "/auth/logout"];

/** Where the user is now, to come back to after signing in. */
export function here(): string {
  if (typeof window === "undefined") return "/";
  return `${window.location.pathname}${window.location.search}${window.location.hash}`;
}

export function loginHref(next = here()): string {
  return next && next !== "/" && !next.startsWith(LOGIN) ? `${LOGIN}?next=${encodeURIComponent(next)}` : LOGIN;
}

/** A `next` that stays on this site (no `//evil.example` or `https:` open redirect). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next.startsWith(LOGIN) ? "/" : next;
}

let refreshing: Promise<boolean> | null = null;

/** One refresh of the session cookie at a time (refresh tokens rotate: a second concurrent use
 * of the old one would look stolen and end the session). */
export function refreshSession(): Promise<boolean> {
  refreshing ??= fetch(`${API}/auth/refresh`, {
    method: "POST", headers: { Accept: "application/json", ...CSRF }, cache: "no-store",
  }).then((r) => r.ok, () => false).finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  return refreshing;
}

let leaving = false;

/** The session has ended: go to the login page, keeping where the user was going. */
export function toLogin(): void {
  if (typeof window === "undefined" || leaving || window.location.pathname.startsWith(LOGIN)) return;
  leaving = true;
  window.location.assign(loginHref());
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  try {
    return await fetch(`${API}${path}`, {
      method,
      headers: body === undefined ? { Accept: "application/json", ...CSRF }
        : { Accept: "application/json", "Content-Type": "application/json", ...CSRF },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
    });
  } catch (err) {
    throw new ApiError(0, {
      type: "network",
      message: `The dteg server did not answer (${String(err)}).`,
      hint: "Check that `dteg server` is running and reachable from this browser.",
      problems: [],
    });
  }
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response = await send(method, path, body);
  const signIn = SIGN_IN.some((p) => path.startsWith(p));
  if (response.status === 401 && !signIn) {
    // The access cookie expired (15 min): refresh it once and ask again.
    if (await refreshSession()) response = await send(method, path, body);
    if (response.status === 401) {
      toLogin();
      throw new ApiError(401, {
        type: "unauthenticated", message: "Your session has ended: taking you to the sign-in page…",
        hint: "Sign in again; you will come back to this page.", problems: [],
      });
    }
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

export function query(params: Record<string, string | number | string[] | undefined | null>): string {
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
  // Signing in and out
  providers: () => request<SignInOptions>("GET", "/auth/providers"),
  login: (username: string, password: string) =>
    request<Me>("POST", "/auth/login", { username, password }),
  logout: () => request<void>("POST", "/auth/logout"),
  me: () => request<Me>("GET", "/auth/me"),
  // Admin: users, API tokens, roles, the audit log
  users: () => request<UserInfo[]>("GET", "/users"),
  createUser: (body: UserCreate) => request<UserInfo>("POST", "/users", body),
  changeUser: (name: string, body: UserChange) => request<UserInfo>("PATCH", `/users/${seg(name)}`, body),
  deleteUser: (name: string) => request<void>("DELETE", `/users/${seg(name)}`),
  tokens: () => request<TokenInfo[]>("GET", "/tokens"),
  createToken: (body: TokenCreate) => request<TokenCreated>("POST", "/tokens", body),
  revokeToken: (id: string) => request<void>("DELETE", `/tokens/${seg(id)}`),
  roles: () => request<RoleInfo[]>("GET", "/roles"),
  audit: (before?: number, limit = 100) => request<AuditPage>("GET", `/audit${query({ before, limit })}`),
  auditVerify: () => request<AuditVerification>("GET", "/audit/verify"),
};

/** The whole audit log as JSON Lines (a download; the session cookie goes with it). */
export const AUDIT_EXPORT = `${API}/audit/export`;

/** The URL of a run's Server-Sent Events (`run`, `log`, `end`). */
export function runEventsUrl(id: string, after = 0): string {
  return `${API}/runs/${seg(id)}/events${query({ after: after || undefined })}`;
}

export const FINISHED: readonly string[] = ["succeeded", "failed", "cancelled"];
export const isFinished = (status: string) => FINISHED.includes(status);
