"""Add, replace, rename and drop columns with SQL expressions.

A row whose expression fails at run time (a bad cast, say) goes to the dead-letter output
with DuckDB's message; an expression that cannot work at all (unknown column) fails the run.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dteg.components.contracts import BatchTransform, RunContext, StageResult, as_batch
from dteg.components.records import dead_letters, row_json
from dteg.transforms.sql import BatchSql, quote


class MapConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(
        default_factory=dict,
        description="column → SQL expression; an existing column is replaced in place, a new "
        "one is added at the end",
    )
    rename: dict[str, str] = Field(default_factory=dict, description="old name → new name")
    drop: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> MapConfig:
        if not (self.columns or self.rename or self.drop):
            raise ValueError("give at least one of `columns:`, `rename:` or `drop:`")
        return self


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

        sql = self._sql(batch.schema.names)
        try:
            table = self.engine.query(batch, sql)
        except duckdb.Error:
            return self._row_by_row(batch, sql)
        return StageResult(kept=as_batch(table))

    def _row_by_row(self, batch: pa.RecordBatch, sql: str) -> StageResult:
        """Slow path: find the rows whose expressions fail, dead-letter them."""
        import duckdb

        good: list[pa.Table] = []
        bad_rows: list[dict[str, Any]] = []
        reasons: list[str] = []
        for i in range(batch.num_rows):
            row = batch.slice(i, 1)
            try:
                good.append(self.engine.query(row, sql))
            except duckdb.Error as exc:
                bad_rows.extend(row.to_pylist())
                reasons.append(f"expression failed: {str(exc).splitlines()[0]}")
        if not good:  # every row failed: the output's columns still travel on
            with contextlib.suppress(duckdb.Error):
                good.append(self.engine.query(batch.slice(0, 0), sql))
        kept = as_batch(pa.concat_tables(good)) if good else None
        rejected = dead_letters(
            pipeline=self.ctx.pipeline, step=self.ctx.step, reasons=reasons,
            records=[row_json(r, self.ctx.mask_row) for r in bad_rows],
        ) if bad_rows else None
        return StageResult(kept=kept, rejected=rejected)


def create(config: MapConfig, ctx: RunContext) -> Map:
    return Map(config, ctx)
