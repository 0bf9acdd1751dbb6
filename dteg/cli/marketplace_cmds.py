"""`dteg search`, `install`, `update`, `uninstall`, `components list` (the consumer side of the
marketplace) and `dteg marketplace serve|publisher` (running a registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say

RegistryOpt = Annotated[str | None, typer.Option(
    "--registry", help="Registry URL (default: DTEG_MARKETPLACE_URL or http://127.0.0.1:58080)")]
LockOpt = Annotated[Path | None, typer.Option(
    "--lock", help="The lock file (default: DTEG_LOCK_FILE or ./dteg.lock)")]


def _client(registry: str | None) -> Any:
    from dteg.marketplace.client import RegistryClient

    return RegistryClient(registry)


def _lock(lock: Path | None) -> Path:
    from dteg.marketplace.lock import default_lock_path

    return lock or default_lock_path()


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        _say("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def search(
    text: Annotated[str, typer.Argument(help="Words to look for (name, category, …)")] = "",
    kind: Annotated[str | None, typer.Option(
        "--kind", help="extractor, loader, transformer or processor")] = None,
    category: Annotated[str | None, typer.Option("--category", help="e.g. streaming")] = None,
    registry: RegistryOpt = None, debug: DebugOpt = False,
) -> None:
    """Find components in the marketplace, best first (text match, rating, downloads, recency)."""
    with _client(registry) as client:
        hits = client.search(text, kind=kind, category=category)
    if not hits:
        _say(f"no component matches `{text}` in {client.url}; `dteg search` lists them all")
        return
    rows = [[h["name"], str(h.get("latest_version") or "-"), str(h.get("kind") or "-"),
             _rating(h.get("rating")), str(h.get("downloads", 0)), str(h.get("tier") or "-"),
             "pass" if h.get("gates") and set(h["gates"].values()) == {"pass"} else "FAIL",
             ",".join(h.get("badges") or []) or "-"]
            for h in hits]
    _table(rows, ["NAME", "LATEST", "KIND", "RATING", "DOWNLOADS", "TIER", "GATES", "BADGES"])


def _rating(rating: Any) -> str:
    """``4.5(2)``: the average and the number of reviews, ``-`` without any."""
    if isinstance(rating, dict):
        if rating.get("average") is None:
            return "-"
        return f"{rating['average']:.1f}({rating.get('count', 0)})"
    return f"{rating:.1f}" if isinstance(rating, int | float) else "-"


def install(
    ref: Annotated[str | None, typer.Argument(
        help="marketplace://NAME or marketplace://NAME@VERSION")] = None,
    file: Annotated[Path | None, typer.Option(
        "-f", "--file", help="Install every components.marketplace entry of this pipeline")] = None,
    registry: RegistryOpt = None, lock: LockOpt = None, debug: DebugOpt = False,
) -> None:
    """Install a component: the newest version that fits this dteg and Python (or the pinned
    one), signature and sha256 verified first, recorded in dteg.lock."""
    from dteg.errors import ConfigError
    from dteg.marketplace.install import install as do_install
    from dteg.marketplace.install import parse_ref, pipeline_refs

    if (ref is None) == (file is None):
        raise ConfigError("give one of: a marketplace://NAME reference, or -f pipeline.yaml",
                          hint="e.g. `dteg install marketplace://kafka-extractor`.")
    refs = pipeline_refs(file) if file is not None else [parse_ref(str(ref))]
    if not refs:
        _say(f"{file} declares no components.marketplace entries: nothing to install")
        return
    with _client(registry) as client:
        for one in refs:
            entry = do_install(client, one, _lock(lock))
            _say(f"installed {entry.name} {entry.version} ({entry.tier}; {entry.wheel}, "
                 f"sha256 {entry.sha256[:12]}…, signed by {entry.key_id}); "
                 f"recorded in {_lock(lock)}")


def update(
    name: Annotated[str | None, typer.Argument(
        help="marketplace://NAME (default: every installed component)")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Update without asking")] = False,
    registry: RegistryOpt = None, lock: LockOpt = None, debug: DebugOpt = False,
) -> None:
    """Update installed components to the newest compatible version, showing the breaking
    changes in between and asking first (or --yes)."""
    from dteg.marketplace.install import apply_update, parse_ref, plan_updates

    wanted = parse_ref(name).name if name else None
    with _client(registry) as client:
        updates = plan_updates(client, _lock(lock), wanted)
        if not updates:
            _say("everything is up to date")
            return
        for up in updates:
            _say(f"{up.installed.name}: {up.installed.version} → {up.target['version']}")
            for change in up.breaking:
                what = change.get("change") or change.get("what") or ""
                _say(f"  BREAKING in {change.get('version')}: {what}")
                _say(f"    migration: {change.get('migration', '')}")
            if not up.breaking:
                _say("  no breaking changes listed")
            if not yes and not typer.confirm(f"update {up.installed.name}?", default=False):
                _say(f"  kept {up.installed.name} {up.installed.version}")
                continue
            entry = apply_update(client, up, _lock(lock))
            _say(f"  updated {entry.name} to {entry.version}")


def uninstall(
    name: Annotated[str, typer.Argument(help="marketplace://NAME or NAME")],
    lock: LockOpt = None, debug: DebugOpt = False,
) -> None:
    """Remove an installed marketplace component and its dteg.lock entry."""
    from dteg.marketplace.install import parse_ref
    from dteg.marketplace.install import uninstall as do_uninstall

    entry = do_uninstall(parse_ref(name).name, _lock(lock))
    _say(f"uninstalled {entry.name} {entry.version}")


def components_list(lock: LockOpt = None, debug: DebugOpt = False) -> None:
    """Installed marketplace components, with versions and tiers."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    from dteg.marketplace.lock import read_lock

    locked = read_lock(_lock(lock))
    if not locked:
        _say(f"no marketplace components installed (lock {_lock(lock)})")
        return
    rows = []
    for entry in locked.values():
        try:
            present = installed_version(entry.package)
            state = "installed" if present == entry.version else f"installed {present} (!)"
        except PackageNotFoundError:
            state = "MISSING: run `dteg install -f` again"
        rows.append([entry.name, entry.version, entry.kind or "-", entry.tier, state,
                     entry.registry])
    _table(rows, ["NAME", "VERSION", "KIND", "TIER", "STATE", "REGISTRY"])


def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port")] = 58080,
    mongodb_url: Annotated[str | None, typer.Option(
        "--mongodb-url", help="Metadata database (default: DTEG_MONGODB_URL)")] = None,
    database: Annotated[str | None, typer.Option("--database", help="Database name")] = None,
    artifacts: Annotated[str | None, typer.Option(
        "--artifacts", help="Artifact folder or s3://bucket/prefix "
        "(default: DTEG_MARKETPLACE_ARTIFACTS or ./marketplace-artifacts)")] = None,
    debug: DebugOpt = False,
) -> None:
    """Run a marketplace registry (PEP 503 index + JSON API). The admin token comes from
    DTEG_MARKETPLACE_ADMIN_TOKEN (never a flag: it would show in `ps`)."""
    from dteg.marketplace.server.serve import ServeSettings
    from dteg.marketplace.server.serve import serve as run

    settings = ServeSettings.from_env(host=host, port=port, mongodb_url=mongodb_url,
                                      database=database, artifacts=artifacts)
    _say(f"marketplace registry on http://{host}:{port} (artifacts: {settings.artifacts})")
    run(settings)


def publisher(
    name: Annotated[str, typer.Argument(help="The publisher's name")],
    official: Annotated[bool, typer.Option("--official", help="Mark as official")] = False,
    registry: RegistryOpt = None, debug: DebugOpt = False,
) -> None:
    """Create a publisher on a registry (needs DTEG_MARKETPLACE_ADMIN_TOKEN) and print its
    token once."""
    with _client(registry) as client:
        _say(client.create_publisher(name, _admin_token(), official=official))


def login(
    token: Annotated[str, typer.Option("--token", help="Your registry token (from its admin)",
                                       prompt=True, hide_input=True)],
    registry: RegistryOpt = None, debug: DebugOpt = False,
) -> None:
    """Save a registry token (checked with the registry first) in your config, readable by
    you only; later marketplace commands against that registry send it."""
    from dteg.marketplace.client import RegistryClient
    from dteg.marketplace.credentials import save_token

    with RegistryClient(registry, token) as client:
        me = client.me()
        path = save_token(client.url, token, me["name"])
    _say(f"signed in to {client.url} as {me['name']} ({me['role']}); token saved in {path}")


def user(
    name: Annotated[str, typer.Argument(help="The new user's name")],
    organisation: Annotated[str | None, typer.Option("--organisation", help="Organisation")]
    = None,
    admin_role: Annotated[bool, typer.Option("--admin", help="Make the user an admin")] = False,
    for_publisher: Annotated[str | None, typer.Option(
        "--publisher", help="The publisher this user acts for (may answer its reviews)")] = None,
    registry: RegistryOpt = None, debug: DebugOpt = False,
) -> None:
    """Create a registry user (needs DTEG_MARKETPLACE_ADMIN_TOKEN) and print its token once."""
    with _client(registry) as client:
        _say(client.create_user(name, _admin_token(), organisation=organisation,
                                role="admin" if admin_role else "user",
                                publisher=for_publisher))


def usage_reports(
    state: Annotated[str | None, typer.Argument(help="on, off, or nothing to show")] = None,
    debug: DebugOpt = False,
) -> None:
    """Opt in to (or out of) anonymous usage reports after `dteg run`: each marketplace
    component's version, success or failure and rows — no data, no pipeline names."""
    from dteg.errors import ConfigError
    from dteg.marketplace import usage_reports as reports

    if state is not None:
        if state not in ("on", "off"):
            raise ConfigError(f"`{state}` is neither `on` nor `off`",
                              hint="`dteg marketplace usage-reports on` (or off).")
        reports.set_enabled(state == "on")
    _say(f"usage reports are {'on' if reports.enabled() else 'off'}"
         f" ({reports.ENV} overrides the saved setting)")


def _admin_token() -> str:
    import os

    from dteg.errors import ConfigError

    admin = os.environ.get("DTEG_MARKETPLACE_ADMIN_TOKEN")
    if not admin:
        raise ConfigError("this needs the registry's admin token",
                          hint="Set DTEG_MARKETPLACE_ADMIN_TOKEN to the token the registry "
                               "was started with.")
    return admin


def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command()(install)
    app.command()(update)
    app.command()(uninstall)
    components = typer.Typer(help="Installed marketplace components.", no_args_is_help=True)
    components.command("list")(components_list)
    app.add_typer(components, name="components")
    market = typer.Typer(help="Run a marketplace registry.", no_args_is_help=True)
    market.command("serve")(serve)
    market.command("publisher")(publisher)
    market.command("user")(user)
    market.command("login")(login)
    market.command("usage-reports")(usage_reports)
    app.add_typer(market, name="marketplace")
