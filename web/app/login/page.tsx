"use client";
// Sign in: a user name and password (local users), or single sign-on when the server has it.
// Afterwards the browser holds HttpOnly session cookies; `next` is where the user was going.
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState, type FormEvent } from "react";
import { api, ApiError, safeNext, type ErrorBody } from "@/lib/api";
import { useApi } from "@/lib/useApi";
import { useSession } from "@/lib/session";
import { ErrorState, Loading } from "@/components/States";

const field = "mt-1 w-full rounded-md border border-stone-300 px-2 py-1.5 text-sm focus:border-blue-600 focus:outline-none";

function LoginForm() {
  const params = useSearchParams();
  const next = safeNext(params.get("next"));
  const ssoError = params.get("error");
  const router = useRouter();
  const { setMe } = useSession();
  const options = useApi(() => api.providers(), []);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ status: number; body: ErrorBody }>();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setFailure(undefined);
    try {
      setMe(await api.login(username, password));
      router.replace(next);
    } catch (err) {
      setFailure(err instanceof ApiError ? { status: err.status, body: err.body }
        : { status: 0, body: { type: "internal", message: String(err), problems: [] } });
      setPassword("");
      setBusy(false);
    }
  }

  if (options.loading) return <Loading what="Asking the server how to sign in" />;
  if (options.error || !options.data) {
    return <ErrorState error={options.error ?? { type: "internal", message: "no answer", problems: [] }}
      title="Could not reach the server to sign in" />;
  }
  const o = options.data;
  if (!o.auth_enabled) {
    return (
      <div data-testid="auth-off" className="text-sm">
        <p>Authentication is switched off on this server (it listens on this machine only): no sign-in is needed.</p>
        <Link className="mt-3 inline-block text-blue-700 underline" href={next}>Continue</Link>
      </div>
    );
  }
  const ssoHref = o.sso_url ? `${o.sso_url}${o.sso_url.includes("?") ? "&" : "?"}next=${encodeURIComponent(next)}` : null;
  return (
    <div>
      {ssoError && (
        <ErrorState error={{ type: "sso", message: ssoError, problems: [] }} title="Single sign-on did not complete" />
      )}
      {failure && (
        <div data-testid="login-error" data-status={failure.status} role="alert"
          className="mb-4 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-900">
          <div className="font-semibold">{failure.status === 429 ? "Too many failed sign-ins — wait before trying again" : "Could not sign in"}</div>
          <div data-testid="login-error-message" className="mt-1">{failure.body.message}</div>
          {failure.body.hint && <div data-testid="login-error-hint" className="mt-1 text-red-800">→ {failure.body.hint}</div>}
        </div>
      )}
      {o.password && (
        <form data-testid="login-form" onSubmit={submit} className="space-y-3">
          <label className="block text-sm font-medium text-stone-700">User name
            <input data-testid="login-username" name="username" autoComplete="username" required autoFocus
              value={username} onChange={(e) => setUsername(e.target.value)} className={field} />
          </label>
          <label className="block text-sm font-medium text-stone-700">Password
            <input data-testid="login-password" name="password" type="password" autoComplete="current-password" required
              value={password} onChange={(e) => setPassword(e.target.value)} className={field} />
          </label>
          <button type="submit" data-testid="login-submit" disabled={busy}
            className="w-full rounded-md border border-blue-700 bg-blue-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-blue-700 disabled:opacity-50">
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      )}
      {ssoHref && (
        <div className={o.password ? "mt-4 border-t border-stone-200 pt-4" : ""}>
          <a data-testid="sso-login" href={ssoHref}
            className="block w-full rounded-md border border-stone-300 bg-white px-3 py-1.5 text-center text-sm font-medium text-stone-800 hover:bg-stone-50">
            Sign in with single sign-on
          </a>
        </div>
      )}
      {!o.password && !ssoHref && (
        <p className="text-sm text-stone-600">This server offers no way to sign in from a browser: use an API token.</p>
      )}
      {next !== "/" && <p data-testid="login-next" className="mt-4 text-xs text-stone-500">You will be taken back to <code>{next}</code>.</p>}
    </div>
  );
}

export default function LoginPage() {
  return (
    <div data-testid="login-page" className="mx-auto mt-12 max-w-sm rounded-lg border border-stone-200 bg-white p-6 shadow-sm">
      <h1 className="mb-4 text-xl font-bold">Sign in to dteg</h1>
      <Suspense fallback={<Loading />}><LoginForm /></Suspense>
    </div>
  );
}
