"""Quality results over time, kept in SQLite next to the pipelines (``.dteg/quality.sqlite``):
per run its row counts (in, loaded, dead-lettered, the dead-letter rate) and per validation
rule and column its severity and passed/failed counts. Written by the ``QualityHistory`` run
listener after every run that Beam counted (failed ones too: a failing ``fail`` rule is what
the dashboard must show); read by ``/api/v1/quality/…``.

Indexed for the dashboard's questions: a pipeline's newest runs (``runs_by_time``), the
rules of a set of runs (``rules_by_run``), and the newest run of every pipeline."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dteg.governance.folder_db import folder_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quality_runs (
    run_id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    finished TEXT NOT NULL,
    status TEXT NOT NULL,
    rows_in INTEGER NOT NULL,
    loaded INTEGER NOT NULL,
    dead_lettered INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_time ON quality_runs (pipeline, finished);
CREATE TABLE IF NOT EXISTS rule_results (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    rule TEXT NOT NULL,
    column_name TEXT NOT NULL,
    severity TEXT NOT NULL,                 -- warn | fail
    passed INTEGER NOT NULL,
    failed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rules_by_run ON rule_results (run_id);
"""


@dataclass(slots=True)
class RuleResult:
    step: str
    rule: str
    column: str
    severity: str  # warn | fail
    passed: int
    failed: int


@dataclass
class QualityRun:
    run_id: str
    pipeline: str
    finished: str
    status: str
    rows_in: int
    loaded: int
    dead_lettered: int
    rules: list[RuleResult] = field(default_factory=list)

    @property
    def dead_letter_rate(self) -> float:
        return self.dead_lettered / self.rows_in if self.rows_in else 0.0


def severity_of(rule: dict[str, Any]) -> str:
    """``fail`` when a failing rule fails the run (its ``severity``, else ``on_failure:
    fail``), ``warn`` when it only flags or quarantines rows."""
    found = rule.get("severity")
    if found in ("warn", "fail"):
        return str(found)
    return "fail" if rule.get("on_failure") == "fail" else "warn"


def rule_results(quality: dict[str, Any] | None) -> list[RuleResult]:
    """One result per rule and column from a run's quality report (``QualityReport``'s JSON
    form); a rule over no column (a row-level check) has column ``""``."""
    found = []
    for step in (quality or {}).get("steps") or []:
        rows = int(step.get("rows") or 0)
        for rule in step.get("rules") or []:
            failed = int(rule.get("failed") or 0)
            for column in rule.get("columns") or [""]:
                found.append(RuleResult(str(step.get("step")), str(rule.get("rule")),
                                        str(column), severity_of(rule),
                                        max(rows - failed, 0), failed))
    return found


class QualityStore:
    """The quality history of the pipelines in one folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def for_folder(folder: Path) -> QualityStore:
        return QualityStore(folder / ".dteg" / "quality.sqlite")

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return folder_db(self.path, _SCHEMA)

    def record(self, runs: list[QualityRun]) -> None:
        """Add runs (one transaction); a run recorded again replaces its rows."""
        with self._db() as db:
            for run in runs:
                db.execute("DELETE FROM rule_results WHERE run_id = ?", (run.run_id,))
                db.execute("INSERT OR REPLACE INTO quality_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (run.run_id, run.pipeline, run.finished, run.status, run.rows_in,
                            run.loaded, run.dead_lettered))
                db.executemany("INSERT INTO rule_results VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [(run.run_id, r.step, r.rule, r.column, r.severity, r.passed,
                                 r.failed) for r in run.rules])

    def runs(self, pipeline: str, *, since: str | None = None, limit: int = 100
             ) -> list[QualityRun]:
        """A pipeline's newest ``limit`` runs (finished at or after ``since``), oldest
        first, each with its rule results."""
        if not self.path.exists():
            return []
        newest = ("SELECT run_id FROM quality_runs WHERE pipeline = ? AND finished >= ? "
                  "ORDER BY finished DESC, rowid DESC LIMIT ?")
        params = (pipeline, since or "", limit)
        with self._db() as db:
            db.row_factory = None  # tuples: a dashboard read is thousands of rows
            rows = db.execute(
                "SELECT run_id, pipeline, finished, status, rows_in, loaded, dead_lettered "
                f"FROM quality_runs WHERE run_id IN ({newest}) "
                "ORDER BY finished, rowid", params).fetchall()
            found = {r[0]: QualityRun(*r) for r in rows}
            for run_id, *rest in db.execute(
                    "SELECT run_id, step, rule, column_name, severity, passed, failed FROM "
                    f"rule_results WHERE run_id IN ({newest}) ORDER BY rowid", params):
                found[run_id].rules.append(RuleResult(*rest))
        return list(found.values())

    def runs_encoded(self, pipeline: str, *, since: str | None = None, limit: int = 100
                     ) -> list[tuple[str, str, str, int, int, int, str]]:
        """Like ``runs``, for answers of thousands of rule results: per run (run id,
        finished, status, rows in, loaded, dead-lettered, its rules as a JSON array text of
        {step, rule, column, severity, failed, passed}), encoded by SQLite itself."""
        if not self.path.exists():
            return []
        newest = ("SELECT run_id FROM quality_runs WHERE pipeline = ? AND finished >= ? "
                  "ORDER BY finished DESC, rowid DESC LIMIT ?")
        with self._db() as db:
            db.row_factory = None
            return db.execute(
                "SELECT q.run_id, q.finished, q.status, q.rows_in, q.loaded, q.dead_lettered, "
                "(SELECT json_group_array(json_object('step', step, 'rule', rule, 'column', "
                "column_name, 'severity', severity, 'failed', failed, 'passed', passed)) "
                "FROM rule_results r WHERE r.run_id = q.run_id) "
                f"FROM quality_runs q WHERE q.run_id IN ({newest}) ORDER BY q.finished, "
                "q.rowid", (pipeline, since or "", limit)).fetchall()

    def pipelines(self) -> list[str]:
        if not self.path.exists():
            return []
        with self._db() as db:
            return [r[0] for r in db.execute(
                "SELECT DISTINCT pipeline FROM quality_runs ORDER BY pipeline")]


def quality_run(pipeline: str, run_id: str, status: str, report: Any, finished: str
                ) -> QualityRun:
    """A run's quality row from its report (``RunReport``)."""
    return QualityRun(run_id, pipeline, finished, status, int(report.read),
                      int(report.loaded), int(report.dead_lettered),
                      rule_results(report.quality))
