"""Opt-in usage reports: after a run, tell the registry each marketplace component's version,
whether the run succeeded, and how many rows went through it — nothing else (no data, no
pipeline or step names, no hosts; an anonymous random install id). Off by default.

On when ``DTEG_MARKETPLACE_USAGE_REPORTS`` is ``1``/``true``/``on`` (``0``/``false``/``off``
turns it off), else when ``usage_reports`` is true in ``$XDG_CONFIG_HOME/dteg/marketplace.json``
(``dteg marketplace usage-reports on``). A report never fails or holds up a run: it is sent
once the run has finished, with a 2-second timeout, and a failure is logged at debug level.

Billing meters (signed, per licence) are a different thing and live elsewhere.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dteg.marketplace.credentials import credentials_path, load_settings, save_setting
from dteg.marketplace.lock import LockedComponent, default_lock_path, read_lock
from dteg.run.events import RunEvent, RunFinished, RunListener
from dteg.run.report import RunReport, StepCounts
from dteg.spec.models import PipelineSpec

log = logging.getLogger(__name__)
ENV = "DTEG_MARKETPLACE_USAGE_REPORTS"
TIMEOUT_S = 2.0
_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def enabled() -> bool:
    """Whether the user opted in (env first, then the saved setting; default off)."""
    given = os.environ.get(ENV, "").strip().lower()
    if given in _ON:
        return True
    if given in _OFF:
        return False
    return load_settings().get("usage_reports") is True


def set_enabled(on: bool) -> Path:
    """Save the opt-in (``dteg marketplace usage-reports on|off``)."""
    return save_setting("usage_reports", on)


def install_id() -> str:
    """This machine's anonymous id (random, made once, kept beside the registry tokens)."""
    path = credentials_path().with_name("install-id")
    try:
        found = path.read_text(encoding="utf-8").strip()
        if len(found) >= 16:
            return found
    except OSError:
        pass
    new = secrets.token_hex(16)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new + "\n")
    return new


def _rows(step: StepCounts) -> int:
    rows_in, rows_out = step.shown()
    return rows_in if step.kind != "load" else rows_out


def _installed_version(entry: LockedComponent) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(entry.package)
    except PackageNotFoundError:
        return entry.version


def payloads(spec: PipelineSpec, status: str, report: RunReport | None,
             locked: dict[str, LockedComponent], install: str) -> dict[str, dict[str, Any]]:
    """Per registry URL, the report body for the marketplace components this run used."""
    counted = {s.name: s for s in (report.steps if report else [])}
    found: dict[str, dict[str, Any]] = {}
    for step in spec.steps:
        name = step.component or step.type.removeprefix("dteg://")
        entry = locked.get(name)
        if entry is None:
            continue
        body = found.setdefault(entry.registry, {"install_id": install, "reports": []})
        counts = counted.get(step.name)
        body["reports"].append({"component": entry.name, "version": _installed_version(entry),
                                "success": status == "succeeded",
                                "rows": _rows(counts) if counts else 0})
    return found


def send(registry: str, body: dict[str, Any]) -> None:
    import httpx

    httpx.post(f"{registry.rstrip('/')}/api/v1/usage-reports",
               content=json.dumps(body), headers={"Content-Type": "application/json"},
               timeout=TIMEOUT_S, trust_env=False).raise_for_status()


@dataclass
class UsageReports(RunListener):
    """Sends the usage report when a run finishes (only if the user opted in)."""

    lock: Path | None = None

    def on_event(self, event: RunEvent) -> None:
        if not isinstance(event, RunFinished):
            return
        try:
            if not enabled():
                return
            locked = read_lock(self.lock or default_lock_path())
            if not locked:
                return
            bodies = payloads(event.run.spec, event.status, event.report, locked, install_id())
            for registry, body in bodies.items():
                send(registry, body)
        except Exception as exc:  # a report must never fail or disturb a run
            log.debug("usage report not sent: %s: %s", type(exc).__name__, exc)


def usage_listeners() -> list[RunListener]:
    """What ``dteg run`` adds to its listeners for usage reports."""
    return [UsageReports()]
