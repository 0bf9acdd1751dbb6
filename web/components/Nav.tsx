"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useState } from "react";
import { api, LOGIN } from "@/lib/api";
import { can } from "@/lib/access";
import { useSession } from "@/lib/session";

const LINKS = [
  { href: "/", label: "Overview" },
  { href: "/pipelines/", label: "Pipelines" },
  { href: "/lineage/", label: "Lineage" },
  { href: "/catalog/", label: "Catalog" },
  { href: "/quality/", label: "Quality" },
  { href: "/compliance/", label: "Compliance" },
];

function UserMenu() {
  const { me, setMe } = useSession();
  const [busy, setBusy] = useState(false);
  if (!me) return null;
  async function signOut() {
    setBusy(true);
    try {
      await api.logout();
    } catch {
      // Signed out anyway: the cookies are what matters, and the server drops them.
    }
    setMe(undefined);
    window.location.assign(LOGIN);
  }
  return (
    <div className="ml-auto flex items-center gap-3 text-sm">
      <span data-testid="me-name" className="text-stone-200" title={me.bindings.map((b) => `${b.role} on ${b.scope}`).join(", ")}>
        {me.name}
      </span>
      {me.auth_enabled ? (
        <button type="button" data-testid="sign-out" onClick={signOut} disabled={busy}
          className="rounded border border-stone-600 px-2 py-0.5 text-stone-200 hover:bg-stone-800 disabled:opacity-50">
          {busy ? "Signing out…" : "Sign out"}
        </button>
      ) : <span data-testid="auth-off" className="text-xs text-stone-400">authentication is off</span>}
    </div>
  );
}

export function Nav() {
  const path = usePathname();
  const { me } = useSession();
  const links = [
    ...LINKS,
    ...(can(me, "marketplace.read") ? [{ href: "/marketplace/", label: "Marketplace" }] : []),
    ...(can(me, "audit.read") ? [{ href: "/audit/", label: "Audit" }] : []),
    ...(can(me, "users.manage") || can(me, "tokens.manage") ? [{ href: "/admin/", label: "Admin" }] : []),
  ];
  const onLogin = path?.startsWith(LOGIN.slice(0, -1));
  return (
    <nav className="border-b border-stone-200 bg-stone-900 text-stone-100">
      <div className="mx-auto flex max-w-7xl items-center gap-6 px-4 py-3">
        <Link href="/" className="font-mono text-lg font-bold tracking-tight">dteg</Link>
        {!onLogin && links.map((l) => {
          const active = l.href === "/" ? path === "/" : path?.startsWith(l.href.slice(0, -1));
          return (
            <Link key={l.href} href={l.href} data-testid={`nav-${l.label.toLowerCase()}`}
              className={`text-sm ${active ? "text-white underline underline-offset-4" : "text-stone-300 hover:text-white"}`}>
              {l.label}
            </Link>
          );
        })}
        {!onLogin && <UserMenu />}
      </div>
    </nav>
  );
}
