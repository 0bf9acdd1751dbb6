import type { ReactNode } from "react";
import type { ErrorBody } from "@/lib/api";

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <div data-testid="loading" className="flex items-center gap-2 py-6 text-sm text-stone-500">
      <span className="h-3 w-3 animate-spin rounded-full border-2 border-stone-300 border-t-stone-600" />
      {what}…
    </div>
  );
}

/** Where an error points: file:line and the step, as the CLI prints it. */
export function Location({ error }: { error: Pick<ErrorBody, "file" | "line" | "step"> }) {
  if (!error.file && !error.step) return null;
  const place = error.file ? `${error.file}${error.line ? `:${error.line}` : ""}` : "";
  return (
    <span data-testid="error-location" className="font-mono text-xs">
      {place}{error.step ? `${place ? " — " : ""}step \`${error.step}\`` : ""}
    </span>
  );
}

/** The API's error: its message, where it points, what to do next, each problem. */
export function ErrorState({ error, title = "Something went wrong" }: { error: ErrorBody; title?: string }) {
  return (
    <div data-testid="error-state" className="my-4 rounded-md border border-red-300 bg-red-50 p-4 text-sm text-red-900">
      <div className="font-semibold">{title}</div>
      <div data-testid="error-message" className="mt-1 whitespace-pre-wrap">{error.message}</div>
      <Location error={error} />
      {error.hint && <div data-testid="error-hint" className="mt-2 text-red-800">→ {error.hint}</div>}
      {error.problems?.length > 0 && (
        <ul className="mt-2 list-disc pl-5">
          {error.problems.map((p, i) => (
            <li key={i}><Location error={p} /> {p.message}{p.hint ? ` → ${p.hint}` : ""}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** An empty list, saying what to do about it. */
export function Empty({ children, testid = "empty" }: { children: ReactNode; testid?: string }) {
  return (
    <div data-testid={testid} className="rounded-md border border-dashed border-stone-300 p-4 text-sm text-stone-500">
      {children}
    </div>
  );
}
