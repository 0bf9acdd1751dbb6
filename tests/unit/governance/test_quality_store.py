"""The quality history: rule results per column with severity from a run's quality report,
and the store's newest-runs query (since, limit, oldest first)."""

from __future__ import annotations

from pathlib import Path

from dteg.governance.quality_store import QualityRun, QualityStore, rule_results, severity_of

REPORT = {"steps": [{"step": "validate", "rows": 10, "invalid": 3, "rules": [
    {"rule": "null_check", "type": "null_check", "columns": ["email", "id"],
     "on_failure": "quarantine", "failed": 2},
    {"rule": "range", "type": "range_check", "columns": ["amount"], "on_failure": "fail",
     "failed": 1},
    {"rule": "row", "type": "sql", "columns": [], "on_failure": "drop", "failed": 0}]}]}


def test_one_result_per_rule_and_column_with_severity() -> None:
    found = [(r.rule, r.column, r.severity, r.passed, r.failed) for r in rule_results(REPORT)]
    assert found == [("null_check", "email", "warn", 8, 2), ("null_check", "id", "warn", 8, 2),
                     ("range", "amount", "fail", 9, 1), ("row", "", "warn", 10, 0)]
    assert severity_of({"on_failure": "quarantine", "severity": "fail"}) == "fail"
    assert rule_results(None) == []


def test_newest_runs_oldest_first_with_since_and_limit(tmp_path: Path) -> None:
    store = QualityStore(tmp_path / "q.sqlite")
    assert store.runs("p") == []
    store.record([QualityRun(f"r{i}", "p", f"2026-12-0{i}T00:00:00", "succeeded", 10, 8, 2,
                             rule_results(REPORT)) for i in range(1, 6)])
    store.record([QualityRun("other", "q", "2026-12-09T00:00:00", "failed", 0, 0, 0)])
    assert [r.run_id for r in store.runs("p", limit=3)] == ["r3", "r4", "r5"]
    assert [r.run_id for r in store.runs("p", since="2026-12-04")] == ["r4", "r5"]
    run = store.runs("p")[0]
    assert run.dead_letter_rate == 0.2 and len(run.rules) == 4
    store.record([QualityRun("r1", "p", "2026-12-01T00:00:00", "failed", 1, 0, 1)])
    assert store.runs("p")[0].rules == [] and store.pipelines() == ["p", "q"]
