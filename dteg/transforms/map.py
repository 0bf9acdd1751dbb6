"""Add, replace, rename and drop columns with SQL expressions.

A row whose expression fails at run time (a bad cast, say) goes to the dead-letter output
with DuckDB's message; an expression that cannot work at all (unknown column) fails the run.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchTransform, RunContext, StageResult, as_batch
from dteg.components.records import (
    PROVENANCE_COLUMNS,
    dead_letters,
    row_json,
    sources_of,
    without_provenance,
)
from dteg.transforms.map_config import MapConfig
from dteg.transforms.sql import BatchSql, quote


class Map(BatchTransform):
    def __init__(self, config: MapConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.engine = BatchSql(ctx.step)
        self._sql_for: dict[tuple[str, ...], str] = {}

    def _sql(self, names: list[str]) -> str:
        key = tuple(names)
        if key not in self._sql_for:
            parts = []
            for name in names:
                if name in self.config.drop:
                    continue
                expr = self.config.columns.get(name, quote(name))
                parts.append(f"{expr} AS {quote(self.config.rename.get(name, name))}")
            for name, expr in self.config.columns.items():
                if name not in names:
                    parts.append(f"{expr} AS {quote(self.config.rename.get(name, name))}")
            self._sql_for[key] = f"SELECT {', '.join(parts)} FROM batch"
        return self._sql_for[key]

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        import duckdb

        sql = self._sql(without_provenance(batch).schema.names)
        try:
            table = self.engine.query(batch, sql)
        except duckdb.Error:
            return self._row_by_row(batch, sql)
        table = _keep_provenance(table, batch)
        return StageResult(kept=as_batch(table))

    def _row_by_row(self, batch: pa.RecordBatch, sql: str) -> StageResult:
        """Slow path: find the rows whose expressions fail, dead-letter them."""
        import duckdb

        good: list[pa.Table] = []
        bad_rows: list[dict[str, Any]] = []
        reasons: list[str] = []
        bad_at: list[int] = []
        for i in range(batch.num_rows):
            row = batch.slice(i, 1)
            try:
                good.append(_keep_provenance(self.engine.query(row, sql), row))
            except duckdb.Error as exc:
                bad_at.append(i)
                bad_rows.extend(row.to_pylist())
                reasons.append(f"expression failed: {str(exc).splitlines()[0]}")
        if not good:  # every row failed: the output's columns still travel on
            with contextlib.suppress(duckdb.Error):
                good.append(self.engine.query(batch.slice(0, 0), sql))
        kept = as_batch(pa.concat_tables(good)) if good else None
        rejected = dead_letters(
            pipeline=self.ctx.pipeline, step=self.ctx.step, reasons=reasons,
            records=[row_json(r, self.ctx.mask_row) for r in bad_rows],
            sources=sources_of(batch, bad_at),
        ) if bad_rows else None
        return StageResult(kept=kept, rejected=rejected)


def _keep_provenance(out: pa.Table, batch: pa.RecordBatch) -> pa.Table:
    """A map computes row for row: its output rows keep the input rows' provenance."""
    if out.num_rows != batch.num_rows or PROVENANCE_COLUMNS[0] not in batch.schema.names:
        return out
    for name in PROVENANCE_COLUMNS:
        out = out.append_column(name, pa.chunked_array([batch.column(name)]))
    return out


def create(config: MapConfig, ctx: RunContext) -> Map:
    return Map(config, ctx)
