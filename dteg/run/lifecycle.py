"""One recorded run from start to finish, the same for ``dteg run``, each backfill partition
and (through ``RecordedRun``) a stream: announce it, fix its plan (incremental bounds,
offsets), launch the Beam part on the chosen runner, save state once every sink committed, run
the post-load steps (dbt), then announce how it ended, whatever happened. Everything else
(run records, lineage, drift, alerts, metrics) listens to the events (``dteg.run.events``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from dteg.components.contracts import LoadedTarget, PostLoadFailed, RunContext
from dteg.components.plan import RunPlan
from dteg.components.registry import default_registry
from dteg.components.rundir import RunDir
from dteg.components.settings import database_file
from dteg.errors import DtegError, RunError, find_error
from dteg.run.events import (
    Committed,
    Listeners,
    QualityChecked,
    RunFailed,
    RunFinished,
    RunInfo,
    RunListener,
    RunStarted,
    SchemaDrifted,
    StepsCounted,
)
from dteg.run.offsets import plan_offsets
from dteg.run.report import RunReport
from dteg.run.state import commit_pending_state, prepare_run, warn_partial_commits
from dteg.spec.models import PipelineSpec, StepSpec
from dteg.spec.preflight import check_preflight

# Runs the Beam part of a planned run on some runner (``dteg.runners``) and reports counts.
Launch = Callable[[PipelineSpec, RunPlan], RunReport]


def loads_before(spec: PipelineSpec, step: StepSpec) -> list[LoadedTarget]:
    """The committed loads a post-load step follows."""
    return [LoadedTarget(name, database_file(spec.step(name).settings, spec.base_dir))
            for name in step.inputs]


def run_post_load_steps(spec: PipelineSpec, run_id: str, report: RunReport,
                        only: Iterable[StepSpec] | None = None) -> None:
    """Post-load steps (dbt), in file order, after every load has committed."""
    registry = default_registry()
    for step in only if only is not None else spec.steps:
        if not step.runs_after_load:
            continue
        info = registry.find("transform", step.component or step.type)
        assert info is not None, "resolve_types found it"
        ctx = RunContext(pipeline=spec.name, step=step.name, base_dir=spec.base_dir,
                         run_id=run_id)
        try:
            outcome = info.build(step.validated(), ctx).run(loads_before(spec, step))
        except PostLoadFailed as exc:
            report.post_load.append(exc.outcome)  # what it did before failing, in the record
            raise
        report.post_load.append(outcome)


def report_dict(report: RunReport, spec: PipelineSpec) -> dict[str, Any]:
    return {
        "pipeline": report.pipeline, "run_id": report.run_id, "runner": report.runner,
        "seconds": report.seconds, "read": report.read, "loaded": report.loaded,
        "dead_lettered": report.dead_lettered, "filtered": report.filtered,
        "reconciles": report.reconciles(spec),
        "reconciliation": [b.to_dict() for b in report.balances(spec)],
        "steps": [s.to_dict() for s in report.steps],
        "targets": report.targets, "dead_letter_target": report.dead_letter_target,
        "schemas": report.schemas,
        "schema_drift": [vars(d) for d in report.drift],
        "post_load": [o.to_dict() for o in report.post_load],
        # Grouped by kind too ("dbt": [...]), the shape scripts read before plugins existed.
        **_by_kind(report.post_load),
        **({"quality": report.quality} if report.quality else {}),
    }


def _by_kind(outcomes: list[Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.kind, []).append(outcome.to_dict())
    return grouped


def located(spec: PipelineSpec, exc: BaseException, run_dir: RunDir | None = None) -> DtegError:
    """The typed error behind a failed run, with its step's file:line: the one a stage kept
    in the run folder (runners hand errors back as text), else the one in the exception's
    chain, else a ``RunError`` that tells the user to add ``--debug``."""
    kept = run_dir.errors() if run_dir is not None else []
    error: DtegError | None = kept[0][1] if kept else find_error(exc)
    if error is None:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        first = next((line for line in lines if "Error:" in line or "Exception:" in line),
                     lines[0] if lines else type(exc).__name__)
        error = RunError(f"the run failed: {first}",
                         hint="Run again with --debug for the full traceback.")
    if error.step and error.location is None:
        with contextlib.suppress(KeyError):
            error.with_location(spec.step(error.step).location)
    return error


class RecordedRun:
    """Announces one run to its listeners; used by ``execute`` and by ``dteg stream``."""

    def __init__(self, spec: PipelineSpec, run_id: str, runner: str,
                 listeners: Iterable[RunListener], kind: str = "run") -> None:
        self.spec = spec
        self.info = RunInfo(spec, run_id, runner, kind)
        self.listeners = Listeners.of(listeners)
        self.run_dir = RunDir.of(spec.state_dir, run_id)

    def started(self) -> None:
        self.listeners.emit(RunStarted(self.info))

    def counted(self, report: RunReport) -> None:
        self.listeners.emit(StepsCounted(self.info, tuple(report.steps)))
        if report.quality:
            self.listeners.emit(QualityChecked(self.info, report.quality))

    def committed(self, report: RunReport) -> None:
        report.schemas = self.run_dir.schemas()
        self.listeners.emit(Committed(self.info, report))
        if report.drift:
            self.listeners.emit(SchemaDrifted(self.info, tuple(report.drift)), tolerant=True)

    def failed(self, exc: BaseException, report: RunReport | None = None) -> DtegError:
        """Announce a failed run. ``report``: what Beam counted when the run failed after
        its loads committed (a dbt step failed), so the record still has the counts."""
        error = located(self.spec, exc, self.run_dir)
        message = self.spec.redactor(error.render())
        summary: dict[str, Any] = {"pipeline": self.spec.name, "run_id": self.info.run_id,
                                   "runner": self.info.runner}
        if report is not None:
            summary = report_dict(report, self.spec)
        summary.update(status="failed", error=message)
        self.listeners.emit(RunFailed(self.info, message, error, report, summary),
                            tolerant=True)
        self.listeners.emit(RunFinished(self.info, "failed", report, summary), tolerant=True)
        return error

    def finished(self, report: RunReport, extra: dict[str, Any] | None = None) -> None:
        summary = {**report_dict(report, self.spec), "status": "succeeded", **(extra or {})}
        self.listeners.emit(RunFinished(self.info, "succeeded", report, summary))


def execute(spec: PipelineSpec, plan: RunPlan | str, *, launch: Launch,
            listeners: Iterable[RunListener] = (), runner: str = "direct",
            kind: str = "run") -> RunReport:
    """Run ``spec`` once. A failed run raises its typed error (with the step's file:line)
    after the listeners heard about it; nothing is committed then."""
    if isinstance(plan, str):
        plan = RunPlan(run_id=plan)
    run = RecordedRun(spec, plan.run_id, runner, listeners, kind)
    run.started()
    counted: RunReport | None = None
    try:
        # What fails before a row is read (a missing input, SQL that does not parse, a dbt
        # step without a project) fails now, before any load can commit.
        check_preflight(spec)
        # Incremental state (dteg.run.state): fix this run's cursor bounds before it starts,
        # save the new cursors once every sink has committed.
        plan = prepare_run(spec, plan)
        # Unbounded sources: fix the offsets now, commit them after the sinks.
        plan, commit_offsets = plan_offsets(spec, plan)
        report = launch(spec, plan)
        run.counted(report)
        counted = report
        commit_pending_state(spec, plan.run_id)
        commit_offsets()
        run_post_load_steps(spec, plan.run_id, report)
        run.committed(report)
    except BaseException as exc:
        warn_partial_commits(spec, plan.run_id)
        error = run.failed(exc, counted)
        if error is exc or isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise error from exc
    finally:
        run.run_dir.remove()
    run.finished(report)
    return report
