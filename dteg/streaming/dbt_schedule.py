"""dbt steps in a stream: run after a committed micro-batch once their interval (`every`,
default 15m) has passed or `after_batches` micro-batches have committed, and once more when
the stream stops if rows landed since. The stream loop is single-threaded, so dbt never runs
concurrently with itself; micro-batches wait while it runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dteg.components.contracts import RunContext
from dteg.errors import DtegError
from dteg.spec.models import PipelineSpec, StepSpec


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
        from dteg.transforms.dbt import DbtConfig

        for due in self._steps:
            due.batches += 1
            config = DbtConfig.model_validate(due.step.config)
            if config.after_batches is not None:
                ready = due.batches >= config.after_batches
            else:
                ready = time.monotonic() - due.last_run >= config.interval_seconds()
            if ready:
                self._run(due)

    def at_stop(self) -> None:
        """A last dbt run for the rows committed since the previous one."""
        for due in self._steps:
            if due.batches:
                self._run(due)

    def _run(self, due: _Due) -> None:
        from dteg.run.lifecycle import duckdb_databases
        from dteg.transforms.dbt import DbtConfig, run_dbt

        ctx = RunContext(pipeline=self.spec.name, step=due.step.name,
                         base_dir=self.spec.base_dir, run_id=self.run_id)
        due.last_run = time.monotonic()
        due.batches = 0
        self.runs += 1
        try:
            outcome = run_dbt(DbtConfig.model_validate(due.step.config), ctx,
                              duckdb_databases=duckdb_databases(self.spec, due.step))
        except DtegError as exc:
            # The rows are committed; a failing model or test must not stop the stream.
            self.failures += 1
            self.warn(f"{self.spec.redactor(exc.render())} (the stream goes on; dbt runs "
                      "again at its next turn)")
            return
        self.say(f"  {due.step.name}: {outcome.summary()}")
