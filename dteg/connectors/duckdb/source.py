"""Read a DuckDB table or query as Arrow batches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa

from dteg.components.contracts import BatchReader, Rejected, RunContext
from dteg.components.records import with_provenance
from dteg.connectors.duckdb.arrow import relation_reader
from dteg.connectors.duckdb.config import SourceConfig
from dteg.errors import ConnectorError


class DuckDbReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.in_memory = config.database == ":memory:"
        self.database = config.database if self.in_memory else ctx.resolve_path(config.database)

    def splits(self) -> list[Any]:
        if not self.in_memory and not os.path.exists(self.database):
            raise ConnectorError(f"no DuckDB database at {self.database}", step=self.ctx.step,
                                 hint="Check `database:` (relative to the pipeline file).")
        return [self.config.query or f"SELECT * FROM {self.config.table}"]

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        try:
            con = duckdb.connect(self.database, read_only=not self.in_memory)
        except duckdb.IOException as exc:
            raise ConnectorError(f"cannot open {self.database}: {exc}", step=self.ctx.step,
                                 hint="Another process may hold it open for writing.",
                                 retriable=True) from None
        try:
            try:
                reader = relation_reader(con.sql(split), self.config.batch_rows)
            except duckdb.Error as exc:
                raise ConnectorError(f"the query failed: {str(exc).splitlines()[0]}",
                                     step=self.ctx.step) from None
            # Rows of a query have no stable position: later dead letters name the table.
            where = f"duckdb {self.database} {self.config.table or 'query'}"
            for batch in reader:
                yield with_provenance(batch, where)
            # The columns, also when there are no rows (dropped if there were).
            yield with_provenance(pa.RecordBatch.from_pylist([], schema=reader.schema), where)
        finally:
            con.close()


def create(config: SourceConfig, ctx: RunContext) -> DuckDbReader:
    return DuckDbReader(config, ctx)
