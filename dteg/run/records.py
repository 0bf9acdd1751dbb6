"""Run records: one row per run. ``RunStore`` is the interface (the orchestrator's server
store implements it next); ``SqliteRunStore`` keeps them in ``.dteg/runs.sqlite`` next to the
pipeline. ``RunRecords`` is the run listener that writes them. ``dteg runs list|show`` reads
them; the API and UI will serve them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dteg.run.events import RunEvent, RunFailed, RunFinished, RunListener, RunStarted
from dteg.run.report import RunReport

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    yaml_sha256 TEXT NOT NULL,
    runner TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,            -- running | succeeded | failed
    rows_read INTEGER,
    rows_loaded INTEGER,
    rows_dead_lettered INTEGER,
    rows_filtered INTEGER,
    report TEXT,                     -- JSON: per-step counts, quality, dbt, schemas
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, started_at);
"""


def yaml_version(text: str) -> str:
    """The SHA-256 of the pipeline file (all 64 hex digits: the column is named after it, and
    a run is matched to its exact file by it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class RunRecord:
    run_id: str
    pipeline: str
    yaml_sha256: str
    runner: str
    started_at: str
    ended_at: str | None
    status: str
    rows_read: int | None
    rows_loaded: int | None
    rows_dead_lettered: int | None
    rows_filtered: int | None
    report: dict[str, Any] | None
    error: str | None


class RunStore(ABC):
    """Where run records are kept."""

    @staticmethod
    def for_folder(folder: Path) -> RunStore:
        """The default store of the pipelines in ``folder``: SQLite under ``.dteg/``."""
        return SqliteRunStore(folder / ".dteg" / "runs.sqlite")

    @abstractmethod
    def start(self, *, run_id: str, pipeline: str, yaml_text: str, runner: str) -> None: ...

    @abstractmethod
    def finish(self, run_id: str, *, status: str, counts: dict[str, int] | None = None,
               report: dict[str, Any] | None = None, error: str | None = None) -> None: ...

    @abstractmethod
    def list(self, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]: ...

    @abstractmethod
    def get(self, run_id: str) -> RunRecord | None: ...

    @abstractmethod
    def last_succeeded(self, pipeline: str, before: str) -> RunRecord | None:
        """The newest successful run of ``pipeline`` other than ``before``."""


class SqliteRunStore(RunStore):
    """The run records of the pipelines in one folder, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        con.executescript(_SCHEMA)
        return con

    def start(self, *, run_id: str, pipeline: str, yaml_text: str, runner: str) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT INTO runs (run_id, pipeline, yaml_sha256, runner, started_at, status) "
                "VALUES (?, ?, ?, ?, ?, 'running')",
                (run_id, pipeline, yaml_version(yaml_text), runner, _now()))

    def finish(self, run_id: str, *, status: str, counts: dict[str, int] | None = None,
               report: dict[str, Any] | None = None, error: str | None = None) -> None:
        counts = counts or {}
        with self._connect() as con:
            con.execute(
                "UPDATE runs SET ended_at = ?, status = ?, rows_read = ?, rows_loaded = ?, "
                "rows_dead_lettered = ?, rows_filtered = ?, report = ?, error = ? "
                "WHERE run_id = ?",
                (_now(), status, counts.get("read"), counts.get("loaded"),
                 counts.get("dead_lettered"), counts.get("filtered"),
                 json.dumps(report, default=str) if report is not None else None, error,
                 run_id))

    def list(self, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        if not self.path.exists():
            return []
        query = "SELECT * FROM runs"
        args: tuple[Any, ...] = ()
        if pipeline:
            query += " WHERE pipeline = ?"
            args = (pipeline,)
        query += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        with self._connect() as con:
            return [self._record(r) for r in con.execute(query, (*args, limit)).fetchall()]

    def get(self, run_id: str) -> RunRecord | None:
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return self._record(row) if row else None

    def last_succeeded(self, pipeline: str, before: str) -> RunRecord | None:
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute(
                "SELECT * FROM runs WHERE pipeline = ? AND status = 'succeeded' AND run_id != ? "
                "ORDER BY started_at DESC, rowid DESC LIMIT 1", (pipeline, before)).fetchone()
        return self._record(row) if row else None

    @staticmethod
    def _record(row: tuple[Any, ...]) -> RunRecord:
        fields = list(row)
        fields[11] = json.loads(fields[11]) if fields[11] else None
        return RunRecord(*fields)


class RunRecords(RunListener):
    """Writes each run's record: ``running`` at the start, then how it ended."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def on_event(self, event: RunEvent) -> None:
        if isinstance(event, RunStarted):
            run = event.run
            self.store.start(run_id=run.run_id, pipeline=run.pipeline,
                             yaml_text=run.spec.yaml_text, runner=run.runner)
        elif isinstance(event, RunFailed):
            # A run that failed after its loads committed (dbt) keeps its counts and report.
            self.store.finish(event.run.run_id, status="failed", error=event.message,
                              counts=_counts(event.report),
                              report=event.summary if event.report is not None else None)
        elif isinstance(event, RunFinished) and event.status != "failed" \
                and event.report is not None:
            self.store.finish(event.run.run_id, status=event.status, report=event.summary,
                              counts=_counts(event.report))


def _counts(report: RunReport | None) -> dict[str, int] | None:
    if report is None:
        return None
    return {"read": report.read, "loaded": report.loaded,
            "dead_lettered": report.dead_lettered, "filtered": report.filtered}


class ReportFile(RunListener):
    """``--report-json``: the run's JSON report, written however the run ended (a failed run
    has ``status: failed``, its error, and the counts if Beam got that far)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_event(self, event: RunEvent) -> None:
        if isinstance(event, RunFinished):
            self.path.write_text(json.dumps(event.summary, indent=2, default=str),
                                 encoding="utf-8")
