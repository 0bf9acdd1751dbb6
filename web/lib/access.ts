// What the signed-in user may do, read from `Me.permissions` (action → scopes) the way
// dteg/auth/rbac.py decides. The server decides; this only hides what would be refused.
// Prefer a pipeline's own `permissions` (PipelineSummary) when the page has it: it also
// knows restricted pipelines, which scopes alone cannot tell.
import type { Me } from "./api";

// Permissions about the server itself: held only through a binding on every pipeline (`*`).
export const SYSTEM = ["users.manage", "tokens.manage", "roles.manage", "audit.read", "keys.manage", "metrics.read", "privacy.erase"];

const patterns = new Map<string, RegExp>();

/** Python's fnmatchcase: `*`, `?`, `[seq]`, `[!seq]`; everything else literal. */
export function fnmatch(name: string, pattern: string): boolean {
  let re = patterns.get(pattern);
  if (!re) {
    let out = "";
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i];
      if (c === "*") out += ".*";
      else if (c === "?") out += ".";
      else if (c === "[") {
        const end = pattern.indexOf("]", i + 2);
        if (end < 0) { out += "\\["; continue; }
        let body = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        out += `[${body}]`;
        i = end;
      } else out += c.replace(/[.+^${}()|\\/]/g, "\\$&");
    }
    re = new RegExp(`^${out}$`, "s");
    patterns.set(pattern, re);
  }
  return re.test(name);
}

/** Does a binding's scope cover this pipeline? (`*`, a name pattern, `namespace:<ns>`.) */
export function covers(scope: string, pipeline: string): boolean {
  if (scope === "*") return true;
  if (scope.startsWith("namespace:")) {
    const dot = pipeline.indexOf(".");
    return dot > 0 && pipeline.slice(0, dot) === scope.slice("namespace:".length);
  }
  return fnmatch(pipeline, scope);
}

/** May `me` do `action` — on `pipeline`, or on the server (no pipeline)? */
export function can(me: Me | undefined, action: string, pipeline?: string): boolean {
  const scopes = me?.permissions?.[action];
  if (!scopes || scopes.length === 0) return false;
  if (pipeline === undefined || SYSTEM.includes(action)) return SYSTEM.includes(action) ? scopes.includes("*") : true;
  return scopes.some((s) => covers(s, pipeline));
}
