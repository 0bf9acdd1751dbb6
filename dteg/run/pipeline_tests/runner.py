"""Run a pipeline file's ``tests:`` block offline, on the embedded runner.

Each test compiles the pipeline with the test's own ``env`` (never the real environment's
values for ``${env:…}``), swaps every extract step for a stand-in source that yields the
test's rows and every load step (the dead-letter sink too) for a stand-in sink, and runs the
REAL compiled stages — validate, mask, encrypt, filter, map, window, aggregate — through the
same ``DtegPipeline`` a ``dteg run`` builds. No connection is opened; post-load steps (dbt)
are skipped with a note. What each stand-in sink committed is then compared with the test.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dteg.components.capabilities import Capabilities
from dteg.components.plan import RunPlan, new_run_id
from dteg.components.registry import Registry, default_registry
from dteg.components.rundir import RunDir
from dteg.errors import DtegError, SpecError, find_error
from dteg.run.pipeline_tests.compare import Diff, compare, dead_letter_match
from dteg.run.pipeline_tests.fixtures import input_table
from dteg.run.pipeline_tests.memory import (
    MEMORY_SINK,
    MEMORY_SOURCE,
    MemorySinkConfig,
    MemorySourceConfig,
    committed_rows,
    write_ipc,
)
from dteg.spec.loader import load_yaml_file
from dteg.spec.models import PipelineSpec, StepSpec
from dteg.spec.phases import compile_spec, run_blockers
from dteg.spec.tests_block import TESTS_KEY, PipelineTest, check_tests_shape

# Runners append the Beam stage's label to an error's text; a test's author knows steps.
_BEAM_SUFFIX = re.compile(r"\s*\[while running '[^']*'\]")


@dataclass
class StepCheck:
    """One expectation of a test and how what the step received differs from it."""

    step: str
    received: int
    diff: Diff


@dataclass
class TestOutcome:
    """What one test did: passed, or the differences and the error that failed it."""

    __test__ = False

    name: str
    checks: list[StepCheck] = field(default_factory=list)
    error: DtegError | None = None
    exception: BaseException | None = None
    notes: list[str] = field(default_factory=list)
    rows_in: int = 0
    loaded: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0

    @property
    def passed(self) -> bool:
        return self.error is None and not any(c.diff for c in self.checks)

    def problem_lines(self, redact: Any = None) -> list[str]:
        """The readable diff: per step, what was missing, unexpected or changed."""
        hide = redact or (lambda text: text)
        lines: list[str] = []
        if self.error is not None:
            lines.append(hide(f"error: {_BEAM_SUFFIX.sub('', self.error.render())}"))
        for check in self.checks:
            if check.diff:
                lines.append(f"{check.step} (received {check.received} rows):")
                lines += [f"  {hide(line)}" for line in check.diff.lines()]
        return lines


@dataclass
class PipelineTestReport:
    """Every test of one pipeline file."""

    __test__ = False

    file: str
    outcomes: list[TestOutcome]
    redact: Any = None

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failed(self) -> list[TestOutcome]:
        return [o for o in self.outcomes if not o.passed]

    def render(self) -> str:
        """The report as ``dteg test`` prints it."""
        lines: list[str] = []
        for outcome in self.outcomes:
            loads = ", ".join(f"{k} {v}" for k, v in outcome.loaded.items())
            counts = (f"{outcome.rows_in} rows in → {loads or 'no loads'}; "
                      f"{outcome.dead_letters} dead letters")
            lines.append(f"{'PASS' if outcome.passed else 'FAIL'}  {outcome.name}  ({counts})")
            lines += [f"      note: {n}" for n in outcome.notes]
            lines += [f"      {line}" for line in outcome.problem_lines(self.redact)]
        total, bad = len(self.outcomes), len(self.failed)
        lines.append(f"{self.file}: {total - bad} passed, {bad} failed")
        return "\n".join(lines)


def load_tests(path: str | Path) -> list[PipelineTest]:
    """The ``tests:`` block of a pipeline file, checked (a SpecError with file:line)."""
    doc = load_yaml_file(path)
    raw = doc.data.get(TESTS_KEY) if isinstance(doc.data, dict) else None
    errors = check_tests_shape(raw, doc.source_map)
    if errors:
        raise errors[0] if len(errors) == 1 else _many(errors)
    if not raw:
        raise SpecError(f"{path} has no `tests:` block", location=doc.source_map.at(()),
                        hint="Add `tests:` beside `pipeline:` with at least one test "
                        "(`- name:`, `inputs:`, `expect:`); README.md shows one.")
    return [PipelineTest.model_validate(item) for item in raw]


def _many(errors: list[SpecError]) -> SpecError:
    from dteg.errors import SpecErrors

    return SpecErrors(errors)


def run_pipeline_tests(path: str | Path, names: Sequence[str] = ()) -> PipelineTestReport:
    """Run the tests of the pipeline file at ``path`` (only those named in ``names`` when
    given). A bad test spec raises a ``SpecError``; a failing test is in the report."""
    tests = load_tests(path)
    if names:
        unknown = [n for n in names if n not in {t.name for t in tests}]
        if unknown:
            raise SpecError(f"{path} has no test named {', '.join(f'`{n}`' for n in unknown)}",
                            hint=f"Its tests: {', '.join(t.name for t in tests)}.")
        tests = [t for t in tests if t.name in names]
    outcomes: list[TestOutcome] = []
    redactors = []
    for test in tests:
        spec = _compile_for(path, test)
        redactors.append(spec.redactor)
        index = next(i for i, t in enumerate(spec.tests) if t.name == test.name)
        outcomes.append(run_one(spec, spec.tests[index], index))

    def redact(text: str) -> str:
        for r in redactors:
            text = r(text)
        return text

    return PipelineTestReport(file=str(path), outcomes=outcomes, redact=redact)


def _compile_for(path: str | Path, test: PipelineTest) -> PipelineSpec:
    """The pipeline compiled with ``test``'s env only; a reference it leaves unresolved says
    where to set it."""
    try:
        return compile_spec(path, environ=test.env)
    except SpecError as exc:
        if "environment variable" not in exc.message or "is not set" not in exc.message:
            raise
        raise SpecError(f"test `{test.name}`: {exc.message}", location=exc.location,
                        step=exc.step, hint="Set it in the test's `env:` (tests never read "
                        "the real environment), or give the reference a default: "
                        "`${env:NAME:-value}`.") from None


def run_one(spec: PipelineSpec, test: PipelineTest, index: int) -> TestOutcome:
    """Run one test of ``spec`` (compiled with the test's env) and compare its outputs."""
    outcome = TestOutcome(name=test.name)
    blockers = [b for b in run_blockers(spec, test.env) if "is not installed" not in b]
    if blockers:
        outcome.error = SpecError(
            f"test `{test.name}`: {blockers[0]}", location=spec.source_map.at(
                (TESTS_KEY, index, "env")),
            hint="Set it in the test's `env:` (the real environment is not used by tests).")
        return outcome
    outcome.notes += [f"{s.where()} is skipped: post-load steps (dbt) do not run in tests"
                      for s in spec.steps if s.runs_after_load]
    with tempfile.TemporaryDirectory(prefix="dteg-test-") as scratch:
        folder = Path(scratch)
        test_spec, rows_in = _stand_ins(spec, test, index, folder)
        outcome.rows_in = rows_in
        try:
            with _environment(test.env), _own_run_folder(spec) as run_id:
                _run(test_spec, run_id)
        except Exception as exc:  # a run's failure is the test's result
            error = find_error(exc)
            text = error.render() if error is not None else str(exc)
            if test.error is not None and test.error in text:
                return outcome
            outcome.exception = exc
            outcome.error = error or DtegError(f"the run failed: {_first_line(exc)}",
                                               hint="Run again with --debug for the "
                                               "traceback.")
            return outcome
        if test.error is not None:
            outcome.error = DtegError(
                f"the run succeeded, but the test expects it to fail with `{test.error}`",
                hint="Check the rows given, or remove `error:` from the test.")
        _check(spec, test, folder, outcome)
    return outcome


def _first_line(exc: BaseException) -> str:
    text = [line for line in str(exc).splitlines() if line.strip()]
    return text[-1].strip() if text else type(exc).__name__


def _stand_ins(spec: PipelineSpec, test: PipelineTest, index: int,
               folder: Path) -> tuple[PipelineSpec, int]:
    """``spec`` with every extract reading the test's rows and every load writing to
    ``folder``; the rows given in all."""
    import pyarrow as pa

    steps: list[StepSpec] = []
    rows_in = 0
    for step in spec.steps:
        if step.is_source:
            given = test.inputs.get(step.name)
            location = spec.source_map.at((TESTS_KEY, index, "inputs", step.name))
            table = (input_table(given, spec.base_dir, location, test.name) if given
                     else pa.table({}))
            rows_in += table.num_rows
            path = folder / "inputs" / f"{step.name}.arrow"
            write_ipc(table, path)
            settings: Any = MemorySourceConfig(
                path=str(path), label=f"tests[{index}].inputs.{step.name}")
            steps.append(_replaced(step, MEMORY_SOURCE.name, settings))
        elif step.is_sink:
            settings = MemorySinkConfig(folder=str(folder / "outputs" / step.name))
            steps.append(_replaced(step, MEMORY_SINK.name, settings))
        else:
            steps.append(step)
    return spec.model_copy(update={"steps": tuple(steps)}), rows_in


def _replaced(step: StepSpec, component: str, settings: Any) -> StepSpec:
    return step.model_copy(update={"component": component, "settings": settings,
                                   "capabilities": Capabilities()})


def stand_in_registry() -> Registry:
    """The installed components plus the two stand-ins."""
    return Registry((*default_registry().components, MEMORY_SOURCE, MEMORY_SINK))


def _run(spec: PipelineSpec, run_id: str) -> None:
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from dteg.beam.compiler import DtegPipeline

    # Beam logs each failing bundle with a traceback; the test reports the error itself.
    logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
    pipeline = beam.Pipeline(runner=FnApiRunner())
    _ = pipeline | DtegPipeline(spec, RunPlan(run_id=run_id), registry=stand_in_registry())
    pipeline.run().wait_until_finish()


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """The test's env in ``os.environ`` while it runs (stages read keys at run time)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _own_run_folder(spec: PipelineSpec) -> Iterator[str]:
    """A run id whose run folder (schemas, commit marks) is removed afterwards, with the
    ``.dteg`` folders it created: a test leaves nothing beside the pipeline file."""
    run_id = f"test-{new_run_id()}"
    created = [p for p in (spec.state_dir, spec.state_dir / "runs") if not p.exists()]
    try:
        yield run_id
    finally:
        shutil.rmtree(RunDir.of(spec.state_dir, run_id).path, ignore_errors=True)
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()


def _check(spec: PipelineSpec, test: PipelineTest, folder: Path, outcome: TestOutcome) -> None:
    outputs = folder / "outputs"
    for sink in spec.sinks():
        table = committed_rows(outputs / sink.name)
        outcome.loaded[sink.name] = table.num_rows if table is not None else 0
    dead_sink = spec.dead_letter_sink()
    dead = committed_rows(outputs / dead_sink.name) if dead_sink is not None else None
    dead_rows = [_readable_dead_letter(r) for r in dead.to_pylist()] if dead is not None else []
    outcome.dead_letters = len(dead_rows)
    for name, expectation in test.expect.items():
        table = committed_rows(outputs / name)
        got = table.to_pylist() if table is not None else []
        outcome.checks.append(StepCheck(f"load `{name}`", len(got), compare(expectation, got)))
    if test.dead_letter is not None:
        outcome.checks.append(StepCheck(
            "dead letters", len(dead_rows),
            compare(test.dead_letter, dead_rows, match=dead_letter_match,
                    changed_cells=False)))


def _readable_dead_letter(row: dict[str, Any]) -> dict[str, Any]:
    """A dead letter as a test compares it: its record as columns, not JSON text, and
    without ``pipeline`` and ``failed_at`` (the same for every row / different every run)."""
    out = {k: v for k, v in row.items() if k not in ("pipeline", "failed_at")}
    with contextlib.suppress(TypeError, ValueError):
        out["record"] = json.loads(row["record"])
    return out
