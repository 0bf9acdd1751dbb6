"""The run side of a premium component: its ``Capabilities.run_listener``.

A premium component's ``ComponentInfo`` declares
``Capabilities(run_listener="dteg.marketplace.licence_run:create")``; every run that uses it
(``dteg run``, backfill, streams, the server's workers) then gets this listener from the
engine's standard listeners, which find it by that capability and never import the
marketplace themselves. On ``RunStarted`` it checks the licence offline and refuses the run
(before anything is read) without a valid one; inside a grace period it warns. When the run
succeeded it reports the component's rows and the run to the registry (``metering``).
"""

from __future__ import annotations

import sys
from typing import Any

from dteg.errors import ConfigError, DtegError
from dteg.marketplace import licences, metering
from dteg.marketplace.lock import default_lock_path, read_lock
from dteg.run.events import RunEvent, RunFinished, RunListener, RunStarted


def _rows(step_kind: str, counts: Any) -> int:
    rows_in, rows_out = counts.shown()
    return int(rows_in if step_kind == "extract" else rows_out)


class LicenceListener(RunListener):
    """Licence check before the run, usage report after it, for one step's component."""

    def __init__(self, step: Any, name: str, price: str | None) -> None:
        self.step = step
        self.name = name
        self.price = price
        self.verdict: licences.Verdict | None = None

    def on_event(self, event: RunEvent) -> None:
        if isinstance(event, RunStarted):
            self.verdict = licences.check_component(self.name, price=self.price,
                                                    usage=metering.usage_of())
            if self.verdict.warning:
                sys.stderr.write(self.verdict.warning + "\n")
        elif isinstance(event, RunFinished) and event.status == "succeeded" and self.verdict:
            counts = next((s for s in (event.report.steps if event.report else [])
                           if s.name == self.step.name), None)
            rows = _rows(counts.kind, counts) if counts is not None else 0
            try:
                metering.record_run(self.verdict.licence.id, self.name, event.run.run_id, rows)
            except DtegError as exc:  # the data has landed: a report problem is a warning
                sys.stderr.write(f"warning: usage of {self.name} not reported: "
                                 f"{exc.message}\n")


def create(spec: Any, step: Any, info: Any) -> LicenceListener:
    """The listener for ``step`` of ``spec`` (``info``: its ComponentInfo). The marketplace
    name and price come from ``dteg.lock`` (by the wheel's distribution), else the
    component's own name."""
    name, price = info.name, None
    try:
        locked = read_lock(default_lock_path())
    except ConfigError:
        locked = {}  # an unreadable lock only loses the nicer name; the check still runs
    for entry in locked.values():
        if entry.package.lower() == str(info.origin).lower() or entry.name == info.name:
            name, price = entry.name, entry.pricing
            break
    return LicenceListener(step, name, price)
