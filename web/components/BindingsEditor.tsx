"use client";
import type { Binding, RoleInfo } from "@/lib/api";

const input = "rounded-md border border-stone-300 px-2 py-1 text-sm";

/** Roles and where they hold: `*` (every pipeline), a name pattern (`sales_*`) or `namespace:x`. */
export function BindingsEditor({ value, onChange, roles, testid }: {
  value: Binding[]; onChange: (next: Binding[]) => void; roles: RoleInfo[]; testid: string;
}) {
  const names = roles.length ? roles.map((r) => r.name) : ["viewer", "runner", "editor", "admin"];
  const set = (i: number, patch: Partial<Binding>) => onChange(value.map((b, j) => (j === i ? { ...b, ...patch } : b)));
  return (
    <div data-testid={testid} className="space-y-1">
      {value.map((b, i) => (
        <div key={i} className="flex items-center gap-2" data-testid={`${testid}-row`}>
          <select aria-label="role" data-testid={`${testid}-role`} value={b.role} onChange={(e) => set(i, { role: e.target.value })} className={input}>
            {[...new Set([...names, b.role])].map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
          <span className="text-xs text-stone-500">on</span>
          <input aria-label="scope" data-testid={`${testid}-scope`} value={b.scope} onChange={(e) => set(i, { scope: e.target.value })}
            placeholder="* or sales_* or namespace:sales" className={`${input} w-44 font-mono`} />
          <button type="button" onClick={() => onChange(value.filter((_, j) => j !== i))}
            className="text-xs text-stone-500 hover:text-red-700" aria-label="remove this role">remove</button>
        </div>
      ))}
      <button type="button" data-testid={`${testid}-add`} onClick={() => onChange([...value, { role: "viewer", scope: "*" }])}
        className="text-xs text-blue-700 hover:underline">+ add a role</button>
    </div>
  );
}

export const describeBindings = (bindings: Binding[]) =>
  bindings.length ? bindings.map((b) => `${b.role} on ${b.scope}`).join(", ") : "no role";
