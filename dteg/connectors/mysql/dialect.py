"""MySQL and MariaDB through PyMySQL (pure Python, no client library to build). Reads use
an unbuffered server-side cursor (``SSCursor``), so a table streams in batches; sessions run
in strict mode, so a value that does not fit a column fails instead of being truncated."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dteg.connectors.schema_evolution import ColumnType
from dteg.connectors.sql.dialect import Dialect, SourceColumn
from dteg.errors import ConfigError, ConnectorError

_SESSION = ("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,"
            "ERROR_FOR_DIVISION_BY_ZERO', time_zone = '+00:00'")
_AUTH = {1044, 1045, 1698, 2059}
_UNREACHABLE = {2002, 2003, 2005, 2006, 2013}
_BINARY_CHARSET = 63
_UNSIGNED = 32


def _driver() -> Any:
    try:
        import pymysql
    except ModuleNotFoundError:
        raise ConfigError("MySQL/MariaDB support needs its driver, which is not installed",
                          hint="Install it with `pip install 'dteg[mysql]'`.") from None
    return pymysql


def _code(exc: Exception) -> int:
    args: Any = getattr(exc, "args", ())
    return int(args[0]) if args and isinstance(args[0], int) else 0


def _message(exc: Exception) -> str:
    args: Any = getattr(exc, "args", ())
    text = str(args[1]) if len(args) > 1 else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _field_type(field: Any) -> tuple[ColumnType, pa.DataType, bool]:
    """(ColumnType, Arrow type, read as text) of a result field."""
    from pymysql.constants import FIELD_TYPE as F

    code, unsigned = field.type_code, bool(field.flags & _UNSIGNED)
    name = f"mysql type {code}"
    if code == F.TINY and field.length == 1:
        return ColumnType("bool", name="tinyint(1)"), pa.bool_(), False
    ints = {F.TINY: 8, F.SHORT: 16, F.INT24: 24, F.LONG: 32, F.LONGLONG: 64, F.YEAR: 16}
    if code in ints:
        bits = ints[code] * (2 if unsigned and code != F.YEAR else 1)
        if bits > 64:
            return ColumnType("decimal", 20, 0, name), pa.decimal128(20, 0), False
        arrow = {8: pa.int8(), 16: pa.int16(), 24: pa.int32(), 32: pa.int32(), 48: pa.int64(),
                 64: pa.int64(), 128: pa.int64()}[bits]
        return ColumnType("int", min(bits, 64), name=name), arrow, False
    if code in (F.FLOAT, F.DOUBLE):
        bits = 32 if code == F.FLOAT else 64
        return (ColumnType("float", bits, name=name),
                pa.float32() if bits == 32 else pa.float64(), False)
    if code in (F.DECIMAL, F.NEWDECIMAL):
        scale = field.scale
        precision = field.length - (1 if scale else 0) - (0 if unsigned else 1)
        if precision <= 38:
            return ColumnType("decimal", precision, scale, name), pa.decimal128(
                precision, scale), False
        return ColumnType("text", name=name), pa.string(), True
    if code in (F.DATE, F.NEWDATE):
        return ColumnType("date", name=name), pa.date32(), False
    if code in (F.DATETIME, F.TIMESTAMP):
        return ColumnType("timestamp", name=name), pa.timestamp("us"), False
    if code == F.JSON:
        return ColumnType("json", name=name), pa.string(), False
    if code in (F.VARCHAR, F.VAR_STRING, F.STRING, F.BLOB, F.TINY_BLOB, F.MEDIUM_BLOB,
                F.LONG_BLOB, F.BIT):
        if field.charsetnr == _BINARY_CHARSET:
            return ColumnType("binary", name=name), pa.binary(), False
        return ColumnType("text", name=name), pa.string(), False
    return ColumnType("text", name=name), pa.string(), True  # TIME, ENUM, SET, GEOMETRY …


def _array(values: Any, dtype: pa.DataType) -> pa.Array:
    if pa.types.is_boolean(dtype):  # BOOLEAN is TINYINT(1): the driver returns 0/1
        return pa.array(values, type=pa.int8()).cast(dtype)
    return pa.array(values, type=dtype)


class MySqlDialect(Dialect):
    product = "MySQL"
    transactional_ddl = False

    def connect(self) -> Any:
        pymysql = _driver()
        e = self.endpoint
        try:
            con = pymysql.connect(
                host=e.host, port=e.port, user=e.user, password=e.password,
                database=e.database or None, connect_timeout=self.config.connect_timeout,
                autocommit=False, charset="utf8mb4", init_command=_SESSION)
        except pymysql.err.MySQLError as exc:
            raise self._connect_error(exc) from None
        return con

    def _connect_error(self, exc: Exception) -> ConnectorError:
        e, code = self.endpoint, _code(exc)
        where = f"{e.host}:{e.port}"
        if code in _AUTH:
            return ConnectorError(
                f"MySQL at {where} refused the login of user `{e.user}`: {_message(exc)}",
                step=self.step, hint="Check `user:` and `password:` (or the URL's "
                "user:password part).")
        if code == 1049:
            return ConnectorError(f"MySQL at {where} has no database `{e.database}`",
                                  step=self.step, hint="Check `database:` (or the URL's path).")
        if code in _UNREACHABLE:
            return ConnectorError(
                f"cannot reach MySQL at {where}: {_message(exc)}", step=self.step,
                retriable=True, hint="Check `host:` and `port:` (or the URL), and that the "
                "server is running and accepts TCP connections from here.")
        return ConnectorError(f"cannot connect to MySQL at {where}: {_message(exc)}",
                              step=self.step)

    def error(self, exc: Exception, doing: str) -> Exception:
        if _code(exc) in _UNREACHABLE:
            return ConnectorError(
                f"lost the connection to MySQL at {self.endpoint.host}:{self.endpoint.port} "
                f"while {doing}: {_message(exc)}", step=self.step, retriable=True,
                hint="Run again once the server is back.")
        return ConnectorError(f"MySQL failed while {doing}: {_message(exc)}", step=self.step)

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def literal(self, value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float | decimal.Decimal):
            return str(value)
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return f"'{value.isoformat(sep=' ')}'"
        if isinstance(value, dt.date):
            return f"'{value.isoformat()}'"
        from pymysql.converters import escape_string

        return "'" + escape_string(str(value)) + "'"

    def _rows(self, con: Any, sql: str) -> list[tuple[Any, ...]]:
        cur = con.cursor()
        cur.execute(sql)
        return list(cur.fetchall())

    def probe(self, con: Any, relation: str) -> list[SourceColumn]:
        cur = con.cursor()
        cur.execute(f"SELECT * FROM {relation} LIMIT 0")
        columns = []
        for field in cur._result.fields:
            kind, arrow, as_text = _field_type(field)
            quoted = self.quote(field.name)
            expression = f"CAST({quoted} AS CHAR) AS {quoted}" if as_text else quoted
            columns.append(SourceColumn(field.name, kind, expression, arrow))
        cur.fetchall()
        return columns

    def read(self, con: Any, sql: str, columns: list[SourceColumn],
             batch_rows: int) -> Iterator[pa.RecordBatch]:
        import pymysql.cursors

        schema = pa.schema([pa.field(c.name, c.arrow) for c in columns])
        cur = con.cursor(pymysql.cursors.SSCursor)
        try:
            cur.execute(sql)
            while True:
                rows = cur.fetchmany(min(batch_rows, 50_000))
                if not rows:
                    break
                values = list(zip(*rows, strict=True))
                yield pa.RecordBatch.from_arrays(
                    [_array(v, f.type) for v, f in zip(values, schema, strict=True)],
                    schema=schema)
        finally:
            cur.close()

    def _schema_of(self, table: str) -> tuple[str, str]:
        schema, _, name = table.rpartition(".")
        where = self.literal(schema) if schema else "DATABASE()"
        return where, self.literal(name)

    def table_exists(self, con: Any, table: str) -> bool:
        schema, name = self._schema_of(table)
        return bool(self._rows(con, "SELECT count(*) FROM information_schema.tables WHERE "
                               f"table_schema = {schema} AND table_name = {name}")[0][0])

    def table_columns(self, con: Any, table: str) -> dict[str, ColumnType]:
        schema, name = self._schema_of(table)
        rows = self._rows(
            con, "SELECT column_name, data_type, column_type, character_maximum_length, "
            "numeric_precision, numeric_scale FROM information_schema.columns WHERE "
            f"table_schema = {schema} AND table_name = {name} ORDER BY ordinal_position")
        return {r[0]: column_type(*r[1:]) for r in rows}

    def unique_keys(self, con: Any, table: str) -> list[list[str]]:
        schema, name = self._schema_of(table)
        rows = self._rows(
            con, "SELECT index_name, column_name FROM information_schema.statistics WHERE "
            f"table_schema = {schema} AND table_name = {name} AND non_unique = 0 "
            "ORDER BY index_name, seq_in_index")
        found: dict[str, list[str]] = {}
        for index, column in rows:
            found.setdefault(index, []).append(column)
        return list(found.values())

    def primary_key(self, con: Any, table: str) -> list[str]:
        schema, name = self._schema_of(table)
        return [r[0] for r in self._rows(
            con, "SELECT column_name FROM information_schema.statistics WHERE "
            f"table_schema = {schema} AND table_name = {name} AND index_name = 'PRIMARY' "
            "ORDER BY seq_in_index")]

    def ddl_type(self, column: ColumnType, *, key: bool = False) -> str:
        kind, size = column.kind, column.size
        if kind == "int":
            return {8: "TINYINT", 16: "SMALLINT", 24: "MEDIUMINT", 32: "INT"}.get(
                size or 64, "BIGINT")
        if kind == "float":
            return "FLOAT" if size == 32 else "DOUBLE"
        if kind == "decimal":
            return f"DECIMAL({size or 38},{column.scale or 0})"
        if kind == "text":
            if key or (size and size <= 16383):
                return f"VARCHAR({size or 255})"
            return "LONGTEXT"
        if kind == "binary":
            return f"VARBINARY({size or 255})" if key or (size and size <= 65532) else "LONGBLOB"
        return {"bool": "BOOLEAN", "date": "DATE", "time": "TIME(6)",
                "timestamp": "DATETIME(6)", "timestamptz": "DATETIME(6)",
                "json": "JSON"}.get(kind, "LONGTEXT")

    def prepare_batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        # DATETIME has no zone: store UTC wall time (the session's time_zone is +00:00).
        fields = [pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type) and
                  f.type.tz else f for f in batch.schema]
        return batch.cast(pa.schema(fields)) if fields != list(batch.schema) else batch

    def create_staging_sql(self, table: str, columns: list[tuple[str, ColumnType]]) -> str:
        return super().create_staging_sql(table, columns) + " ENGINE=InnoDB"

    def ingest(self, con: Any, table: str, batch: pa.RecordBatch) -> None:
        cols = ", ".join(self.quote(n) for n in batch.schema.names)
        marks = ", ".join(["%s"] * batch.num_columns)
        rows = list(zip(*(c.to_pylist() for c in batch.columns), strict=True))
        cur = con.cursor()
        # PyMySQL turns this into multi-row INSERTs of up to ~1 MB each.
        cur.executemany(f"INSERT INTO {self.table_name(table)} ({cols}) VALUES ({marks})", rows)

    def tables_like(self, con: Any, schema: str | None, prefix: str) -> list[str]:
        where = self.literal(schema) if schema else "DATABASE()"
        return [r[0] for r in self._rows(
            con, f"SELECT table_name FROM information_schema.tables WHERE table_schema = "
            f"{where} AND LEFT(table_name, {len(prefix)}) = {self.literal(prefix)}")]

    def create_schema_sql(self, schema: str) -> str:
        return f"CREATE DATABASE IF NOT EXISTS {self.quote(schema)}"

    def widen_column_sql(self, table: str, column: str, new: ColumnType) -> str:
        return (f"ALTER TABLE {self.table_name(table)} MODIFY COLUMN {self.quote(column)} "
                f"{self.ddl_type(new)}")

    def swap_sql(self, table: str, new: str) -> list[str]:
        old = table + "__dteg_old"
        return [f"DROP TABLE IF EXISTS {self.table_name(old)}",
                f"RENAME TABLE {self.table_name(table)} TO {self.table_name(old)}, "
                f"{self.table_name(new)} TO {self.table_name(table)}",
                f"DROP TABLE {self.table_name(old)}"]

    def merge_sql(self, table: str, columns: list[str], keys: list[str], source: str,
                  unique: bool) -> list[str]:
        t = self.table_name(table)
        cols = ", ".join(self.quote(c) for c in columns)
        others = [c for c in columns if c not in keys]
        if unique:
            sets = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})"
                             for c in others or keys[:1])
            return [f"INSERT INTO {t} ({cols}) SELECT {cols} FROM ({source}) AS s "
                    f"ON DUPLICATE KEY UPDATE {sets}"]
        on = " AND ".join(f"t.{self.quote(k)} = s.{self.quote(k)}" for k in keys)
        statements = ["DROP TEMPORARY TABLE IF EXISTS _dteg_merge",
                      f"CREATE TEMPORARY TABLE _dteg_merge AS {source}"]
        if others:
            sets = ", ".join(f"t.{self.quote(c)} = s.{self.quote(c)}" for c in others)
            statements.append(f"UPDATE {t} AS t JOIN _dteg_merge AS s ON {on} SET {sets}")
        statements += [f"INSERT INTO {t} ({cols}) SELECT {cols} FROM _dteg_merge AS s WHERE "
                       f"NOT EXISTS (SELECT 1 FROM {t} AS t WHERE {on})",
                       "DROP TEMPORARY TABLE _dteg_merge"]
        return statements


def column_type(data_type: str, column_type_text: str, length: int | None,
                precision: int | None, scale: int | None) -> ColumnType:
    """A ColumnType from information_schema.columns."""
    data_type = data_type.lower()
    full = column_type_text.lower()
    unsigned = "unsigned" in full
    if data_type == "tinyint" and full.startswith("tinyint(1)"):
        return ColumnType("bool", name=full)
    ints = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32,
            "bigint": 64, "year": 16}
    if data_type in ints:
        bits = ints[data_type] * (2 if unsigned else 1)
        return (ColumnType("decimal", 20, 0, full) if bits > 64 else
                ColumnType("int", bits, name=full))
    if data_type in ("float", "double", "real"):
        return ColumnType("float", 32 if data_type == "float" else 64, name=full)
    if data_type in ("decimal", "numeric"):
        return ColumnType("decimal", precision, scale or 0, full)
    if data_type in ("varchar", "char", "tinytext", "text", "mediumtext", "longtext"):
        big = length is None or length >= 4_294_967_295
        return ColumnType("text", None if big else int(length or 0), name=full)
    if data_type in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"):
        big = length is None or length >= 4_294_967_295
        return ColumnType("binary", None if big else int(length or 0), name=full)
    simple = {"date": "date", "datetime": "timestamp", "timestamp": "timestamp",
              "time": "time", "json": "json"}
    return ColumnType(simple.get(data_type, "other"), name=full)
