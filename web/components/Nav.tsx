"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

const LINKS = [
  { href: "/", label: "Overview" },
  { href: "/pipelines/", label: "Pipelines" },
  { href: "/lineage/", label: "Lineage" },
];

export function Nav() {
  const path = usePathname();
  return (
    <nav className="border-b border-stone-200 bg-stone-900 text-stone-100">
      <div className="mx-auto flex max-w-7xl items-center gap-6 px-4 py-3">
        <Link href="/" className="font-mono text-lg font-bold tracking-tight">dteg</Link>
        {LINKS.map((l) => {
          const active = l.href === "/" ? path === "/" : path?.startsWith(l.href.slice(0, -1));
          return (
            <Link key={l.href} href={l.href} data-testid={`nav-${l.label.toLowerCase()}`}
              className={`text-sm ${active ? "text-white underline underline-offset-4" : "text-stone-300 hover:text-white"}`}>
              {l.label}
            </Link>
          );
        })}
      </div>
    </nav>
  );
}
