"""What ``dteg test NAME`` does when NAME is a component folder, not a pipeline file: the
connector test kit on it, its own tests with coverage, and the performance test. The ``test``
command itself (``dteg test``) dispatches here."""

from __future__ import annotations

from dteg.cli.context import say as _say


def test_component(target: str) -> int:
    """Test the component folder ``target``; print the report and return the exit code
    (0 when every step passed, 1 otherwise)."""
    from dteg.marketplace.component_test import run_component_tests

    report = run_component_tests(target)
    _say(report.render())
    return 0 if report.passed else 1


# pytest collects `test_*` functions from the modules tests import: this one is a command.
test_component.__test__ = False  # type: ignore[attr-defined]
