import type { ReactNode } from "react";

export function Section({ title, children, actions, testid }: {
  title: string; children: ReactNode; actions?: ReactNode; testid?: string;
}) {
  return (
    <section data-testid={testid} className="mb-6 rounded-lg border border-stone-200 bg-white p-4 shadow-sm">
      <div className="mb-3 flex items-center justify-between gap-2">
        <h2 className="text-sm font-semibold uppercase tracking-wide text-stone-600">{title}</h2>
        {actions && <div className="flex gap-2">{actions}</div>}
      </div>
      {children}
    </section>
  );
}
