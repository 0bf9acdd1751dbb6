"""Governance work the server does on its own: the retention job on a schedule (every
``DTEG_RETENTION_EVERY``, default daily, for every served pipeline with ``retention:``), and
the governance alert events — ``retention_failed`` and ``pii_unprotected``, which the
retention job and the catalog listener append to ``.dteg/alerts.jsonl`` — sent through each
pipeline's ``monitoring.alerts`` channels (Slack, e-mail, webhook) like run alerts.

How far the relay has read each alerts file is kept beside it (``alerts.relayed``), so a
restart neither repeats nor loses an event. Called from the watcher's slow checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dteg.orchestrator.catalog import Catalog, Revision

RELAYED_EVENTS = ("retention_failed", "pii_unprotected")
Notify = Callable[[Revision, str, None, datetime, str | None], None]


def event_detail(event: dict[str, Any]) -> str:
    """What an alert says about one governance event."""
    if event.get("type") == "retention_failed":
        return (f"retention of load `{event.get('step')}` ({event.get('target')}) failed: "
                f"{event.get('message')}")
    return (f"load `{event.get('step')}` wrote personal data unprotected: "
            f"{', '.join(event.get('columns') or [])} ({event.get('dataset')}); "
            f"{event.get('hint', '')}").rstrip("; ")


@dataclass
class GovernanceJobs:
    catalog: Catalog
    retention_every: timedelta | None = timedelta(days=1)
    log: Callable[[str], None] = print
    _last_retention: datetime | None = None
    _seen: dict[Path, int] = field(default_factory=dict)

    def step(self, now: datetime, notify: Notify) -> None:
        if self.retention_every is not None and (
                self._last_retention is None or
                now - self._last_retention >= self.retention_every):
            self._last_retention = now
            self.retention(now)
        self.relay(now, notify)

    def retention(self, now: datetime) -> list[Any]:
        """Enforce every served pipeline's retention now; failures become alert events."""
        from dteg.governance.retention import enforce

        outcomes: list[Any] = []
        for revision in list(self.catalog.revisions.values()):
            if revision.spec.body.retention is None:
                continue
            try:
                found = enforce(revision.spec, now)
            except Exception as exc:  # a broken limit must not stop the others' retention
                self.log(f"warning: retention of {revision.name} did not run: "
                         f"{revision.spec.redactor(str(exc))}")
                continue
            for outcome in found:
                self.log(f"retention: {outcome.render().strip()}")
            outcomes += found
        return outcomes

    def relay(self, now: datetime, notify: Notify) -> int:
        """Send the governance events appended since the last look; returns how many."""
        sent = 0
        folders = {r.spec.state_dir for r in self.catalog.revisions.values()}
        for folder in sorted(folders):
            alerts = folder / "alerts.jsonl"
            if not alerts.exists():
                continue
            mark = folder / "alerts.relayed"
            offset = int(mark.read_text() or 0) if mark.exists() else 0
            with alerts.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
            complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits
            for line in complete.splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                revision = self.catalog.get(str(event.get("pipeline")))
                if event.get("type") not in RELAYED_EVENTS or revision is None:
                    continue
                notify(revision, str(event["type"]), None, now, event_detail(event))
                sent += 1
            mark.write_text(str(offset + len(complete)))
        return sent
