"""Load Arrow batches into a SQL table: each bundle's batches go into a staging table of its
own (bulk load, one transaction per batch), then ``commit`` moves the staged rows into the
target in one transaction (append, replace or merge), after schema evolution.

Idempotent on retry: a retried bundle writes a new staging table, and ``commit`` reads only
the staging tables of the parts Beam reports as finished, so a failed attempt's rows are never
loaded. Staging tables are named ``_dteg_stage_<step hash>_<run hash>_<part>``; the commit
drops them, and also those that a killed earlier run of the same step left behind.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.connectors import schema_evolution
from dteg.connectors.schema_evolution import ColumnType, arrow_column_type
from dteg.connectors.sql.config import SqlSinkConfig
from dteg.connectors.sql.dialect import Dialect
from dteg.errors import ConnectorError

ROW_COLUMN = "_dteg_row"
PART_COLUMN = "_dteg_part"


def sql_ready(batch: pa.RecordBatch, step: str) -> pa.RecordBatch:
    """Arrow types a SQL table can hold: dictionaries decoded, large types narrowed,
    timestamps and times in microseconds. Anything else (lists, structs) is refused."""
    arrays, fields = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        dtype = field.type
        target = dtype
        if pa.types.is_dictionary(dtype):
            column = column.dictionary_decode()
            dtype = target = column.type
        if pa.types.is_large_string(dtype):
            target = pa.string()
        elif pa.types.is_large_binary(dtype) or pa.types.is_fixed_size_binary(dtype):
            target = pa.binary()
        elif pa.types.is_timestamp(dtype) and dtype.unit != "us":
            target = pa.timestamp("us", dtype.tz)
        elif pa.types.is_time(dtype) and dtype != pa.time64("us"):
            target = pa.time64("us")
        elif pa.types.is_date64(dtype):
            target = pa.date32()
        elif pa.types.is_float16(dtype):
            target = pa.float32()
        elif arrow_column_type(dtype).kind == "other" or pa.types.is_null(dtype):
            if pa.types.is_null(dtype):
                target = pa.string()
            else:
                raise ConnectorError(
                    f"column `{field.name}` has type {dtype}, which a SQL table cannot hold",
                    step=step, hint="Convert or drop it with a `map` step.")
        if target != dtype:
            try:
                column = column.cast(target)
            except pa.ArrowInvalid as exc:
                raise ConnectorError(f"column `{field.name}`: {exc}", step=step) from None
        arrays.append(column)
        fields.append(pa.field(field.name, target))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


class _StagePart(PartWriter):
    def __init__(self, writer: SqlWriter, table: str) -> None:
        self.writer = writer
        self.table = table
        self.con: Any = None
        self.schema: pa.Schema | None = None
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        writer = self.writer
        batch = writer.prepare(sql_ready(batch, writer.ctx.step))
        if self.con is None:
            self.schema = batch.schema
            self.con = writer.dialect.connect()
            writer.run(self.con, writer.dialect.create_staging_sql(
                self.table, [(f.name, arrow_column_type(f.type)) for f in batch.schema]),
                "creating a staging table")
            self.con.commit()
        elif batch.schema != self.schema:
            batch = self._conform(batch)
        if not batch.num_rows:
            return  # the staging table now has the schema; that is all a zero-row batch says
        writer.check_keys(batch)
        rows = pa.array(range(self.rows, self.rows + batch.num_rows), pa.int64())
        staged = batch.append_column(ROW_COLUMN, rows)
        try:
            writer.dialect.ingest(self.con, self.table, staged)
            self.con.commit()  # one transaction per batch
        except ConnectorError:
            raise
        except Exception as exc:
            raise writer.dialect.error(exc, f"staging rows in {self.table}") from None
        self.rows += batch.num_rows

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        assert self.schema is not None
        if set(batch.schema.names) != set(self.schema.names):
            raise ConnectorError(
                "rows with different columns reached one load "
                f"({self.schema.names} and {batch.schema.names})", step=self.writer.ctx.step,
                hint="Give every input the same columns (a `map` step can add or drop them).")
        return batch.select(self.schema.names).cast(self.schema)

    def close(self) -> PartResult | None:
        if self.con is None:
            return None
        self.con.close()
        return PartResult(self.table, self.rows, extra={"schema": self.schema})


class SqlWriter(BatchWriter):
    def __init__(self, config: SqlSinkConfig, ctx: RunContext, dialect: Dialect) -> None:
        self.config = config
        self.ctx = ctx
        self.dialect = dialect
        self.keys = config.keys()
        schema = config.table.rpartition(".")[0]
        self.schema_name = schema or None
        step_hash = hashlib.sha1(f"{ctx.pipeline}/{ctx.step}/{config.table}".encode())
        self.prefix = f"_dteg_stage_{step_hash.hexdigest()[:8]}_"
        self.run_prefix = self.prefix + hashlib.sha1(ctx.run_id.encode()).hexdigest()[:6] + "_"

    # --- hooks for dialects ------------------------------------------------------------------

    def prepare(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return self.dialect.prepare_batch(batch)

    def check_keys(self, batch: pa.RecordBatch) -> None:
        for key in self.keys:
            if key not in batch.schema.names:
                raise ConnectorError(
                    f"merge key column `{key}` is not in the data (columns: "
                    f"{', '.join(batch.schema.names)})", step=self.ctx.step,
                    hint="Fix `key:` (names are case-sensitive).")
            nulls = batch.column(key).null_count
            if nulls:
                raise ConnectorError(
                    f"{nulls} row(s) have no value in merge key column `{key}`",
                    step=self.ctx.step, hint="Add a `validate` rule (null_check) on the key so "
                    "such rows are dead-lettered instead.")

    def staged_name(self, name: str) -> str:
        return f"{self.schema_name}.{name}" if self.schema_name else name

    def run(self, con: Any, sql: str | list[str], doing: str) -> None:
        for statement in [sql] if isinstance(sql, str) else sql:
            try:
                self.dialect.execute(con, statement)
            except ConnectorError:
                raise
            except Exception as exc:
                raise self.dialect.error(exc, doing) from None

    # --- the contract ------------------------------------------------------------------------

    def open_part(self, part_id: str) -> PartWriter:
        return _StagePart(self, self.staged_name(self.run_prefix + part_id))

    def commit(self, parts: list[PartResult]) -> CommitResult:
        target = f"{self.dialect.endpoint.describe()}:{self.config.table}"
        rows = sum(p.rows for p in parts)
        if not parts:  # not even a schema (no input at all): nothing to create
            return CommitResult(rows=0, target=target, detail="no rows")
        con = self.dialect.connect()
        try:
            detail = self._commit(con, parts)
        except BaseException:
            try:
                con.rollback()
            finally:
                con.close()
            raise
        con.close()
        return CommitResult(rows=rows, target=target, detail=detail)

    def _data_columns(self, parts: list[PartResult]) -> dict[str, ColumnType]:
        columns: dict[str, ColumnType] = {}
        for part in parts:
            for field in part.extra["schema"]:
                kind = arrow_column_type(field.type)
                seen = columns.get(field.name)
                if seen is None:
                    columns[field.name] = kind
                elif not schema_evolution.fits(kind, seen):
                    columns[field.name] = schema_evolution.widened(kind, seen) or kind
        return columns

    def _commit(self, con: Any, parts: list[PartResult]) -> str:
        d = self.dialect
        table = self.config.table
        data = self._data_columns(parts)
        exists = d.table_exists(con, table)
        notes: list[str] = []
        if exists and self.config.mode != "replace" and not any(p.rows for p in parts):
            self._drop_staging(con)  # nothing to add: the table stays as it is
            return f"{self.config.mode}, no rows"
        if self.config.mode == "replace" or not exists:
            columns = list(data)
            self._create(con, table, data, replace=exists)
            if exists:
                notes.append("recreated")
            into = table if not exists or d.transactional_ddl else d.replacement_name(table)
        else:
            current = d.table_columns(con, table)
            change = schema_evolution.plan(current, data, self.config.schema_evolution,
                                           table_name=table, step=self.ctx.step)
            statements = [d.add_column_sql(table, name, kind) for name, kind in change.add]
            statements += [d.widen_column_sql(table, name, new)
                           for name, _old, new in change.widen]
            self.run(con, statements, f"changing the columns of {table}")
            if not d.transactional_ddl:
                con.commit()
            columns = [c for c in data if c not in change.discard]
            notes += [f"added {name}" for name, _ in change.add]
            notes += [f"widened {name} to {d.ddl_type(new)}" for name, _o, new in change.widen]
            notes += [f"discarded {name}" for name in change.discard]
            into = table
        source = self._source(parts, columns)
        if self.config.mode == "merge":
            self._check_merge_columns(columns)
            last = self._deduplicated(parts, columns)
            deleted = self._deleted("s")
            kept = f"SELECT * FROM ({last}) AS s WHERE NOT ({deleted})" if deleted else last
        if self.config.mode == "merge" and exists:
            unique = any(set(u) == set(self.keys) for u in d.unique_keys(con, table))
            if deleted:
                # The last change of a key is a delete: the key goes.
                keys = ", ".join(d.quote(k) for k in self.keys)
                self.run(con, f"DELETE FROM {d.table_name(table)} WHERE ({keys}) IN (SELECT "
                         f"{keys} FROM ({last}) AS s WHERE {deleted})",
                         f"deleting from {table}")
            self.run(con, d.merge_sql(table, columns, self.keys, kept, unique),
                     f"merging into {table}")
        elif self.config.mode == "merge":
            self.run(con, self._insert(into, columns, kept), f"loading {table}")
        else:
            self.run(con, self._insert(into, columns, source), f"loading {table}")
        if into != table:
            con.commit()
            self.run(con, d.swap_sql(table, into), f"replacing {table}")
        self._drop_staging(con)
        return ", ".join([self.config.mode, *notes])

    def _drop_staging(self, con: Any) -> None:
        d = self.dialect
        leftovers = d.tables_like(con, self.schema_name, self.prefix)
        self.run(con, [f"DROP TABLE IF EXISTS {d.table_name(self.staged_name(t))}"
                       for t in leftovers], "dropping staging tables")
        con.commit()

    def _create(self, con: Any, table: str, data: dict[str, ColumnType], *, replace: bool) -> None:
        d = self.dialect
        name = table
        statements = []
        if replace:
            if d.transactional_ddl:
                statements.append(f"DROP TABLE {d.table_name(table)}")
            else:
                name = d.replacement_name(table)
                statements.append(f"DROP TABLE IF EXISTS {d.table_name(name)}")
        if self.schema_name:
            statements.append(d.create_schema_sql(self.schema_name))
        cols = [f"{d.quote(c)} {d.ddl_type(t, key=c in self.keys)}" for c, t in data.items()]
        if self.keys:
            cols.append(f"PRIMARY KEY ({', '.join(d.quote(k) for k in self.keys)})")
        statements.append(f"CREATE TABLE {d.table_name(name)} ({', '.join(cols)})")
        self.run(con, statements, f"creating table {name}")

    def _source(self, parts: list[PartResult], columns: list[str], ordinal: bool = False
                ) -> str:
        d = self.dialect
        selects = []
        for index, part in enumerate(parts):
            have = set(part.extra["schema"].names)
            exprs = [d.quote(c) if c in have else f"NULL AS {d.quote(c)}" for c in columns]
            if ordinal:
                exprs += [f"{index} AS {PART_COLUMN}", d.quote(ROW_COLUMN)]
            selects.append(f"SELECT {', '.join(exprs)} FROM {d.table_name(part.location)}")
        return " UNION ALL ".join(selects)

    def _check_merge_columns(self, columns: list[str]) -> None:
        missing = self.config.missing_merge_columns(columns)
        if missing:
            raise ConnectorError(
                f"merge column(s) {missing} are not in the data (columns: "
                f"{', '.join(columns)})", step=self.ctx.step,
                hint="Fix `order_by:` or `delete_column:` (names are case-sensitive).")

    def _deleted(self, alias: str) -> str:
        """SQL true for a row that deletes its key ('' without `delete_column`)."""
        column = self.config.delete_column
        if not column:
            return ""
        value = self.dialect.literal(self.config.delete_value)
        return (f"({alias}.{self.dialect.quote(column)} IS NOT NULL AND "
                f"{alias}.{self.dialect.quote(column)} = {value})")

    def _deduplicated(self, parts: list[PartResult], columns: list[str]) -> str:
        """One row per key: the greatest ``order_by`` wins, then the last one staged."""
        d = self.dialect
        cols = ", ".join(d.quote(c) for c in columns)
        keys = ", ".join(d.quote(k) for k in self.keys)
        # NULLs lose: "IS NULL" sorts false (0) before true in every dialect.
        order = (f"CASE WHEN {d.quote(self.config.order_by)} IS NULL THEN 0 ELSE 1 END DESC, "
                 f"{d.quote(self.config.order_by)} DESC, " if self.config.order_by else "")
        return (f"SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {keys} "
                f"ORDER BY {order}{PART_COLUMN} DESC, {ROW_COLUMN} DESC) AS _dteg_rn FROM "
                f"({self._source(parts, columns, ordinal=True)}) AS _dteg_all) AS _dteg_last "
                "WHERE _dteg_rn = 1")

    def _insert(self, table: str, columns: list[str], source: str) -> str:
        d = self.dialect
        cols = ", ".join(d.quote(c) for c in columns)
        return f"INSERT INTO {d.table_name(table)} ({cols}) SELECT {cols} FROM ({source}) AS s"

    def abort(self, parts: list[PartResult]) -> None:
        try:
            con = self.dialect.connect()
        except ConnectorError:
            return  # the database is gone; the next commit of this step drops the leftovers
        try:
            for name in self.dialect.tables_like(con, self.schema_name, self.run_prefix):
                self.dialect.execute(
                    con, f"DROP TABLE IF EXISTS "
                    f"{self.dialect.table_name(self.staged_name(name))}")
            con.commit()
        except Exception:  # cleanup is best effort; the next commit drops leftovers
            pass
        finally:
            con.close()

    def describe(self) -> str:
        return f"{self.dialect.product} {self.dialect.endpoint.describe()}:{self.config.table}"

