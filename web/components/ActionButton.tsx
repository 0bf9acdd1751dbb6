"use client";
import { useState } from "react";
import { ApiError, type ErrorBody } from "@/lib/api";

/** A button that calls the API, shows it is busy, and shows the API's error if it fails. */
export function ActionButton<T>({ label, action, onDone, testid, tone = "default", disabled }: {
  label: string;
  action: () => Promise<T>;
  onDone?: (result: T) => void;
  testid: string;
  tone?: "default" | "primary" | "danger";
  disabled?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorBody>();
  const colours = {
    default: "border-stone-300 bg-white text-stone-800 hover:bg-stone-50",
    primary: "border-blue-700 bg-blue-600 text-white hover:bg-blue-700",
    danger: "border-red-300 bg-white text-red-700 hover:bg-red-50",
  }[tone];
  async function click() {
    setBusy(true);
    setError(undefined);
    try {
      const result = await action();
      onDone?.(result);
    } catch (err) {
      setError(err instanceof ApiError ? err.body : { type: "internal", message: String(err), problems: [] });
    } finally {
      setBusy(false);
    }
  }
  return (
    <span className="inline-flex flex-col items-start">
      <button type="button" data-testid={testid} disabled={busy || disabled} onClick={click}
        className={`rounded-md border px-3 py-1 text-sm font-medium disabled:opacity-50 ${colours}`}>
        {busy ? `${label}…` : label}
      </button>
      {error && (
        <span data-testid={`${testid}-error`} className="mt-1 max-w-xs text-xs text-red-700">
          {error.message}{error.hint ? ` → ${error.hint}` : ""}
        </span>
      )}
    </span>
  );
}
