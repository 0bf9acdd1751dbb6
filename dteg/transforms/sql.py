"""Evaluate SQL expressions over one Arrow batch with an in-process DuckDB connection."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from dteg.components.records import without_provenance
from dteg.connectors.duckdb.arrow import relation_table
from dteg.errors import StepError


class BatchSql:
    """One DuckDB connection per worker; each batch is queried as the table ``batch``."""

    def __init__(self, step: str, *, external_access: bool = True) -> None:
        self.step = step
        # False: the SQL cannot read files, the network or extensions (rule expressions).
        self.external_access = external_access
        self._con: Any = None

    def _connection(self) -> Any:
        if self._con is None:
            import duckdb

            self._con = duckdb.connect(config={
                "threads": 1, "enable_external_access": self.external_access})
        return self._con

    def query(self, batch: pa.RecordBatch, sql: str) -> pa.Table:
        import duckdb

        con = self._connection()
        # SQL sees the user's columns only (where rows were read is not data).
        batch = without_provenance(batch)
        con.register("batch", batch)
        try:
            # A relation's fetch works on DuckDB 1.x and 2.x and leaves no pending result.
            return relation_table(con.sql(sql))
        except (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException,
                duckdb.PermissionException) as exc:
            raise StepError(
                f"the SQL expression is not valid for this data: {str(exc).splitlines()[0]}",
                step=self.step,
                hint=f"Columns available: {', '.join(batch.schema.names)}. Quote names with "
                "spaces or capitals in double quotes.",
            ) from None
        finally:
            con.unregister("batch")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
