// One colour per run status and per graph node kind, shared by badges and charts.

export const STATUS_ORDER = ["succeeded", "failed", "cancelled", "running", "dispatched", "queued"];

export const STATUS_FILL: Record<string, string> = {
  succeeded: "#16a34a",
  failed: "#dc2626",
  cancelled: "#78716c",
  running: "#2563eb",
  dispatched: "#7c3aed",
  queued: "#d97706",
  never_run: "#a8a29e",
  error: "#b91c1c",
};

export const STATUS_BADGE: Record<string, string> = {
  succeeded: "bg-green-100 text-green-800 ring-green-600/30",
  failed: "bg-red-100 text-red-800 ring-red-600/30",
  cancelled: "bg-stone-200 text-stone-700 ring-stone-500/30",
  running: "bg-blue-100 text-blue-800 ring-blue-600/30",
  dispatched: "bg-violet-100 text-violet-800 ring-violet-600/30",
  queued: "bg-amber-100 text-amber-800 ring-amber-600/30",
  never_run: "bg-stone-100 text-stone-600 ring-stone-400/30",
  error: "bg-red-200 text-red-900 ring-red-700/40",
};

export const KIND_FILL: Record<string, string> = {
  extract: "#dbeafe",
  load: "#dcfce7",
  transform: "#fef3c7",
  validate: "#fce7f3",
  mask: "#ede9fe",
  encrypt: "#ede9fe",
  filter: "#e0f2fe",
  map: "#e0f2fe",
  window: "#f1f5f9",
  aggregate: "#f1f5f9",
  dead_letter: "#fee2e2",
  dataset: "#f5f5f4",
  pipeline: "#dbeafe",
};

export const KIND_STROKE: Record<string, string> = {
  extract: "#2563eb",
  load: "#16a34a",
  transform: "#d97706",
  validate: "#db2777",
  mask: "#7c3aed",
  encrypt: "#7c3aed",
  filter: "#0284c7",
  map: "#0284c7",
  dead_letter: "#dc2626",
  dataset: "#57534e",
  pipeline: "#1d4ed8",
};

export const SERIES = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777"];
