"use client";
import { useState } from "react";
import { ActionButton } from "./ActionButton";

/** A destructive action in two presses: the first asks, the second does it. */
export function ConfirmButton<T>({ label, confirm, action, onDone, testid }: {
  label: string; confirm: string; action: () => Promise<T>; onDone?: (result: T) => void; testid: string;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" data-testid={testid} onClick={() => setAsking(true)}
        className="rounded-md border border-red-300 bg-white px-3 py-1 text-sm font-medium text-red-700 hover:bg-red-50">
        {label}
      </button>
    );
  }
  return (
    <span className="inline-flex items-start gap-1">
      <ActionButton testid={`${testid}-confirm`} label={confirm} tone="danger" action={action} onDone={onDone} />
      <button type="button" onClick={() => setAsking(false)} className="px-2 py-1 text-sm text-stone-600 hover:underline">Keep</button>
    </span>
  );
}
