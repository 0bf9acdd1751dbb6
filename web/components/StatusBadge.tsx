import { STATUS_BADGE } from "@/lib/colors";

/** A run's or a pipeline's status as a coloured pill (tests read data-status). */
export function StatusBadge({ status, testid = "status-badge" }: { status: string; testid?: string }) {
  const cls = STATUS_BADGE[status] ?? STATUS_BADGE.never_run;
  return (
    <span data-testid={testid} data-status={status}
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${cls}`}>
      {status.replace("_", " ")}
    </span>
  );
}

export function PausedBadge() {
  return (
    <span data-testid="paused-badge"
      className="inline-flex items-center rounded-full bg-stone-800 px-2 py-0.5 text-xs font-medium text-white">
      paused
    </span>
  );
}
