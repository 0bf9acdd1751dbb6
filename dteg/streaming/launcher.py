"""``dteg stream``: run a pipeline as a series of micro-batches until it is stopped.

Each micro-batch: plan the offsets to read (each source's ``OffsetPlanner``, declared by its
component as ``Capabilities.offset_planner``), run the
pipeline's Beam graph over exactly those offsets (``MicroBatchRunner``), and once every sink
has committed, save the window state (``dteg.transforms.checkpoint``) and commit the offsets
(Kafka: to the consumer group). So a crash anywhere re-reads at most the micro-batch in flight
(at-least-once), and a crash after the sinks committed but before the offsets did is settled
on the next start without re-reading (the sinks' commit markers say it is done).

SIGINT/SIGTERM let the micro-batch in flight finish and commit, then the stream exits 0; a
second SIGINT stops at once. Retriable errors (broker down, timeouts) are retried with
backoff; anything else stops the stream with exit code 1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dteg.components.contracts import OffsetPlan, OffsetPlanner, Partition
from dteg.components.files import pid_alive, read_json, write_json_atomic
from dteg.components.names import DEAD_LETTER_STEP
from dteg.components.rundir import RunDir
from dteg.components.settings import write_mode
from dteg.errors import ConfigError, ConnectorError, find_error
from dteg.run.offsets import create_planner
from dteg.run.report import RunReport, StepCounts
from dteg.spec.models import PipelineSpec
from dteg.streaming import checks
from dteg.streaming.console import LiveLine, StopSignals
from dteg.streaming.dbt_schedule import DbtSchedule
from dteg.streaming.metrics import StreamMetrics
from dteg.transforms import checkpoint

BACKOFF_MAX = 10.0
IDLE_WAIT = 0.1
# A test hook, like dteg.run.state's: SIGKILL right after every sink of a micro-batch
# committed and before its offsets are committed (the window the crash tests exercise).
FAULT_ENV = "DTEG_FAULT"


@dataclass
class StreamOptions:
    max_records: int | None = None
    max_seconds: float | None = None
    metrics_port: int | None = None
    live: bool = False
    debug: bool = False
    retry_for: float = 3600.0  # give up after this long without a successful micro-batch


@dataclass
class StreamResult:
    report: RunReport
    batches: int
    stopped_by: str
    positions: dict[str, dict[str, int]]
    latency_p50: float | None
    latency_p99: float | None
    retries: int
    active_seconds: float = 0.0  # first micro-batch start → last micro-batch end
    notes: list[str] = field(default_factory=list)


def _tp_key(tp: Partition) -> str:
    return f"{tp[0]}/{tp[1]}"


def _tp_parse(key: str) -> Partition:
    topic, _, partition = key.rpartition("/")
    return topic, int(partition)


def _durable(path: Path, data: Any) -> None:
    write_json_atomic(path, data, durable=True)


class Stream:
    def __init__(self, spec: PipelineSpec, run_id: str, options: StreamOptions,
                 say: Callable[[str], None], warn: Callable[[str], None]) -> None:
        checks.check(spec)
        self.run_id = run_id
        self.options = options
        self.say = say
        self.warn = warn
        self.folder = spec.state_dir / "streams" / spec.name
        self.run_dir = RunDir.of(spec.state_dir, run_id)
        self.spec, self.plan = checks.stream_spec(spec, run_id, folder=self.folder)
        self.stateful = checks.has_windows(spec)
        self.metrics = StreamMetrics(spec.name)
        self.planners: dict[str, OffsetPlanner] = {}
        self.committed: dict[str, dict[Partition, int]] = {}
        self.totals: dict[str, StepCounts] = {}
        self.checkpoint = checkpoint.Checkpoint()
        self.notes: list[str] = []
        self.runner: Any = None
        self.batches = 0
        self.dbt = DbtSchedule(self.spec, run_id, say, warn)

    # --- set-up -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        lock = self.folder / "lock.json"
        self.folder.mkdir(parents=True, exist_ok=True)
        if lock.exists():
            owner = read_json(lock)
            owner = owner if isinstance(owner, dict) else {}
            pid = int(owner.get("pid", 0))
            if pid and pid != os.getpid() and pid_alive(pid):
                raise ConfigError(
                    f"another `dteg stream` (pid {pid}, run {owner.get('run_id')}) is running "
                    f"{self.spec.name} from {self.spec.base_dir}",
                    hint=f"Stop it first (kill -TERM {pid}); two streams would read the same "
                    "offsets.")
        write_json_atomic(lock, {"pid": os.getpid(), "run_id": self.run_id})
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)

    def _connect(self) -> None:
        for step in self.spec.sources():
            planner = create_planner(self.spec, step)
            self.planners[step.name] = planner
            planner.connect()  # bounded retries, then a clear error (exit 1)
            self.committed[step.name] = dict(planner.positions)
        if self.stateful:
            self.checkpoint = checkpoint.load(self.folder)
            for name, offsets in self.checkpoint.offsets.items():
                if name in self.planners:
                    # The windows' state holds rows up to these offsets: read on from there.
                    self.planners[name].override_positions(
                        {_tp_parse(k): v for k, v in offsets.items()})
        for planner in self.planners.values():
            planner.resolve_until(bounded=False)

    def _clean_dead_runs(self) -> None:
        """Folders and staged parts of earlier streams of this pipeline whose process died."""
        from dteg.beam.compiler import DtegPipeline

        for run_dir in RunDir.all(self.spec.state_dir):
            owner = run_dir.owner()
            if (not run_dir.run_id.startswith("stream-") or run_dir.run_id == self.run_id
                    or owner is None or owner.get("pipeline") != self.spec.name
                    or pid_alive(int(owner.get("pid", 0)))):
                continue
            composite = DtegPipeline(self.spec, run_dir.run_id)
            for step in self.spec.steps:
                if step.is_sink:
                    with contextlib.suppress(Exception):
                        composite.writer(step).abort([])
            run_dir.remove()

    def _settle(self) -> None:
        """The previous process died with a micro-batch in flight (``pending.json``)."""
        path = self.folder / checkpoint.PENDING
        data = read_json(path)
        if not isinstance(data, dict):
            path.unlink(missing_ok=True)
            return
        run_dir = RunDir(Path(data["run_dir"]))
        committed = run_dir.committed()
        sinks = set(data["sinks"])
        if sinks <= committed:
            for step, offsets in data["offsets"].items():
                if step in self.planners:
                    self.planners[step].advance({_tp_parse(k): v for k, v in offsets.items()})
            if self.stateful:
                self.checkpoint = checkpoint.save(self.folder, self.checkpoint,
                                                  run_dir.pending_checkpoint_dir,
                                                  self._positions())
            self._commit_offsets()
            note = (f"the previous stream ({data.get('run_id')}) was stopped after every sink "
                    "committed its last micro-batch and before the offsets were committed; "
                    "they were committed now, so that micro-batch is not read again")
        elif committed & sinks:
            appended = sorted(committed & sinks)
            note = (f"the previous stream ({data.get('run_id')}) was stopped while its last "
                    f"micro-batch was committing ({', '.join(appended)} had committed); that "
                    "micro-batch is read again, so those sinks may hold its rows twice "
                    "(merge sinks stay exact)")
        else:
            note = ""
        if note:
            self.notes.append(note)
            self.warn(note)
        path.unlink(missing_ok=True)
        run_dir.remove()

    # --- the loop -----------------------------------------------------------------------

    def _positions(self) -> dict[str, dict[str, int]]:
        return {step: {_tp_key(tp): pos for tp, pos in sorted(p.positions.items())}
                for step, p in self.planners.items()}

    def _commit_offsets(self) -> None:
        for step, planner in self.planners.items():
            changed = {tp: pos for tp, pos in planner.positions.items()
                       if self.committed[step].get(tp) != pos}
            if changed:
                planner.commit_positions(changed)
                self.committed[step].update(changed)

    def _uncommitted(self) -> bool:
        return any(self.committed[s].get(tp) != pos for s, p in self.planners.items()
                   for tp, pos in p.positions.items())

    def _plan(self, remaining: int | None) -> dict[str, OffsetPlan]:
        plans: dict[str, OffsetPlan] = {}
        for step, planner in self.planners.items():
            budget = planner.batch_records
            if remaining is not None:
                budget = min(budget, remaining)
            plan = planner.plan(budget)
            plans[step] = plan
            self.metrics.set_lag(step, planner.lag(plan.high))
            if remaining is not None:
                remaining -= plan.records
        return plans

    def _ready(self, plans: dict[str, OffsetPlan], last_start: float, remaining: int | None
               ) -> bool:
        """Run now (a full micro-batch is waiting, or the time bound has passed), or wait."""
        waiting = sum(p.records for p in plans.values())
        if not waiting:
            return False
        if remaining is not None and waiting >= remaining:
            return True
        for step, plan in plans.items():
            if plan.records >= self.planners[step].batch_records:
                return True
        bound = min(p.batch_seconds for p in self.planners.values())
        return time.monotonic() - last_start >= bound

    def _micro_batch(self, plans: dict[str, OffsetPlan]) -> None:
        from dteg.beam import progress

        _durable(self.folder / "plan.json",
                 {step: plan.ranges_json() for step, plan in plans.items()})
        self.run_dir.clear_micro_batch()
        after = self._positions()  # where each partition stands once this batch commits
        for step, plan in plans.items():
            after[step].update({_tp_key(tp): end for tp, end in plan.ends().items()})
        sinks = [s.name for s in self.spec.steps if s.is_sink]  # the dead-letter sink too
        _durable(self.folder / checkpoint.PENDING, {
            "run_id": self.run_id, "run_dir": str(self.run_dir.path), "sinks": sinks,
            "offsets": after})
        progress.rows_read.reset()
        started = time.monotonic()
        try:
            counts = self.runner.run()
        except Exception:
            self._warn_partial(sinks)
            raise
        seconds = time.monotonic() - started
        # Every sink committed: this is the point of no return.
        for step, plan in plans.items():
            self.planners[step].advance(plan.ends())
        if self.stateful:
            self.checkpoint = checkpoint.save(self.folder, self.checkpoint,
                                              self.run_dir.pending_checkpoint_dir,
                                              self._positions())
        if os.environ.get(FAULT_ENV) == "kill_before_offset_commit":
            os.kill(os.getpid(), signal.SIGKILL)
        self.batches += 1
        try:
            self._commit_offsets()
        except ConnectorError as exc:
            self.warn(f"{exc.render()} (retrying after the next micro-batch)")
        else:
            (self.folder / checkpoint.PENDING).unlink(missing_ok=True)
        self._count(counts, seconds, time.time())
        self.dbt.after_batch()

    def _warn_partial(self, sinks: list[str]) -> None:
        """A micro-batch failed after some of its sinks committed: it is read again."""
        committed = sorted(self.run_dir.committed() & set(sinks))
        if committed:
            self.warn(f"the failed micro-batch had already been committed by "
                      f"{', '.join(committed)}; it is read again, so those sinks may hold its "
                      "rows twice (merge sinks stay exact)")

    def _count(self, counts: dict[str, StepCounts], seconds: float, committed_at: float
               ) -> None:
        """Totals, and end-to-end latency: ``committed_at`` (sinks and offsets committed)
        minus each record's event time as its source left it."""
        import numpy as np

        for name, c in counts.items():
            total = self.totals.setdefault(name, StepCounts(name, c.kind))
            for attr in ("rows_in", "rows_out", "dead_letter", "filtered", "loaded"):
                setattr(total, attr, getattr(total, attr) + getattr(c, attr))
        read = sum(c.rows_out + c.dead_letter for c in counts.values() if c.kind == "extract")
        loaded = {c.name: c.loaded for c in counts.values()
                  if c.kind == "load" and c.name != DEAD_LETTER_STEP}
        dead = sum(c.dead_letter for c in counts.values() if c.name != DEAD_LETTER_STEP)
        stamps = [np.load(f) for f in sorted(self.run_dir.timestamps_dir.glob("*.npy"))]
        latencies = (committed_at * 1000 - np.concatenate(stamps)) / 1000 if stamps \
            else np.zeros(0)
        self.metrics.batch_done(read, loaded, dead, seconds, latencies)

    def _loop(self, stop: StopSignals) -> str:
        options = self.options
        began = time.monotonic()
        last_start = 0.0
        backoff = 1.0
        failing_since: float | None = None
        while True:
            if stop.reason:
                return f"signal {stop.reason}"
            if options.max_seconds is not None and time.monotonic() - began >= \
                    options.max_seconds:
                return f"--max-seconds {options.max_seconds:g}"
            remaining = None
            if options.max_records is not None:
                remaining = options.max_records - self.metrics.records_in
                if remaining <= 0:
                    return f"--max-records {options.max_records}"
            try:
                if self._uncommitted() and not (self.folder / checkpoint.PENDING).exists():
                    self._commit_offsets()
                plans = self._plan(remaining)
                if all(p.finished for p in plans.values()):
                    return "until (every partition reached its end offset)"
                if not self._ready(plans, last_start, remaining):
                    stop.wait(IDLE_WAIT)
                    continue
                last_start = time.monotonic()
                self._micro_batch(plans)
                if self._uncommitted():
                    self._commit_offsets()
                    (self.folder / checkpoint.PENDING).unlink(missing_ok=True)
            except Exception as exc:
                err = find_error(exc)
                if not (isinstance(err, ConnectorError) and err.retriable):
                    raise
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > options.retry_for:
                    raise
                self.metrics.retries += 1
                self.warn(f"{self.spec.redactor(err.render())} — retrying in {backoff:.0f} s")
                if stop.wait(backoff):
                    continue
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            failing_since = None
            backoff = 1.0

    # --- whole run ----------------------------------------------------------------------

    def run(self) -> StreamResult:
        from dteg.streaming.executor import MicroBatchRunner

        with self._lock(), StopSignals(self.warn) as stop:
            try:
                self._connect()
                self._settle()  # before the dead runs' folders (its commit markers) go
                self._clean_dead_runs()
                self.run_dir.write_owner(
                    pid=os.getpid(), pipeline=self.spec.name,
                    sinks={s.name: write_mode(s.settings) for s in self.spec.steps
                           if s.is_sink})
                self.runner = MicroBatchRunner(self.spec, self.plan, debug=self.options.debug)
                if self.options.metrics_port is not None:
                    self.metrics.serve(self.options.metrics_port)
                with LiveLine(self.metrics, enabled=self.options.live):
                    stopped_by = self._loop(stop)
                self.dbt.at_stop()
            finally:
                self.metrics.close()
                for planner in self.planners.values():
                    planner.close()
        return self._result(stopped_by)

    def _result(self, stopped_by: str) -> StreamResult:
        return self._stream_result(stopped_by, self.runner.writers() if self.runner else {},
                                   "direct (stream)")

    def _stream_result(self, stopped_by: str, writers: dict[str, Any],
                       runner: str) -> StreamResult:
        """The stream's report from its totals and its sinks' ``writers`` (step → writer)."""
        spec = self.spec
        steps = [self.totals.get(s.name, StepCounts(s.name, s.kind)) for s in spec.steps
                 if not s.is_dead_letter_sink]
        stored = self.totals.get(DEAD_LETTER_STEP, StepCounts(DEAD_LETTER_STEP, "")).loaded
        dead = writers.pop(DEAD_LETTER_STEP, None)
        report = RunReport(
            pipeline=spec.name, run_id=self.run_id, runner=runner,
            seconds=time.monotonic() - self.metrics.started, steps=steps,
            dead_letter_target=dead.describe() if dead is not None else "",
            dead_lettered_stored=stored,
            targets={name: w.describe() for name, w in writers.items()})
        latency = self.metrics.latency
        return StreamResult(report=report, batches=self.batches, stopped_by=stopped_by,
                            positions=self._positions(), latency_p50=latency.percentile(50),
                            latency_p99=latency.percentile(99),
                            retries=self.metrics.retries,
                            active_seconds=self.metrics.active_seconds, notes=self.notes)
