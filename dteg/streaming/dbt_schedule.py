"""Post-load steps (dbt) in a stream: run after a committed micro-batch once their interval
(`every`, default 15m) has passed or `after_batches` micro-batches have committed, and once
more when the stream stops if rows landed since. The stream loop is single-threaded, so a
post-load step never runs concurrently with itself; micro-batches wait while it runs. Its
settings may have ``after_batches`` and ``interval_seconds()`` (dbt's do); else every 15m."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dteg.components.contracts import RunContext
from dteg.errors import DtegError
from dteg.spec.models import PipelineSpec, StepSpec

DEFAULT_INTERVAL = 15 * 60.0


def _after_batches(settings: Any) -> int | None:
    value = getattr(settings, "after_batches", None)
    return int(value) if value is not None else None


def _interval(settings: Any) -> float:
    interval = getattr(settings, "interval_seconds", None)
    return float(interval()) if callable(interval) else DEFAULT_INTERVAL


@dataclass
class _Due:
    step: StepSpec
    last_run: float
    batches: int = 0


@dataclass
class DbtSchedule:
    spec: PipelineSpec
    run_id: str
    say: Callable[[str], None]
    warn: Callable[[str], None]
    runs: int = 0
    failures: int = 0
    _steps: list[_Due] = field(default_factory=list)

    def __post_init__(self) -> None:
        now = time.monotonic()
        self._steps = [_Due(s, now) for s in self.spec.steps if s.runs_after_load]

    def after_batch(self) -> None:
        """Call once a micro-batch has committed."""
        for due in self._steps:
            due.batches += 1
            settings = due.step.validated()
            after = _after_batches(settings)
            if after is not None:
                ready = due.batches >= after
            else:
                ready = time.monotonic() - due.last_run >= _interval(settings)
            if ready:
                self._run(due)

    def at_stop(self) -> None:
        """A last dbt run for the rows committed since the previous one."""
        for due in self._steps:
            if due.batches:
                self._run(due)

    def _run(self, due: _Due) -> None:
        from dteg.components.registry import default_registry
        from dteg.run.lifecycle import loads_before

        info = default_registry().find("transform", due.step.component or due.step.type)
        assert info is not None, "resolve_types found it"
        ctx = RunContext(pipeline=self.spec.name, step=due.step.name,
                         base_dir=self.spec.base_dir, run_id=self.run_id)
        due.last_run = time.monotonic()
        due.batches = 0
        self.runs += 1
        try:
            outcome = info.build(due.step.validated(), ctx).run(
                loads_before(self.spec, due.step))
        except DtegError as exc:
            # The rows are committed; a failing model or test must not stop the stream.
            self.failures += 1
            self.warn(f"{self.spec.redactor(exc.render())} (the stream goes on; dbt runs "
                      "again at its next turn)")
            return
        summary = getattr(outcome, "summary", None)
        self.say(f"  {due.step.name}: {summary() if callable(summary) else 'done'}")
