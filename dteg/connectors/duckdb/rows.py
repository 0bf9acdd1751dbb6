"""The rows of a DuckDB sink's table, for retention and erasure (one transaction each)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dteg.components.rows import RowStore
from dteg.connectors.duckdb.config import SinkConfig
from dteg.errors import ConnectorError


def _quote(identifier: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in identifier.split("."))


class DuckDbRows(RowStore):
    def __init__(self, database: Path, table: str, step: str) -> None:
        self.database = database
        self.table = table
        self.step = step
        self.description = f"DuckDB table {table} in {database}"
        self._con: Any = None

    def _connection(self) -> Any:
        import duckdb

        if self._con is None:
            try:
                self._con = duckdb.connect(str(self.database))
            except duckdb.Error as exc:
                raise ConnectorError(f"cannot open DuckDB database {self.database}: {exc}",
                                     step=self.step, hint="Another process may hold it open "
                                     "for writing; try again when its run has finished.") \
                    from None
        return self._con

    def columns(self) -> list[str]:
        if not self.database.exists():
            return []
        rows = self._connection().execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position", [self.table.split(".")[-1]]).fetchall()
        return [r[0] for r in rows]

    def _delete(self, where: str, params: list[Any]) -> int:
        con = self._connection()
        con.execute("BEGIN")
        before = con.execute(f"SELECT count(*) FROM {_quote(self.table)}").fetchone()[0]
        con.execute(f"DELETE FROM {_quote(self.table)} WHERE {where}", params)
        after = con.execute(f"SELECT count(*) FROM {_quote(self.table)}").fetchone()[0]
        con.execute("COMMIT")
        return int(before - after)

    def delete_older(self, column: str, cutoff: dt.datetime) -> int:
        # Compare as a timestamp whatever the column's type (a DATE or a TIMESTAMP).
        naive = cutoff.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return self._delete(f"CAST({_quote(column)} AS TIMESTAMP) < ?", [naive])

    def find(self, column: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        if not values:
            return []
        marks = ", ".join("?" for _ in values)
        cur = self._connection().execute(
            f"SELECT * FROM {_quote(self.table)} WHERE {_quote(column)} IN ({marks})",
            list(values))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def delete_matching(self, column: str, values: Sequence[Any]) -> int:
        if not values:
            return 0
        marks = ", ".join("?" for _ in values)
        return self._delete(f"{_quote(column)} IN ({marks})", list(values))

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def create(config: SinkConfig, base_dir: Path, step: str) -> DuckDbRows:
    database = config.database_file(base_dir)
    if database is None:
        raise ConnectorError("an in-memory DuckDB database holds no rows to delete", step=step)
    return DuckDbRows(database, config.table, step)
