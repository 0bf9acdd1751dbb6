"""PostgreSQL through ADBC (``adbc-driver-postgresql``): queries stream out as Arrow over
``COPY … TO STDOUT (FORMAT binary)`` and batches load with ``COPY … FROM STDIN``, both in C,
so no row becomes a Python object."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dteg.connectors.schema_evolution import ColumnType
from dteg.connectors.sql.config import Endpoint, url_of
from dteg.connectors.sql.dialect import Dialect, SourceColumn
from dteg.errors import ConfigError, ConnectorError
from dteg.spec.secrets import redact_url_passwords

_PARAMS = re.compile(r"\((\d+)(?:,(\d+))?\)")
_AUTH = ("password authentication failed", "no pg_hba.conf entry", "role \"",
         "authentication failed", "no password supplied")
_UNREACHABLE = ("connection refused", "could not translate host name", "timeout expired",
                "no route to host", "network is unreachable", "could not connect",
                "server closed the connection", "name or service not known")


def _driver() -> Any:
    try:
        import adbc_driver_postgresql.dbapi as dbapi
    except ModuleNotFoundError:
        raise ConfigError("PostgreSQL support needs its driver, which is not installed",
                          hint="Install it with `pip install 'dteg[postgres]'`.") from None
    return dbapi


def _first_line(exc: Exception) -> str:
    """The server's own words, without ADBC's prefixes."""
    text = str(exc)
    if "ERROR:" in text:
        text = text.split("ERROR:", 1)[1]
    elif "FATAL:" in text:
        text = text.split("FATAL:", 1)[1]
    elif "failed:" in text:
        text = text.rsplit("failed:", 1)[1]
    return redact_url_passwords(text.strip().splitlines()[0].strip() if text.strip() else
                                type(exc).__name__)


def connect_error(exc: Exception, endpoint: Endpoint, step: str | None,
                  what: str = "PostgreSQL") -> ConnectorError:
    text = str(exc).lower()
    where = f"{endpoint.host}:{endpoint.port}"
    reason = _first_line(exc)
    if any(s in text for s in _AUTH):
        return ConnectorError(
            f"{what} at {where} refused the login of user `{endpoint.user}`: {reason}",
            step=step, hint="Check `user:` and `password:` (or the URL's user:password part).")
    if "does not exist" in text and "database" in text:
        return ConnectorError(f"{what} at {where} has no database `{endpoint.database}`",
                              step=step, hint="Check `database:` (or the URL's path).")
    if any(s in text for s in _UNREACHABLE):
        return ConnectorError(
            f"cannot reach {what} at {where}: {reason}", step=step, retriable=True,
            hint="Check `host:` and `port:` (or the URL), and that the server is running and "
            "accepts TCP connections from here.")
    return ConnectorError(f"cannot connect to {what} at {where}: {reason}", step=step)


def connect_url(url: str, *, what: str = "PostgreSQL", step: str | None = None,
                timeout: int = 10) -> Any:
    """An ADBC connection (autocommit off) or one clear ``ConnectorError``."""
    dbapi = _driver()
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://").replace(
        "postgresql+psycopg2://", "postgresql://"))
    query = parts.query
    if "connect_timeout=" not in query:
        query = "&".join(q for q in (query, f"connect_timeout={timeout}") if q)
    clean = parts._replace(scheme="postgresql", query=query).geturl()
    try:
        return dbapi.connect(clean)
    except Exception as exc:
        endpoint = Endpoint(parts.hostname or "localhost", parts.port or 5432,
                            parts.username or "", "", parts.path.lstrip("/"))
        raise connect_error(exc, endpoint, step, what) from None


def column_type(formatted: str) -> ColumnType:
    """A ColumnType from ``format_type()`` text (``numeric(12,2)``, ``character varying``)."""
    base = _PARAMS.sub("", formatted).strip()
    match = _PARAMS.search(formatted)
    size = int(match.group(1)) if match else None
    scale = int(match.group(2)) if match and match.group(2) else None
    simple = {"boolean": ("bool", None), "smallint": ("int", 16), "integer": ("int", 32),
              "bigint": ("int", 64), "real": ("float", 32), "double precision": ("float", 64),
              "date": ("date", None), "bytea": ("binary", None), "json": ("json", None),
              "jsonb": ("json", None), "text": ("text", None)}
    if base in simple:
        kind, bits = simple[base]
        return ColumnType(kind, bits, name=formatted)
    if base == "numeric":
        return ColumnType("decimal", size, scale or 0, formatted) if size else ColumnType(
            "other", name=formatted)
    if base in ("character varying", "character"):
        return ColumnType("text", size, name=formatted)
    if base.startswith("timestamp"):
        return ColumnType("timestamptz" if "with time zone" in base else "timestamp",
                          name=formatted)
    if base.startswith("time"):
        return ColumnType("time" if "without" in base else "other", name=formatted)
    return ColumnType("other", name=formatted)


_ARROW = {"bool": pa.bool_(), "date": pa.date32(), "binary": pa.binary(),
          "time": pa.time64("us"), "timestamp": pa.timestamp("us"),
          "timestamptz": pa.timestamp("us", "UTC")}
_INTS = {16: pa.int16(), 32: pa.int32(), 64: pa.int64()}


class PostgresDialect(Dialect):
    product = "PostgreSQL"

    def connect(self) -> Any:
        url = url_of("postgresql", self.endpoint, "application_name=dteg")
        return connect_url(url, step=self.step, timeout=self.config.connect_timeout)

    def error(self, exc: Exception, doing: str) -> Exception:
        text = str(exc).lower()
        if any(s in text for s in _UNREACHABLE) or "terminating connection" in text:
            return ConnectorError(
                f"lost the connection to PostgreSQL at {self.endpoint.host}:"
                f"{self.endpoint.port} while {doing}: {_first_line(exc)}", step=self.step,
                retriable=True, hint="Run again once the server is back.")
        return ConnectorError(f"PostgreSQL failed while {doing}: {_first_line(exc)}",
                              step=self.step)

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def literal(self, value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float | decimal.Decimal):
            return str(value)
        if isinstance(value, dt.datetime):
            kind = "timestamptz" if value.tzinfo else "timestamp"
            return f"'{value.isoformat()}'::{kind}"
        if isinstance(value, dt.date):
            return f"'{value.isoformat()}'::date"
        return "'" + str(value).replace("'", "''") + "'"

    def _regclass(self, table: str) -> str:
        return self.literal(self.table_name(table))

    def _rows(self, con: Any, sql: str) -> list[tuple[Any, ...]]:
        cur = con.cursor()
        cur.execute(sql)
        return list(cur.fetchall())

    def probe(self, con: Any, relation: str) -> list[SourceColumn]:
        # A temporary view gives exact types (numeric(12,2), varchar(20)) for a table or any
        # query; it disappears with the rollback.
        self.execute(con, f"CREATE TEMP VIEW _dteg_probe AS SELECT * FROM {relation}")
        rows = self._rows(con, "SELECT attname, format_type(atttypid, atttypmod) FROM "
                          "pg_attribute WHERE attrelid = 'pg_temp._dteg_probe'::regclass "
                          "AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
        con.rollback()
        columns = []
        for name, formatted in rows:
            kind = column_type(formatted)
            quoted = self.quote(name)
            if kind.kind in ("int", "float"):
                arrow = _INTS[kind.size or 64] if kind.kind == "int" else (
                    pa.float32() if kind.size == 32 else pa.float64())
            elif kind.kind == "decimal" and (kind.size or 0) <= 38:
                arrow = pa.decimal128(kind.size or 38, kind.scale or 0)
            elif kind.kind in _ARROW:
                arrow = _ARROW[kind.kind]
            else:  # json, uuid, arrays, enums, unconstrained numeric …: read as text
                columns.append(SourceColumn(name, ColumnType("text", name=formatted),
                                            f"{quoted}::text AS {quoted}", pa.string()))
                continue
            columns.append(SourceColumn(name, kind, quoted, arrow))
        return columns

    def read(self, con: Any, sql: str, columns: list[SourceColumn],
             batch_rows: int) -> Iterator[pa.RecordBatch]:
        schema = pa.schema([pa.field(c.name, c.arrow) for c in columns])
        cur = con.cursor()
        cur.execute(sql)
        for batch in cur.fetch_record_batch():
            arrays = []
            for array, field in zip(batch.columns, schema, strict=True):
                if isinstance(array.type, pa.ExtensionType) or isinstance(
                        array, pa.ExtensionArray):
                    array = array.storage
                if array.type != field.type:
                    array = array.cast(field.type)
                arrays.append(array)
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    def table_exists(self, con: Any, table: str) -> bool:
        return bool(self._rows(con, f"SELECT to_regclass({self._regclass(table)}) "
                               "IS NOT NULL")[0][0])

    def table_columns(self, con: Any, table: str) -> dict[str, ColumnType]:
        rows = self._rows(con, "SELECT attname, format_type(atttypid, atttypmod) FROM "
                          f"pg_attribute WHERE attrelid = to_regclass({self._regclass(table)}) "
                          "AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
        return {name: column_type(formatted) for name, formatted in rows}

    def unique_keys(self, con: Any, table: str) -> list[list[str]]:
        rows = self._rows(con, "SELECT i.indexrelid, a.attname FROM pg_index i JOIN "
                          "pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                          f" WHERE i.indrelid = to_regclass({self._regclass(table)}) AND "
                          "i.indisunique AND i.indpred IS NULL")
        found: dict[Any, list[str]] = {}
        for index, column in rows:
            found.setdefault(index, []).append(column)
        return list(found.values())

    def primary_key(self, con: Any, table: str) -> list[str]:
        return [r[0] for r in self._rows(
            con, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
            "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = "
            f"to_regclass({self._regclass(table)}) AND i.indisprimary")]

    def ddl_type(self, column: ColumnType, *, key: bool = False) -> str:
        kind = column.kind
        if kind == "int":
            return {8: "smallint", 16: "smallint", 24: "integer", 32: "integer"}.get(
                column.size or 64, "bigint")
        if kind == "float":
            return "real" if column.size == 32 else "double precision"
        if kind == "decimal":
            return f"numeric({column.size or 38},{column.scale or 0})"
        if kind == "text":
            return f"varchar({column.size})" if column.size else "text"
        return {"bool": "boolean", "binary": "bytea", "date": "date", "time": "time",
                "timestamp": "timestamp", "timestamptz": "timestamptz", "json": "jsonb"}.get(
            kind, column.name or "text")

    def create_staging_sql(self, table: str, columns: list[tuple[str, ColumnType]]) -> str:
        # UNLOGGED: staging rows need no WAL; the target table's insert is logged as usual.
        return super().create_staging_sql(table, columns).replace(
            "CREATE TABLE", "CREATE UNLOGGED TABLE", 1)

    def ingest(self, con: Any, table: str, batch: pa.RecordBatch) -> None:
        schema, _, name = table.rpartition(".")
        cur = con.cursor()
        cur.adbc_ingest(name, batch, mode="append", db_schema_name=schema or None)

    def tables_like(self, con: Any, schema: str | None, prefix: str) -> list[str]:
        where = f"schemaname = {self.literal(schema)}" if schema else (
            "schemaname = current_schema()")
        return [r[0] for r in self._rows(
            con, f"SELECT tablename FROM pg_tables WHERE {where} AND "
            f"starts_with(tablename, {self.literal(prefix)})")]

    def widen_column_sql(self, table: str, column: str, new: ColumnType) -> str:
        return (f"ALTER TABLE {self.table_name(table)} ALTER COLUMN {self.quote(column)} "
                f"TYPE {self.ddl_type(new)}")

    def merge_sql(self, table: str, columns: list[str], keys: list[str], source: str,
                  unique: bool) -> list[str]:
        t = self.table_name(table)
        cols = ", ".join(self.quote(c) for c in columns)
        others = [c for c in columns if c not in keys]
        if unique:
            sets = ", ".join(f"{self.quote(c)} = EXCLUDED.{self.quote(c)}" for c in others)
            action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
            return [f"INSERT INTO {t} ({cols}) SELECT {cols} FROM ({source}) AS s "
                    f"ON CONFLICT ({', '.join(self.quote(k) for k in keys)}) {action}"]
        # No unique index on the key: update the matches, insert the rest.
        on = " AND ".join(f"t.{self.quote(k)} = s.{self.quote(k)}" for k in keys)
        statements = [f"CREATE TEMP TABLE _dteg_merge ON COMMIT DROP AS {source}"]
        if others:
            sets = ", ".join(f"{self.quote(c)} = s.{self.quote(c)}" for c in others)
            statements.append(f"UPDATE {t} AS t SET {sets} FROM _dteg_merge AS s WHERE {on}")
        statements.append(f"INSERT INTO {t} ({cols}) SELECT {cols} FROM _dteg_merge AS s "
                          f"WHERE NOT EXISTS (SELECT 1 FROM {t} AS t WHERE {on})")
        return statements
