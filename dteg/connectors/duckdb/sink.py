"""Load into a DuckDB table: parts are staged as Parquet, then one transaction creates,
appends, replaces or merges, so a failed run leaves the table as it was."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dteg.components.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.connectors import schema_evolution
from dteg.connectors.duckdb.config import SinkConfig
from dteg.connectors.file_sink import conform
from dteg.connectors.schema_evolution import ColumnType
from dteg.errors import ConnectorError


def _q(name: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in name.split("."))


class _ParquetPart(PartWriter):
    def __init__(self, path: str, step: str) -> None:
        self.path = path
        self.step = step
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self.writer is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.schema = batch.schema
            self.writer = pq.ParquetWriter(self.path, batch.schema, compression="none")
        elif batch.schema != self.schema:
            batch = conform(batch, self.schema, step=self.step)
        if batch.num_rows:  # a zero-row batch only gives the staged file its schema
            self.writer.write_batch(batch)
            self.rows += batch.num_rows

    def close(self) -> PartResult | None:
        if self.writer is None:
            return None
        self.writer.close()
        return PartResult(self.path, self.rows, os.path.getsize(self.path))


class DuckDbWriter(BatchWriter):
    def __init__(self, config: SinkConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.database = ctx.resolve_path(config.database)
        self.staging = os.path.join(ctx.state_dir, "staging", ctx.run_id, ctx.step)

    def open_part(self, part_id: str) -> PartWriter:
        return _ParquetPart(os.path.join(self.staging, f"part-{part_id}.parquet"), self.ctx.step)

    def commit(self, parts: list[PartResult]) -> CommitResult:
        table = _q(self.config.table)
        rows = sum(p.rows for p in parts)
        try:
            os.makedirs(os.path.dirname(self.database) or ".", exist_ok=True)
            con = duckdb.connect(self.database)
        except duckdb.Error as exc:
            raise ConnectorError(
                f"cannot open the DuckDB database {self.database}: {str(exc).splitlines()[0]}",
                step=self.ctx.step, retriable=True,
                hint="Close other programs that hold it open (DuckDB allows one writer).",
            ) from None
        try:
            if not parts:  # not even a schema (no input at all): nothing to create
                return CommitResult(rows=0, target=f"{self.database}:{self.config.table}",
                                    detail="no rows")
            files = ", ".join("'" + p.location.replace("'", "''") + "'" for p in parts)
            staged = f"read_parquet([{files}], union_by_name = true)"
            con.execute("BEGIN TRANSACTION")
            try:
                self._load(con, table, staged, rows)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except duckdb.Error as exc:
            raise ConnectorError(
                f"loading into {self.config.table} failed, nothing was changed: "
                f"{str(exc).splitlines()[0]}", step=self.ctx.step,
                hint="Check that the data's columns and types fit the existing table, or use "
                "`mode: replace` to recreate it.",
            ) from None
        finally:
            con.close()
            self.abort(parts)
        return CommitResult(rows=rows, target=f"{self.database}:{self.config.table}",
                            detail=self.config.mode)

    def _load(self, con: Any, table: str, staged: str, rows: int) -> None:
        if "." in self.config.table:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(self.config.table.split('.')[0])}")
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND "
            "table_schema = coalesce(?, current_schema())",
            [self.config.table.split(".")[-1],
             self.config.table.split(".")[0] if "." in self.config.table else None],
        ).fetchall()[0][0]
        mode = self.config.mode
        keys = self.config.keys()
        staged_columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {staged}").fetchall()]
        missing = [k for k in keys if k not in staged_columns]
        if mode == "merge":
            missing += self.config.missing_merge_columns(staged_columns)
        if missing:
            raise ConnectorError(
                f"merge column(s) {missing} are not in the data (columns: {staged_columns})",
                step=self.ctx.step, hint="Fix `key:`, `order_by:` or `delete_column:` (names "
                "are case-sensitive).")
        if not rows and exists and mode != "replace":
            return  # nothing to add; the table (and its columns) stay as they are
        source = self._deduplicated(staged, keys) if mode == "merge" else staged
        deleted = self._deleted("s")
        if mode == "replace" or not exists:
            kept = f" AS s WHERE NOT ({deleted})" if mode == "merge" and deleted else ""
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {source}{kept}")
            return
        discarded = self._evolve(con, table, staged)
        columns = [c for c in staged_columns if c not in discarded]
        if mode == "append":
            cols = ", ".join(_q(c) for c in columns)
            con.execute(f"INSERT INTO {table} BY NAME SELECT {cols} FROM {staged}")
            return
        on = " AND ".join(f"t.{_q(k)} IS NOT DISTINCT FROM s.{_q(k)}" for k in keys)
        sets = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in columns if c not in keys)
        cols = ", ".join(_q(c) for c in columns)
        vals = ", ".join(f"s.{_q(c)}" for c in columns)
        matched = f"WHEN MATCHED THEN UPDATE SET {sets} " if sets else ""
        if deleted:
            # The last change of a key is a delete: the key goes (or never arrives).
            matched = f"WHEN MATCHED AND ({deleted}) THEN DELETE " + matched
        insert = f"WHEN NOT MATCHED AND NOT ({deleted})" if deleted else "WHEN NOT MATCHED"
        con.execute(
            f"MERGE INTO {table} AS t USING {source} AS s ON ({on}) {matched}"
            f"{insert} THEN INSERT ({cols}) VALUES ({vals})"
        )

    def _deleted(self, alias: str) -> str:
        """SQL true for a row that deletes its key ('' without `delete_column`)."""
        column = self.config.delete_column
        if not column:
            return ""
        value = self.config.delete_value.replace("'", "''")
        return f"coalesce({alias}.{_q(column)} = '{value}', false)"

    def _deduplicated(self, staged: str, keys: list[str]) -> str:
        """The staged rows with one row per key: the greatest ``order_by`` wins, then the
        last one written."""
        part_keys = ", ".join(_q(k) for k in keys)
        order = f"{_q(self.config.order_by)} DESC NULLS LAST, " if self.config.order_by else ""
        return (f"(SELECT * EXCLUDE (__dteg_ord) FROM (SELECT *, row_number() OVER () AS "
                f"__dteg_ord FROM {staged}) QUALIFY row_number() OVER (PARTITION BY "
                f"{part_keys} ORDER BY {order}__dteg_ord DESC) = 1)")

    def _evolve(self, con: Any, table: str, staged: str) -> list[str]:
        """Apply ``schema_evolution`` (inside the load's transaction); returns the data
        columns to leave out."""
        current = {r[0]: duckdb_type(r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()}
        data = {r[0]: duckdb_type(r[1])
                for r in con.execute(f"DESCRIBE SELECT * FROM {staged}").fetchall()}
        change = schema_evolution.plan(current, data, self.config.schema_evolution,
                                       table_name=self.config.table, step=self.ctx.step)
        for name, kind in change.add:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {_q(name)} {duckdb_ddl(kind)}")
        for name, _old, new in change.widen:
            con.execute(f"ALTER TABLE {table} ALTER {_q(name)} TYPE {duckdb_ddl(new)}")
        return change.discard

    def abort(self, parts: list[PartResult]) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        with contextlib.suppress(OSError):  # the run's folder, once no step uses it
            os.rmdir(os.path.dirname(self.staging))

    def describe(self) -> str:
        return f"{self.database}:{self.config.table}"


_DUCK_INTS = {"TINYINT": 8, "SMALLINT": 16, "INTEGER": 32, "BIGINT": 64, "UTINYINT": 16,
              "USMALLINT": 32, "UINTEGER": 64}
_DUCK_SIMPLE = {"BOOLEAN": "bool", "VARCHAR": "text", "BLOB": "binary", "DATE": "date",
                "TIME": "time", "TIMESTAMP WITH TIME ZONE": "timestamptz", "JSON": "json",
                "TIMESTAMP": "timestamp", "TIMESTAMP_S": "timestamp", "TIMESTAMP_MS": "timestamp",
                "TIMESTAMP_NS": "timestamp"}


def duckdb_type(name: str) -> ColumnType:
    """A ColumnType from DuckDB's type name (``DECIMAL(12,2)``, ``BIGINT``, ``VARCHAR``)."""
    upper = name.upper()
    if upper in _DUCK_INTS:
        return ColumnType("int", _DUCK_INTS[upper], name=name)
    if upper in ("FLOAT", "REAL", "DOUBLE"):
        return ColumnType("float", 64 if upper == "DOUBLE" else 32, name=name)
    if upper.startswith("DECIMAL("):
        precision, scale = upper[8:-1].split(",")
        return ColumnType("decimal", int(precision), int(scale), name)
    if upper in ("HUGEINT", "UBIGINT"):
        return ColumnType("decimal", 38 if upper == "HUGEINT" else 20, 0, name)
    return ColumnType(_DUCK_SIMPLE.get(upper, "other"), name=name)


def duckdb_ddl(column: ColumnType) -> str:
    if column.kind == "int":
        return {8: "TINYINT", 16: "SMALLINT", 24: "INTEGER", 32: "INTEGER"}.get(
            column.size or 64, "BIGINT")
    if column.kind == "float":
        return "FLOAT" if column.size == 32 else "DOUBLE"
    if column.kind == "decimal":
        return f"DECIMAL({column.size or 38},{column.scale or 0})"
    names = {"bool": "BOOLEAN", "text": "VARCHAR", "binary": "BLOB", "date": "DATE",
             "time": "TIME", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
             "json": "JSON"}
    return names.get(column.kind, column.name or "VARCHAR")


def create(config: SinkConfig, ctx: RunContext) -> DuckDbWriter:
    return DuckDbWriter(config, ctx)
