"""What happens to a run, as typed events, and the listeners that react to them.

One lifecycle (``dteg.run.lifecycle``) emits these for batch runs, backfill partitions and
streams alike; run records, lineage and schema drift are listeners, and so will be the
orchestrator's alerts, metrics and live logs. A new feature is a new listener, not a new
branch in the lifecycle. Listeners are called in order; one that raises fails the run only
before its loads commit (``RunStarted``) — afterwards its error is reported as a warning, since
the data has landed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dteg.run.report import RunReport, StepCounts
from dteg.spec.models import PipelineSpec


@dataclass(frozen=True)
class RunInfo:
    """Which run an event is about."""

    spec: PipelineSpec
    run_id: str
    runner: str
    kind: str = "run"  # run | backfill | stream

    @property
    def pipeline(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class RunStarted:
    run: RunInfo


@dataclass(frozen=True)
class StepsCounted:
    """Beam finished: rows in/out, dead letters and loads per step (or per micro-batch)."""

    run: RunInfo
    steps: tuple[StepCounts, ...]


@dataclass(frozen=True)
class QualityChecked:
    run: RunInfo
    quality: dict[str, Any]


@dataclass(frozen=True)
class Committed:
    """Every sink and the run's state committed. Listeners may add to ``report`` here (drift
    is found at this point); the lifecycle emits ``SchemaDrifted`` right after when they did."""

    run: RunInfo
    report: RunReport


@dataclass(frozen=True)
class SchemaDrifted:
    run: RunInfo
    changes: tuple[Any, ...]


@dataclass(frozen=True)
class RunFailed:
    """The run failed. ``report`` is what Beam counted when it failed after the counts were
    in (a post-load step failed), else None; ``summary`` is the JSON form with the error."""

    run: RunInfo
    message: str  # already redacted
    error: BaseException | None = None
    report: RunReport | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFinished:
    """The last event of every run. ``report`` is None when the run failed before Beam counted
    its rows; ``summary`` is the run's JSON report (with ``status``, and ``error`` if failed)."""

    run: RunInfo
    status: str  # succeeded | failed
    report: RunReport | None = None
    summary: dict[str, Any] = field(default_factory=dict)


RunEvent = (RunStarted | StepsCounted | QualityChecked | Committed | SchemaDrifted | RunFailed
            | RunFinished)


class RunListener:
    """Reacts to run events; override ``on_event`` (or ignore the events it does not need)."""

    def on_event(self, event: RunEvent) -> None:  # pragma: no cover - the default ignores
        return None


@dataclass
class Listeners:
    """The listeners of one run, called in order."""

    listeners: list[RunListener] = field(default_factory=list)

    @classmethod
    def of(cls, listeners: Iterable[RunListener]) -> Listeners:
        return cls(list(listeners))

    def emit(self, event: RunEvent, *, tolerant: bool = False) -> None:
        """Tell every listener. ``tolerant``: after the loads committed, a listener that fails
        (a lineage server down) is reported, and the others still hear the event."""
        for listener in self.listeners:
            if not tolerant:
                listener.on_event(event)
                continue
            try:
                listener.on_event(event)
            except Exception as exc:
                sys.stderr.write(f"warning: {type(listener).__name__} failed on "
                                 f"{type(event).__name__}: {exc}\n")
