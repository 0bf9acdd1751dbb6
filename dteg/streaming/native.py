"""``dteg stream --runner prism``: the stream as ONE long-running Beam pipeline on Prism.

The launcher connects every source's offset planner (where each consumer group stands),
starts a private Prism job server, and submits ``UnboundedPipeline``: each partition is a
restriction of a splittable DoFn, the compiled stages run as on every other path, and every
sink commits per bundle. Bundle finalization (sent by Prism after a bundle's sinks
committed) records each bundle's offset range in ``dteg.beam.unbounded.LEDGER``; this loop
commits each partition's contiguous loaded prefix to the consumer group. So:

* a crash re-reads at most what was read and not yet finalized (at-least-once; merge sinks
  exactly once in effect), and never skips: an offset is committed only after the sinks
  committed every record before it;
* SIGINT/SIGTERM, ``--max-seconds``, ``--max-records`` (at least that many, whole polls)
  cancel the job and commit what was finalized; ``until:`` ends the job by itself.

Window/aggregate steps are not on this path yet (the micro-batch path keeps their state).
"""

from __future__ import annotations

import os
import time
from typing import Any

from dteg.components.names import DEAD_LETTER_STEP
from dteg.components.settings import write_mode
from dteg.errors import ConfigError, ConnectorError, RunError
from dteg.streaming.console import LiveLine, StopSignals
from dteg.streaming.launcher import Stream, StreamResult

COMMIT_EVERY = 0.2  # seconds between commits of what bundle finalization reported
TERMINAL = ("DONE", "FAILED", "CANCELLED", "STOPPED", "UPDATED", "DRAINED")


class PrismStream(Stream):
    def __init__(self, *args: Any, prism_location: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.stateful:
            raise ConfigError(
                "window/aggregate steps do not run on `dteg stream --runner prism` yet",
                hint="Run this pipeline with `dteg stream` (the micro-batch path keeps the "
                "windows' state and checkpoints it).")
        self.prism_location = prism_location
        self._failing_since: float | None = None
        self._warned: float | None = None

    def _starts(self) -> dict[str, list[Any]]:
        from dteg.beam.unbounded import StartAt

        starts: dict[str, list[Any]] = {}
        for step, planner in self.planners.items():
            until = getattr(planner, "until", None)
            starts[step] = [StartAt(step, tp[0], tp[1], pos,
                                    None if until is None else max(until.get(tp, pos), pos))
                            for tp, pos in sorted(planner.positions.items())]
        return starts

    def _build(self, endpoint: str) -> Any:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
        from apache_beam.runners.portability.portable_runner import PortableRunner

        from dteg.beam.stream_pipeline import UnboundedPipeline

        options = PipelineOptions(flags=[], job_endpoint=endpoint,
                                  environment_type="LOOPBACK", streaming=True,
                                  job_name=f"dteg-{self.spec.name}-{self.run_id}")
        pipeline = beam.Pipeline(runner=PortableRunner(), options=options)
        composite = UnboundedPipeline(
            self.spec, self.plan, self._starts(),
            {s: p.batch_records for s, p in self.planners.items()})
        _ = pipeline | composite
        return pipeline

    def _advance(self) -> None:
        from dteg.beam.unbounded import LEDGER

        for step, positions in LEDGER.positions().items():
            planner = self.planners.get(step)
            if planner is None:
                continue
            moved = {tp: pos for tp, pos in positions.items()
                     if pos > planner.positions.get(tp, -1)}
            if moved:
                planner.advance(moved)
        if self._uncommitted():
            try:
                self._commit_offsets()
            except ConnectorError as exc:
                if not exc.retriable:
                    raise
                # The broker is away: the job keeps polling (librdkafka reconnects by itself)
                # and the loaded positions are committed once it is back.
                self._retrying(exc)
                return
        self._failing_since = None
        LEDGER.committed_at(time.time())

    def _retrying(self, exc: ConnectorError) -> None:
        now = time.monotonic()
        since = self._failing_since or now
        self._failing_since = since
        if now - since > self.options.retry_for:
            raise exc
        if self._warned is None or now - self._warned >= 10:
            self._warned = now
            self.metrics.retries += 1
            self.warn(f"{self.spec.redactor(exc.render())} — retrying the offset commit "
                      "while the job keeps running")

    def _watch(self, result: Any, stop: StopSignals) -> str:
        from dteg.beam.unbounded import LEDGER

        options = self.options
        began = time.monotonic()
        while True:
            if stop.wait(COMMIT_EVERY):
                return f"signal {stop.reason}"
            self._advance()
            state = str(result.state).rsplit(".", 1)[-1]
            if state in TERMINAL:
                if state != "DONE":
                    kept = self.run_dir.errors()
                    if kept:
                        raise kept[0][1]  # the typed error a stage or sink kept
                    raise RunError(f"the Prism job of {self.spec.name} ended {state}",
                                   hint=f"Prism's log: {self.folder / 'prism.log'}; rerun "
                                   "with --debug for the SDK workers' log.")
                return "until (every partition reached its end offset)"
            if options.max_seconds is not None and \
                    time.monotonic() - began >= options.max_seconds:
                return f"--max-seconds {options.max_seconds:g}"
            if options.max_records is not None and LEDGER.records >= options.max_records:
                return f"--max-records {options.max_records}"

    def run(self) -> StreamResult:
        import logging

        from dteg.beam.unbounded import LEDGER
        from dteg.runners import prism

        logging.getLogger("apache_beam").setLevel(
            logging.DEBUG if self.options.debug else logging.CRITICAL)
        binary = prism.locate(self.prism_location)
        with self._lock(), StopSignals(self.warn) as stop:
            server = None
            try:
                self._connect()
                self._settle()
                self._clean_dead_runs()
                self.run_dir.write_owner(
                    pid=os.getpid(), pipeline=self.spec.name,
                    sinks={s.name: write_mode(s.settings) for s in self.spec.steps
                           if s.is_sink})
                LEDGER.reset({s: dict(p.positions) for s, p in self.planners.items()})
                server, endpoint = prism.start_job_server(binary, self.folder / "prism.log")
                pipeline = self._build(endpoint)
                started = time.time()
                result = pipeline.run()
                with LiveLine(self.metrics, enabled=self.options.live):
                    stopped_by = self._watch(result, stop)
                if not stopped_by.startswith("until"):
                    result.cancel()
                    self._wait_ended(result)
                self._advance()
                self._counts(result, started)
                self.dbt.at_stop()
            finally:
                if server is not None and server.poll() is None:
                    server.kill()
                    server.wait(30)
                self.metrics.close()
                for planner in self.planners.values():
                    planner.close()
        return self._native_result(stopped_by)

    def _wait_ended(self, result: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if str(result.state).rsplit(".", 1)[-1] in TERMINAL:
                return
            time.sleep(0.1)

    def _counts(self, result: Any, started: float) -> None:
        """Totals from the job's Beam metrics (Prism keeps them per finished bundle)."""
        import numpy as np

        from dteg.beam.unbounded import LEDGER
        from dteg.runners.direct import collect_counts

        try:
            counts = collect_counts(result, self.spec)
        except Exception:  # a cancelled job's metrics may be gone
            counts = {}
        self.totals = counts
        read = sum(c.rows_out + c.dead_letter for c in counts.values() if c.kind == "extract")
        loaded = {c.name: c.loaded for c in counts.values()
                  if c.kind == "load" and c.name != DEAD_LETTER_STEP}
        dead = sum(c.dead_letter for c in counts.values() if c.name != DEAD_LETTER_STEP)
        active = (LEDGER.last - LEDGER.first) if LEDGER.first is not None and \
            LEDGER.last is not None else time.time() - started
        self.metrics.batch_done(read, loaded, dead, active,
                                np.asarray(LEDGER.latencies, dtype=float))
        self.metrics.last_batch = LEDGER.last or self.metrics.last_batch
        self.metrics.first_batch = LEDGER.first or self.metrics.first_batch
        self.batches = LEDGER.bundles

    def _native_result(self, stopped_by: str) -> StreamResult:
        writers = {s.name: self._writer(s) for s in self.spec.steps if s.is_sink}
        return self._stream_result(stopped_by, writers, "prism (stream)")

    def _writer(self, step: Any) -> Any:
        from dteg.beam.compiler import DtegPipeline

        return DtegPipeline(self.spec, self.plan).writer(step)
