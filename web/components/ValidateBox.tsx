"use client";
import { useState } from "react";
import { api, ApiError, type ErrorBody, type ValidateResult } from "@/lib/api";
import { ErrorState, Location } from "./States";

/** Paste a changed pipeline file and check it with the server's compiler (nothing is saved). */
export function ValidateBox({ initial, filename, canWrite = true }: { initial: string; filename: string; canWrite?: boolean }) {
  const [text, setText] = useState(initial);
  const [result, setResult] = useState<ValidateResult>();
  const [failure, setFailure] = useState<ErrorBody>();
  const [busy, setBusy] = useState(false);
  async function check() {
    setBusy(true);
    setFailure(undefined);
    try {
      setResult(await api.validate(text, filename));
    } catch (err) {
      setResult(undefined);
      setFailure(err instanceof ApiError ? err.body : { type: "internal", message: String(err), problems: [] });
    } finally {
      setBusy(false);
    }
  }
  return (
    <div>
      <textarea data-testid="validate-input" value={text} onChange={(e) => setText(e.target.value)}
        spellCheck={false} rows={14}
        className="w-full rounded-md border border-stone-300 bg-stone-50 p-2 font-mono text-xs" />
      <div className="mt-2 flex items-center gap-3">
        <button type="button" data-testid="validate-button" onClick={check} disabled={busy}
          className="rounded-md border border-stone-300 bg-white px-3 py-1 text-sm font-medium hover:bg-stone-50 disabled:opacity-50">
          {busy ? "Checking…" : "Validate"}
        </button>
        <span className="text-xs text-stone-500">Checks the text with the server&apos;s compiler; nothing is saved.
          {!canWrite && <span data-testid="validate-read-only"> Saving a change needs the pipelines.write permission.</span>}</span>
      </div>
      {failure && <ErrorState error={failure} title="Could not validate" />}
      {result && (
        <div data-testid="validate-result" data-valid={String(result.valid)} className="mt-3 text-sm">
          {result.valid ? (
            <p className="text-green-800">✓ Valid{result.pipeline ? ` — pipeline ${result.pipeline}` : ""}.</p>
          ) : (
            <ul className="space-y-1">
              {result.errors.map((e, i) => (
                <li key={i} data-testid="validate-error" className="rounded border border-red-200 bg-red-50 p-2 text-red-900">
                  <Location error={e} /><div>{e.message}</div>
                  {e.hint && <div className="text-red-700">→ {e.hint}</div>}
                </li>
              ))}
            </ul>
          )}
          {result.warnings.map((w, i) => <p key={i} className="text-amber-800">⚠ {w}</p>)}
        </div>
      )}
    </div>
  );
}
