"""One attempt of one run, in a worker: check the task, claim it, run it as the same recorded
run as ``dteg run`` (``dteg.run.lifecycle``), record how it ended.

Whether a failure is retried is decided here, from the error: a ``DtegError`` says it itself
(``retriable``: a dropped connection yes; a configuration error or a failed quality gate
never); any other exception (the runner died, the disk filled) may pass on its own, so it is
retriable. The retry policy of the revision then says when, or that the attempts are spent.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from dteg.components.plan import RunPlan
from dteg.errors import DtegError, find_error
from dteg.orchestrator.catalog import sha256_text
from dteg.orchestrator.logs import LogCapture
from dteg.orchestrator.store.records import RunRow
from dteg.orchestrator.store.store import AttemptResult, StepCount, Store
from dteg.orchestrator.task import RunTask
from dteg.run.events import RunEvent, RunFinished, RunListener
from dteg.spec.models import PipelineSpec
from dteg.spec.orchestration import RetryPolicy

HEARTBEAT_S = 1.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def process_id(role: str) -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Heartbeat:
    """Beats for this process in the store every ``interval`` seconds, naming the run it is
    on. ``parent_pid``: exit when that process (the server that started this worker) dies."""

    def __init__(self, store: Store, role: str, interval: float = HEARTBEAT_S,
                 parent_pid: int | None = None) -> None:
        self.store, self.role, self.interval = store, role, interval
        self.id = process_id(role)
        self.started = utcnow()
        self.current_run: str | None = None
        self._parent = parent_pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"dteg-{role}-heartbeat",
                                        daemon=True)

    def beat(self) -> None:
        self.store.heartbeat(self.id, self.role, self.started, utcnow(), self.current_run)

    def start(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if self._parent is not None and os.getppid() != self._parent:
                # The server that started this worker is gone (kill -9): stop now, like a
                # killed worker; the next server finds the run lost and retries it.
                os._exit(70)
            try:
                self.beat()
            except Exception as exc:
                os.write(2, f"warning: heartbeat failed: {exc}\n".encode())

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self.store.leave(self.id)


class _Outcome(RunListener):
    """Keeps the run's summary (the JSON report) from its last event."""

    def __init__(self) -> None:
        self.summary: dict[str, Any] | None = None
        self.report: Any = None

    def on_event(self, event: RunEvent) -> None:
        if isinstance(event, RunFinished):
            self.summary, self.report = event.summary, event.report


def is_retriable(exc: BaseException) -> bool:
    error = find_error(exc)
    if error is not None:
        return bool(error.retriable)
    return not isinstance(exc, DtegError)


def retry_at(policy: RetryPolicy, attempt: int, max_attempts: int, retriable: bool,
             now: datetime) -> datetime | None:
    if not retriable or attempt >= max_attempts:
        return None
    return now + policy.delay(attempt)


def _result(status: str, outcome: _Outcome, error: str | None = None,
            retriable: bool = False) -> AttemptResult:
    summary = outcome.summary or {}
    report = outcome.report
    steps = tuple(StepCount(s.name, s.kind, s.rows_in, s.rows_out, s.dead_letter, s.loaded)
                  for s in (report.steps if report is not None else ()))
    quality = summary.get("quality")
    return AttemptResult(
        status=status, error=error, retriable=retriable,
        rows_read=summary.get("read"), rows_loaded=summary.get("loaded"),
        rows_dead_lettered=summary.get("dead_lettered"),
        summary=summary or None, steps=steps, quality=quality,
        quality_passed=None if quality is None else status == "succeeded")


def _compile(task: RunTask) -> PipelineSpec:
    from dteg.spec.phases import compile_spec, run_blockers

    spec = compile_spec(task.path, text=task.yaml_text)
    blockers = run_blockers(spec)
    if blockers:
        from dteg.errors import ConfigError

        raise ConfigError(f"{task.path}: this pipeline cannot run yet:\n  - "
                          + "\n  - ".join(blockers))
    return spec


def execute_task(task: RunTask, store: Store, worker_id: str,
                 heartbeat: Heartbeat | None = None,
                 extra_listeners: tuple[RunListener, ...] = ()) -> RunRow | None:
    """Run one attempt; returns the run as recorded, or None when the task was stale (an
    older attempt, a cancelled run, a run another worker took) and was dropped."""
    if sha256_text(task.yaml_text) != task.sha256:
        # Never run code that is not the dispatched revision.
        row = store.claim(task.run_id, task.attempt, worker_id, utcnow())
        if row is None:
            return None
        return store.finish_attempt(task.run_id, task.attempt, AttemptResult(
            "failed", error=f"the task's pipeline text does not match its sha256 "
            f"{task.sha256[:12]}…; it was not run"), utcnow())
    if heartbeat is not None:
        # Before the claim: from the claim on, the store must see this worker on the run.
        heartbeat.current_run = task.run_id
    if store.claim(task.run_id, task.attempt, worker_id, utcnow()) is None:
        if heartbeat is not None:
            heartbeat.current_run = None
        return None
    outcome = _Outcome()
    policy = RetryPolicy()
    redact: Callable[[str], str] = lambda text: text  # noqa: E731
    try:
        with LogCapture(store, task.run_id, task.attempt, lambda t: redact(t)) as capture:
            try:
                spec = _compile(task)
                redact = spec.redactor
                policy = spec.body.retries
                capture.add(f"attempt {task.attempt} of {task.max_attempts} on {worker_id}")
                _run(spec, task, store, heartbeat, (outcome, *extra_listeners))
                if outcome.report is not None:
                    capture.add(redact(outcome.report.render(spec)))
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                error = find_error(exc)
                message = redact(error.render() if error else f"{type(exc).__name__}: {exc}")
                retriable = is_retriable(exc)
                capture.add(message, "ERROR")
                now = utcnow()
                when = retry_at(policy, task.attempt, task.max_attempts, retriable, now)
                if when is not None:
                    capture.add(f"retriable: attempt {task.attempt + 1} at "
                                f"{when:%H:%M:%S} UTC", "WARNING")
                # The log is complete before the run's end is: a follower that sees the end
                # has every line.
                capture.flush()
                return store.finish_attempt(
                    task.run_id, task.attempt,
                    _result("failed", outcome, message, retriable), now, retry_at=when)
        return store.finish_attempt(task.run_id, task.attempt, _result("succeeded", outcome),
                                    utcnow())
    finally:
        if heartbeat is not None:
            heartbeat.current_run = None


def _run(spec: PipelineSpec, task: RunTask, store: Store, heartbeat: Heartbeat | None,
         listeners: tuple[RunListener, ...]) -> None:
    from dteg.beam import progress
    from dteg.governance.listeners import default_listeners
    from dteg.run.lifecycle import execute
    from dteg.runners.launch import launcher
    from dteg.runners.settings import RunnerSettings

    progress.rows_read.reset()
    first_read = threading.Event()

    def watch_first_read() -> None:
        if not first_read.is_set() and progress.rows_read.value > 0:
            first_read.set()
            store.mark_first_read(task.run_id, task.attempt, utcnow())

    poller = _Poller(watch_first_read)
    poller.start()
    try:
        if task.kind == "backfill":
            from dteg.run.backfill import plan_from_params

            plan = plan_from_params(task.params, task.engine_run_id)
        else:
            plan = RunPlan(run_id=task.engine_run_id)
        execute(spec, plan, launch=launcher(RunnerSettings(name="direct")),
                listeners=[*default_listeners(spec), *listeners], runner="direct",
                kind="backfill" if task.kind == "backfill" else "run")
    finally:
        poller.stop()
        watch_first_read()


class _Poller:
    """Calls ``check`` every 20 ms on a thread until stopped."""

    def __init__(self, check: Callable[[], None], interval: float = 0.02) -> None:
        self._check, self._interval = check, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="dteg-poller")

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._check()
            except Exception:
                time.sleep(self._interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def lost_attempt_retry(policy: RetryPolicy, run: RunRow, now: datetime) -> datetime | None:
    """When a lost attempt (its worker died) runs again: by the policy, like any retriable
    failure."""
    return retry_at(policy, run.attempt, run.max_attempts, True, now)

