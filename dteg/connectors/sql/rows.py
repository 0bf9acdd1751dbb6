"""``RowStore`` over a SQL dialect (PostgreSQL, MySQL): retention and erasure delete rows of
the sink's table in one transaction each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dteg.components.rows import RowStore
from dteg.connectors.sql.dialect import Dialect

# Values per IN (…) list: a subject has few keys, but a long list must not hit statement
# limits.
_CHUNK = 500


class SqlRows(RowStore):
    def __init__(self, dialect: Dialect, table: str) -> None:
        self.dialect = dialect
        self.table = table
        self.description = f"{dialect.product} table {table}"
        self._con: Any = None

    def _connection(self) -> Any:
        if self._con is None:
            self._con = self.dialect.connect()
        return self._con

    def _run(self, sql: str, doing: str) -> Any:
        con = self._connection()
        try:
            cur = self.dialect.execute(con, sql)
        except Exception as exc:
            con.rollback()
            raise self.dialect.error(exc, doing) from None
        return cur

    def columns(self) -> list[str]:
        con = self._connection()
        if not self.dialect.table_exists(con, self.table):
            return []
        return list(self.dialect.table_columns(con, self.table))

    def delete_older(self, column: str, cutoff: dt.datetime) -> int:
        sql = (f"DELETE FROM {self.dialect.table_name(self.table)} WHERE "
               f"{self.dialect.quote(column)} < {self.dialect.literal(cutoff)}")
        cur = self._run(sql, f"deleting expired rows of {self.table}")
        count = int(cur.rowcount or 0)
        self._connection().commit()
        return count

    def _where(self, column: str, values: Sequence[Any]) -> str:
        listed = ", ".join(self.dialect.literal(v) for v in values)
        return f"{self.dialect.quote(column)} IN ({listed})"

    def find(self, column: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(values), _CHUNK):
            cur = self._run(f"SELECT * FROM {self.dialect.table_name(self.table)} WHERE "
                            f"{self._where(column, values[start:start + _CHUNK])}",
                            f"finding rows in {self.table}")
            names = [d[0] for d in cur.description]
            found += [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        self._connection().commit()
        return found

    def delete_matching(self, column: str, values: Sequence[Any]) -> int:
        count = 0
        for start in range(0, len(values), _CHUNK):
            cur = self._run(f"DELETE FROM {self.dialect.table_name(self.table)} WHERE "
                            f"{self._where(column, values[start:start + _CHUNK])}",
                            f"deleting rows of {self.table}")
            count += int(cur.rowcount or 0)
        self._connection().commit()
        return count

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
