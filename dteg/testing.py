"""The connector test kit, for authors of sources, sinks and stages (see
``dteg.components.testkit``), and a pipeline file's own ``tests:`` from pytest::

    from dteg.testing import assert_pipeline_tests_pass

    def test_my_pipeline():
        assert_pipeline_tests_pass("pipelines/orders.yaml")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dteg.components.testkit import build, check_sink, check_source, check_stage, context

if TYPE_CHECKING:
    from dteg.run.pipeline_tests.runner import PipelineTestReport

__all__ = ["assert_pipeline_tests_pass", "build", "check_sink", "check_source", "check_stage",
           "context", "run_pipeline_tests"]


def run_pipeline_tests(path: str | Path, names: Sequence[str] = ()) -> PipelineTestReport:
    """Run the ``tests:`` block of the pipeline file at ``path`` offline (the stages for
    real, sources and sinks by stand-ins) and return the report; ``names`` picks tests. A bad
    test spec raises ``dteg.SpecError``."""
    from dteg.run.pipeline_tests.runner import run_pipeline_tests as _run

    return _run(path, names)


def assert_pipeline_tests_pass(path: str | Path, names: Sequence[str] = ()) -> None:
    """Fail (``AssertionError`` with the readable diff) unless every test passes."""
    report = run_pipeline_tests(path, names)
    if not report.passed:
        raise AssertionError(report.render())
