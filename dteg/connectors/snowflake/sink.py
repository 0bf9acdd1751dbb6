"""Load into a Snowflake table.

Each part is written as a local Parquet file and PUT to an internal stage
(``@<database>.<schema>.<stage>/dteg/<pipeline>/<run>/<step>/<part>/``) when it closes.
``commit`` then creates or evolves the table from the Arrow schema and loads every part with
``COPY INTO … MATCH_BY_COLUMN_NAME`` in one transaction:

* ``append``: COPY into the table. Snowflake remembers which staged files a table has
  loaded, so a retried commit skips them: a retry never doubles rows.
* ``replace``: DELETE the table's rows and COPY (``FORCE``) in one transaction.
* ``merge``: COPY into a work table, then one MERGE on ``key`` (the last row per key wins).

Every step is retried with backoff on transient failures (connection refused/reset,
timeouts, HTTP 5xx/429). With ``strategy: stream`` the engine calls ``commit`` for each
micro-batch.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dteg.components.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.connectors import retry, schema_evolution
from dteg.connectors.file_sink import conform
from dteg.connectors.merge_order import with_merge_order
from dteg.connectors.snowflake import dialect
from dteg.connectors.snowflake.config import SinkConfig
from dteg.connectors.snowflake.dialect import q
from dteg.errors import ConfigError, ConnectorError

log = logging.getLogger("dteg.snowflake")
PART_COL, ROW_COL = "_DTEG_PART", "_DTEG_ROW"  # merge: which row of a key is the last one


def transient(exc: BaseException) -> bool:
    """Network-level errors of the connector are worth retrying; SQL errors are not."""
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"OperationalError", "InterfaceError"} and "ProgrammingError" not in names:
        return True
    return retry.is_transient(exc)


def _schema_text(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def _schema_of(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


class _Part(PartWriter):
    def __init__(self, sink: SnowflakeWriter, part_id: str) -> None:
        self.sink = sink
        self.part_id = part_id
        self.path = os.path.join(sink.spool_dir, f"part-{part_id}.parquet")
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.rows = 0
        self.opened = time.time_ns()

    def write(self, batch: pa.RecordBatch) -> None:
        batch = self.sink.rename(batch)
        if self.writer is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.schema = batch.schema
            file_schema = self.schema
            if self.sink.config.mode == "merge":
                file_schema = file_schema.append(pa.field(PART_COL, pa.int64())).append(
                    pa.field(ROW_COL, pa.int64()))
            self.writer = pq.ParquetWriter(self.path, file_schema, compression="zstd",
                                           coerce_timestamps="us",
                                           allow_truncated_timestamps=True)
        elif batch.schema != self.schema:
            assert self.schema is not None
            batch = conform(batch, self.schema, step=self.sink.ctx.step)
        if not batch.num_rows:
            return  # the staged file now has the schema; that is all a zero-row batch says
        if self.sink.config.mode == "merge":
            batch = with_merge_order(batch, part=self.opened, first_row=self.rows,
                                     part_column=PART_COL, row_column=ROW_COL)
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self) -> PartResult | None:
        if self.writer is None:
            return None
        self.writer.close()
        assert self.schema is not None
        folder = f"{self.sink.stage_path}/{self.part_id}"
        self.sink.put(self.path, folder)
        size = os.path.getsize(self.path)
        os.remove(self.path)
        return PartResult(folder, self.rows, size, extra={"schema": _schema_text(self.schema)})


class SnowflakeWriter(BatchWriter):
    def __init__(self, config: SinkConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        c = config
        self.table = f"{q(c.name(c.database))}.{q(c.name(c.db_schema))}.{q(c.name(c.table))}"
        self.stage = f"{q(c.name(c.database))}.{q(c.name(c.db_schema))}.{q(c.name(c.stage))}"
        self.stage_path = f"@{self.stage}/dteg/{ctx.pipeline}/{ctx.run_id}/{ctx.step}"
        self.spool_dir = os.path.join(ctx.state_dir, "staging", ctx.run_id, ctx.step)

    # --- connection ----------------------------------------------------------------------

    def connect(self) -> Any:
        try:
            import snowflake.connector
        except ImportError:
            raise ConfigError("the snowflake sink needs snowflake-connector-python",
                              hint="Install it with `pip install 'dteg[snowflake]'`.") from None
        c = self.config
        args: dict[str, Any] = {
            "account": c.account, "user": c.user, "database": c.name(c.database),
            "schema": c.name(c.db_schema), "login_timeout": 30, "network_timeout": 120,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        }
        optional = {"password": c.password, "private_key_file_pwd": c.private_key_file_pwd,
                    "token": c.token}
        args.update({k: v.get_secret_value() for k, v in optional.items() if v is not None})
        for name in ("private_key_file", "authenticator", "role", "warehouse", "host", "port",
                     "protocol"):
            if getattr(c, name) is not None:
                args[name] = getattr(c, name)
        args.update(c.connect_args)
        return snowflake.connector.connect(**args)

    def _retry(self, what: str, fn: Any) -> Any:
        return retry.call(fn, what=what, settings=self.config.retry, step=self.ctx.step,
                          transient=transient)

    def put(self, local_path: str, folder: str) -> None:
        """PUT one file into the stage (OVERWRITE, so a retry replaces it)."""
        quoted = local_path.replace("\\", "/").replace("'", "\\'")

        def upload() -> None:
            with contextlib.closing(self.connect()) as con, con.cursor() as cur:
                cur.execute(f"CREATE STAGE IF NOT EXISTS {self.stage}")
                cur.execute(f"PUT 'file://{quoted}' {folder}/ AUTO_COMPRESS=FALSE "
                            "OVERWRITE=TRUE")

        self._sql_errors(lambda: self._retry(f"staging {os.path.basename(local_path)} in "
                                             f"{self.stage}", upload))

    def _sql_errors(self, fn: Any) -> Any:
        try:
            return fn()
        except ConnectorError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith("snowflake"):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise ConnectorError(
                    f"Snowflake refused the load into {self.describe()}: {first}",
                    step=self.ctx.step, hint="Check the table's columns and your role's "
                    "privileges; nothing was changed by this commit.") from None
            raise

    # --- commit --------------------------------------------------------------------------

    def open_part(self, part_id: str) -> PartWriter:
        return _Part(self, part_id)

    def rename(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        names = [self.config.name(n) for n in batch.schema.names]
        return batch if names == batch.schema.names else batch.rename_columns(names)

    def commit(self, parts: list[PartResult]) -> CommitResult:
        rows = sum(p.rows for p in parts)
        if not parts:  # not even a schema (no input at all): nothing to create
            return CommitResult(rows=0, target=self.describe(), detail="no rows")
        schema = pa.unify_schemas([_schema_of(p.extra["schema"]) for p in parts])
        self._sql_errors(lambda: self._retry(
            f"loading into {self.describe()}", lambda: self._load(parts, schema)))
        self._remove_staged(parts)
        return CommitResult(rows=rows, target=self.describe(), detail=self.config.mode)

    def _remove_staged(self, parts: list[PartResult]) -> None:
        """Best effort, after the commit: the table already remembers these files."""
        try:
            with contextlib.closing(self.connect()) as con, con.cursor() as cur:
                for part in parts:
                    cur.execute(f"REMOVE {part.location}/")
        except Exception as exc:
            log.warning("step `%s`: staged files under %s were not removed (%s)",
                        self.ctx.step, self.stage_path, str(exc).splitlines()[0])

    def _load(self, parts: list[PartResult], schema: pa.Schema) -> None:
        c = self.config
        with contextlib.closing(self.connect()) as con, con.cursor() as cur:
            data = {f.name: dialect.column_type(f.type) for f in schema}
            missing = [k for k in map(c.name, c.keys()) if k not in data]
            if missing:
                raise ConnectorError(
                    f"merge key column(s) {missing} are not in the data (columns: "
                    f"{list(data)})", step=self.ctx.step, hint="Fix `key:`.")
            existing = self._columns(cur)
            if existing and not any(p.rows for p in parts):
                # No rows: `replace` empties the table (its columns stay; the types a
                # header-only file infers must not fail the run), the others add nothing.
                if c.mode == "replace":
                    cur.execute(f"DELETE FROM {self.table}")
                return
            # Parts of no rows only carried the schema (a replace of no rows empties the
            # table, which keeps its columns).
            parts = [p for p in parts if p.rows]
            if not existing:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {q(c.name(c.database))}."
                            f"{q(c.name(c.db_schema))}")
                columns = ", ".join(f"{q(n)} {dialect.ddl(t)}" for n, t in data.items())
                cur.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({columns})")
            else:
                self._evolve(cur, existing, data)
            copy = ("FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE")
            if c.mode == "merge":
                self._merge(cur, parts, data, copy)
                return
            cur.execute("BEGIN")
            try:
                if c.mode == "replace":
                    cur.execute(f"DELETE FROM {self.table}")
                for part in parts:
                    force = " FORCE = TRUE" if c.mode == "replace" else ""
                    cur.execute(f"COPY INTO {self.table} FROM {part.location}/ {copy}{force}")
                cur.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    cur.execute("ROLLBACK")
                raise

    def _merge(self, cur: Any, parts: list[PartResult], data: dict[str, Any],
               copy: str) -> None:
        c = self.config
        work = (f"{q(c.name(c.database))}.{q(c.name(c.db_schema))}."
                f"{q(c.name(c.table) + '__DTEG_' + self.ctx.run_id.replace('-', '_'))}")
        columns = [*(f"{q(n)} {dialect.ddl(t)}" for n, t in data.items()),
                   f"{q(PART_COL)} NUMBER(38,0)", f"{q(ROW_COL)} NUMBER(38,0)"]
        cur.execute(f"CREATE OR REPLACE TABLE {work} ({', '.join(columns)})")
        try:
            for part in parts:
                cur.execute(f"COPY INTO {work} FROM {part.location}/ {copy} FORCE = TRUE")
            keys = [q(k) for k in map(c.name, c.keys())]
            names = [q(n) for n in data]
            latest = (f"(SELECT * FROM {work} QUALIFY ROW_NUMBER() OVER (PARTITION BY "
                      f"{', '.join(keys)} ORDER BY {q(PART_COL)} DESC, {q(ROW_COL)} DESC) = 1)")
            on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
            sets = ", ".join(f"{n} = s.{n}" for n in names if n not in keys)
            matched = f" WHEN MATCHED THEN UPDATE SET {sets}" if sets else ""
            # One statement, so atomic on its own (and MERGE is idempotent on a retry).
            cur.execute(
                f"MERGE INTO {self.table} AS t USING {latest} AS s ON {on}{matched} "
                f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES "
                f"({', '.join('s.' + n for n in names)})")
        finally:
            with contextlib.suppress(Exception):
                cur.execute(f"DROP TABLE IF EXISTS {work}")

    def _columns(self, cur: Any) -> dict[str, schema_evolution.ColumnType]:
        c = self.config
        cur.execute(
            f"SELECT column_name, data_type, numeric_precision, numeric_scale, "
            f"character_maximum_length FROM {q(c.name(c.database))}.information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (c.name(c.db_schema), c.name(c.table)))
        return {r[0]: dialect.parse(r[1], r[2], r[3], r[4]) for r in cur.fetchall()}

    def _evolve(self, cur: Any, existing: dict[str, Any], data: dict[str, Any]) -> None:
        """``schema_evolution`` as elsewhere; Snowflake DDL commits at once, so columns are
        added (nullable, harmless to readers) before the load's transaction."""
        change = schema_evolution.plan(existing, data, self.config.schema_evolution,
                                       table_name=self.describe(), step=self.ctx.step)
        for name, old, new in change.widen:
            if not dialect.can_alter(old, new):
                raise ConnectorError(
                    f"column {name} of {self.describe()} is {old} and the data needs {new}, "
                    "which Snowflake cannot change in place", step=self.ctx.step,
                    hint="Cast the column with a `map` step, or change the table yourself.")
            cur.execute(f"ALTER TABLE {self.table} ALTER COLUMN {q(name)} SET DATA TYPE "
                        f"{dialect.ddl(new)}")
        for name, kind in change.add:
            cur.execute(f"ALTER TABLE {self.table} ADD COLUMN {q(name)} {dialect.ddl(kind)}")

    def abort(self, parts: list[PartResult]) -> None:
        import shutil

        shutil.rmtree(self.spool_dir, ignore_errors=True)

    def describe(self) -> str:
        c = self.config
        return f"snowflake:{c.name(c.database)}.{c.name(c.db_schema)}.{c.name(c.table)}"


def create(config: SinkConfig, ctx: RunContext) -> SnowflakeWriter:
    return SnowflakeWriter(config, ctx)
