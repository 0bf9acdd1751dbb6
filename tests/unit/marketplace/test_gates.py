"""The publish gates, each on real inputs: a generated component folder, bandit run on real
code, OSV advisories as the registry serves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dteg.marketplace import gates
from dteg.marketplace.component_test import ComponentReport, StepOutcome, find_component
from dteg.marketplace.create import create_component

ADVISORY = {"id": "PYSEC-2026-1", "summary": "remote code execution",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "Left-Pad"},
                          "ranges": [{"type": "ECOSYSTEM",
                                      "events": [{"introduced": "1.0"}, {"fixed": "1.3.1"}]}],
                          "versions": ["1.0", "1.3.0"]}]}


@pytest.fixture
def component(tmp_path: Path) -> Path:
    return create_component("connector", "my-connector", parent=tmp_path)


def _tested(coverage: float, rate: float, *, tests_pass: bool = True) -> ComponentReport:
    return ComponentReport("my-connector", "0.1.0", [
        StepOutcome("kit", True, "ok"),
        StepOutcome("performance", rate >= 10_000, f"{rate} rows/s", value=rate,
                    threshold=10_000),
        StepOutcome("tests", tests_pass, "4 passed" if tests_pass else "1 failed",
                    value=coverage)])


def test_a_generated_component_passes_every_gate(component: Path) -> None:
    report = gates.run_gates(find_component(component), _tested(91.0, 50_000),
                             last_published=None, advisories=[ADVISORY])
    assert report.passed, report.render()
    assert [g.name for g in report.gates] == list(gates.GATE_NAMES)
    shape = report.to_dict()
    assert shape["passed"] is True and shape["gates"]["coverage"]["value"] == 91.0
    assert shape["gates"]["performance"]["threshold"] == 10_000


def test_coverage_below_80_fails_with_the_figure(component: Path) -> None:
    report = gates.run_gates(find_component(component), _tested(60.0, 50_000),
                             last_published=None, advisories=[])
    assert [g.name for g in report.failed] == ["coverage"]
    assert "60.0 %" in report.failed[0].detail and "80 %" in report.failed[0].detail


def test_failing_tests_fail_coverage_and_slow_fails_performance(component: Path) -> None:
    report = gates.run_gates(find_component(component), _tested(95.0, 10, tests_pass=False),
                             last_published=None, advisories=[])
    assert [g.name for g in report.failed] == ["coverage", "performance"]


@pytest.mark.parametrize(("version", "last", "ok"), [
    ("0.1.0", None, True), ("0.1.0", "0.0.9", True), ("0.1.0", "0.1.0", False),
    ("0.1.0", "0.10.0", False), ("1.0.0", "1.0.0-rc.1", True)])
def test_semver(version: str, last: str | None, ok: bool) -> None:
    gate = gates.semver_gate(version, last)
    assert gate.passed is ok, gate.detail


def test_docs_need_four_non_empty_sections(component: Path) -> None:
    (component / "docs" / "examples.md").write_text("# Examples\n\n")
    (component / "docs" / "troubleshooting.md").unlink()
    gate = gates.docs_gate(find_component(component))
    assert not gate.passed
    assert "examples (docs/examples.md is empty)" in gate.detail
    assert "troubleshooting (docs/troubleshooting.md is missing)" in gate.detail


def test_manifest_must_match_the_package(component: Path) -> None:
    pyproject = component / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "0.2.0"')
                         .replace("my-connector = ", "other = "))
    gate = gates.manifest_gate(find_component(component))
    assert not gate.passed
    assert "manifest version 0.1.0 is not pyproject's 0.2.0" in gate.detail
    assert "no `dteg.sources` entry point named `my-connector`" in gate.detail


def test_bandit_high_severity_fails_security(component: Path) -> None:
    bad = component / "src" / "dteg_my_connector" / "shell.py"
    bad.write_text("import subprocess\n\n\ndef run(cmd: str) -> None:\n"
                   "    subprocess.call(cmd, shell=True)\n")
    gate = gates.security_gate(find_component(component), [], [])
    assert not gate.passed
    assert "B602" in gate.detail and "shell.py:5" in gate.detail


def test_vulnerable_dependencies_from_osv() -> None:
    found = gates.vulnerable_dependencies(
        ["left-pad>=1.2", "left_pad>=1.3.1", "pyarrow>=17", "left-pad==1.3.0"], [ADVISORY])
    assert len(found) == 2
    assert found[0].startswith("`left-pad>=1.2` admits left-pad 1.2") and "PYSEC-2026-1" in found[0]
    assert found[1].startswith("`left-pad==1.3.0`")
    open_ended = {**ADVISORY, "affected": [{"package": {"name": "left-pad"}, "ranges": [
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}
    assert gates.vulnerable_dependencies(["left-pad"], [open_ended])
    assert gates.vulnerable_dependencies(["not a requirement!"], []) == [
        "`not a requirement!` is not a valid requirement"]
