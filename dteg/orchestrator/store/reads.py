"""The store's read-only queries for the API and the UI: pages of runs (keyset, newest
first), the newest runs of every pipeline, runs per status over a window, quality and schema
history. They read in a deferred transaction (SQLite: no write lock), so a busy API never
holds up the scheduler."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, and_, literal, or_, select, tuple_

from dteg.orchestrator.store.records import RunRow
from dteg.orchestrator.store.schema import quality_results, runs

READ_OPTION = "dteg_read_only"
# What the lists of runs read: every column but the summary (a run's JSON report, ~4 KB:
# reading and decoding 50 of them was most of a page's time, and no list shows them).
LISTED = [column for column in runs.c if column.name != "summary"]
RUN_FIELDS = tuple(RunRow.__dataclass_fields__)
LISTED_FIELDS = tuple(key for key in RUN_FIELDS if key != "summary")


def as_run(row: RowMapping, fields: Sequence[str] = RUN_FIELDS) -> RunRow:
    return RunRow(**{key: row[key] for key in fields})


@dataclass(frozen=True)
class PipelineScope:
    """Pipelines by name: any of ``names``, or matching any of ``patterns`` (fnmatch ``*``
    and ``?``), but none of ``excluded``. Checked in SQL, so a page of a scoped caller walks
    the same index as everyone's."""

    names: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()
    excluded: frozenset[str] = frozenset()

    def condition(self) -> Any:
        column = runs.c.pipeline
        anyof = [column.like(_like(p), escape="\\") for p in self.patterns]
        if self.names:
            anyof.append(column.in_(sorted(self.names)))
        clause = or_(*anyof) if anyof else literal(False)
        if self.excluded:
            clause = and_(clause, column.not_in(sorted(self.excluded)))
        return clause


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


@dataclass(frozen=True)
class RunFilter:
    pipeline: str | None = None
    statuses: Sequence[str] = ()
    kind: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    # Only runs of the pipelines in this scope (None: of every pipeline) — what a caller
    # may see.
    scope: PipelineScope | None = None


@dataclass(frozen=True)
class QualityPoint:
    run_id: str
    at: datetime
    passed: bool
    result: dict[str, Any]


@dataclass(frozen=True)
class SummaryPoint:
    run_id: str
    pipeline: str
    at: datetime
    summary: dict[str, Any]


class StoreReads:
    """Mixed into ``Store``: queries that only read."""

    engine: Engine

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        connection = self.engine.connect().execution_options(**{READ_OPTION: True})
        with connection, connection.begin():
            yield connection

    def runs_page(self, where: RunFilter, limit: int,
                  before: tuple[datetime, str] | None = None) -> list[RunRow]:
        """Up to ``limit`` runs matching ``where``, newest first, strictly after the
        (created_at, id) ``before`` in that order (a cursor: pages never shift when runs are
        added). Without their summaries (``summary`` is None)."""
        # One query per status, merged: each walks ix_dteg_runs_status_created_at_id from the
        # cursor; `status IN (…)` made SQLite sort every run of those statuses first.
        statuses: list[str | None] = [*dict.fromkeys(where.statuses)] or [None]
        with self._read() as tx:
            found = [as_run(r, LISTED_FIELDS) for status in statuses for r in tx.execute(
                self._page_query(where, status, limit, before)).mappings().all()]
        if len(statuses) > 1:
            found.sort(key=lambda run: (run.created_at, run.id), reverse=True)
        return found[:limit]

    @staticmethod
    def _page_query(where: RunFilter, status: str | None, limit: int,
                    before: tuple[datetime, str] | None) -> Any:
        query = select(*LISTED).order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)
        if where.pipeline:
            query = query.where(runs.c.pipeline == where.pipeline)
        if where.scope is not None:
            query = query.where(where.scope.condition())
        if status is not None:
            query = query.where(runs.c.status == status)
        if where.kind:
            query = query.where(runs.c.kind == where.kind)
        if where.since:
            query = query.where(runs.c.created_at >= where.since)
        if where.until:
            query = query.where(runs.c.created_at < where.until)
        if before is not None:
            at, run_id = before
            # A row value, not `a < x OR (a = x AND b < y)`: the index is searched from the
            # cursor on instead of scanned from the newest run (SQLite, PostgreSQL).
            query = query.where(tuple_(runs.c.created_at, runs.c.id) < tuple_(
                literal(at, runs.c.created_at.type), literal(run_id, runs.c.id.type)))
        return query

    def newest_runs(self, pipelines: Sequence[str], per_pipeline: int
                    ) -> dict[str, list[RunRow]]:
        """The ``per_pipeline`` newest runs of each pipeline, newest first (one indexed
        query per pipeline: a window over every run would read them all), without their
        summaries."""
        found: dict[str, list[RunRow]] = {}
        with self._read() as tx:
            for name in pipelines:
                rows = tx.execute(select(*LISTED).where(runs.c.pipeline == name).order_by(
                    runs.c.created_at.desc(), runs.c.id.desc()).limit(per_pipeline))
                found[name] = [as_run(r, LISTED_FIELDS) for r in rows.mappings().all()]
        return found

    def run_statuses_since(self, since: datetime, scope: PipelineScope | None = None
                           ) -> list[tuple[datetime, str]]:
        """(created_at, status) of every run created since ``since`` (in ``scope``)."""
        query = select(runs.c.created_at, runs.c.status).where(runs.c.created_at >= since)
        if scope is not None:
            query = query.where(scope.condition())
        with self._read() as tx:
            return [(row[0], str(row[1])) for row in tx.execute(query).all()]

    def quality_history(self, pipeline: str, limit: int) -> list[QualityPoint]:
        """The newest ``limit`` quality results of a pipeline's runs, oldest first."""
        query = (select(quality_results.c.run_id, runs.c.created_at, quality_results.c.passed,
                        quality_results.c.result)
                 .join(runs, runs.c.id == quality_results.c.run_id)
                 .where(runs.c.pipeline == pipeline)
                 .order_by(runs.c.created_at.desc(), quality_results.c.attempt.desc())
                 .limit(limit))
        with self._read() as tx:
            rows = tx.execute(query).all()
        return [QualityPoint(r[0], r[1], bool(r[2]), r[3] or {}) for r in reversed(rows)]

    def succeeded_summaries(self, pipelines: Sequence[str], per_pipeline: int
                            ) -> list[SummaryPoint]:
        """The summaries of the newest ``per_pipeline`` succeeded runs of each pipeline,
        oldest first (schemas and targets for lineage)."""
        found: list[SummaryPoint] = []
        with self._read() as tx:
            for name in pipelines:
                rows = tx.execute(select(runs.c.id, runs.c.created_at, runs.c.summary).where(
                    runs.c.pipeline == name, runs.c.status == "succeeded",
                    runs.c.summary.is_not(None)).order_by(runs.c.created_at.desc())
                    .limit(per_pipeline)).all()
                found.extend(SummaryPoint(r[0], name, r[1], r[2] or {}) for r in rows)
        return sorted(found, key=lambda point: point.at)
