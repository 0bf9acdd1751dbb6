"""Badges, ratings and usage reports: the pure parts (thresholds, the report body that holds
no pipeline or step name) and a report that cannot reach its registry not disturbing a run."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from dteg.marketplace import usage_reports
from dteg.marketplace.lock import LockedComponent
from dteg.marketplace.server.badges import BadgeInputs, badges, thresholds
from dteg.marketplace.server.documents import badges_of, rating_out, required_gates_passed
from dteg.run.events import RunFinished, RunInfo
from dteg.run.report import RunReport, StepCounts
from dteg.spec.phases import compile_spec

PASSED = {g: "pass" for g in ("manifest", "semver", "docs", "coverage", "security",
                              "performance")}


def test_popular_needs_both_gates_and_a_manifest_cannot_lower_them() -> None:
    def earned(rating: float | None, downloads: int, optional: dict | None = None) -> list:
        return badges(BadgeInputs(rating, downloads, False, False, optional or {}))

    assert earned(4.0, 1000) == ["popular"]
    assert earned(3.99, 5000) == [] and earned(5.0, 999) == [] and earned(None, 10**6) == []
    assert thresholds({"community_rating": 1.0, "monthly_downloads": 1}) == (4.0, 1000)
    assert earned(4.5, 1500, {"community_rating": 4.8, "monthly_downloads": 1000}) == []
    assert earned(4.9, 2000, {"monthly_downloads": 2000}) == ["popular"]


def test_certified_needs_every_required_gate_and_a_verified_publisher() -> None:
    doc = {"gates": PASSED, "publisher_verified": True}
    assert badges_of(doc) == ["certified"]
    assert badges_of({**doc, "publisher_verified": False}) == []
    assert not required_gates_passed({**PASSED, "coverage": "fail"})
    assert badges_of({"gates": {**PASSED, "docs": "fail"}, "publisher_verified": True}) == []
    both = {**doc, "rating_sum": 9, "rating_count": 2, "downloads_month": 1000}
    assert badges_of(both) == ["popular", "certified"]
    assert rating_out(both) == {"average": 4.5, "count": 2}
    assert rating_out({}) == {"average": None, "count": 0}


PIPELINE = """
pipeline:
  name: secret_payroll_pipeline
  steps:
    - extract: {name: read_salaries, type: csv, config: {path: in.csv}}
    - load: {name: write_salaries, type: jsonl, config: {path: out.jsonl}}
"""


def _spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "in.csv").write_text("id\n1\n")
    (tmp_path / "p.yaml").write_text(PIPELINE)
    return compile_spec(tmp_path / "p.yaml", environ={})


def _lock(registry: str) -> dict[str, LockedComponent]:
    return {"csv": LockedComponent("csv", "1.4.0", "no-such-dist-xyz", registry,
                                   "csv-1.4.0-py3-none-any.whl", "ab" * 32, "k:1")}


def test_the_report_names_components_versions_outcome_and_rows_only(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    report = RunReport(pipeline=spec.name, run_id="r1", runner="direct", seconds=1.0,
                       dead_letter_target="dl", dead_lettered_stored=0, steps=[
        StepCounts("read_salaries", "extract", rows_out=7, dead_letter=1),
        StepCounts("write_salaries", "load", rows_in=7, loaded=7)])
    bodies = usage_reports.payloads(spec, "succeeded", report, _lock("http://r"), "i" * 32)
    assert bodies == {"http://r": {"install_id": "i" * 32, "reports": [
        {"component": "csv", "version": "1.4.0", "success": True, "rows": 8}]}}
    text = json.dumps(bodies)
    for private in ("secret_payroll_pipeline", "read_salaries", "write_salaries", "in.csv",
                    "r1", str(tmp_path)):
        assert private not in text
    failed = usage_reports.payloads(spec, "failed", None, _lock("http://r"), "i" * 32)
    assert failed["http://r"]["reports"][0] == {"component": "csv", "version": "1.4.0",
                                                "success": False, "rows": 0}


def test_off_by_default_env_and_saved_setting(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv(usage_reports.ENV, raising=False)
    assert not usage_reports.enabled()
    usage_reports.set_enabled(True)
    assert usage_reports.enabled()
    monkeypatch.setenv(usage_reports.ENV, "off")
    assert not usage_reports.enabled()
    first = usage_reports.install_id()
    assert first == usage_reports.install_id() and len(first) == 32


def test_an_unreachable_registry_never_fails_the_run(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connection refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv(usage_reports.ENV, "1")
    spec = _spec(tmp_path)
    lock = tmp_path / "dteg.lock"
    from dteg.marketplace.lock import write_lock

    write_lock(lock, _lock(f"http://127.0.0.1:{port}"))
    listener = usage_reports.UsageReports(lock)
    with caplog.at_level("DEBUG", logger="dteg.marketplace.usage_reports"):
        listener.on_event(RunFinished(RunInfo(spec, "r1", "direct"), "succeeded", None))
    assert [r.getMessage() for r in caplog.records] == [
        "usage report not sent: ConnectError: [Errno 111] Connection refused"]
