"""What a SQL database connector implements so that ``SqlReader`` and ``SqlWriter`` can read
and load it: connecting (with one clear message per failure), quoting, type mapping, streaming
a query as Arrow batches and bulk-loading a batch into a table."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dteg.connectors.schema_evolution import ColumnType
from dteg.connectors.sql.config import ConnectionConfig


@dataclass(frozen=True)
class SourceColumn:
    """One column a source reads: its name, type, the SELECT expression that reads it and
    the Arrow type it arrives as."""

    name: str
    type: ColumnType
    expression: str
    arrow: pa.DataType


class Dialect(ABC):
    """One database flavour. Built from the connector's config; cheap until ``connect``."""

    product = "database"
    # PostgreSQL rolls DDL back with the transaction; MySQL commits before each DDL statement.
    transactional_ddl = True

    def __init__(self, config: ConnectionConfig, step: str) -> None:
        self.config = config
        self.step = step
        self.endpoint = config.endpoint()

    @abstractmethod
    def connect(self) -> Any:
        """A DB-API connection, autocommit off. Raises ``ConnectorError`` with one clear
        sentence for bad credentials, an unreachable host or a missing database."""

    @abstractmethod
    def error(self, exc: Exception, doing: str) -> Exception:
        """The ``ConnectorError`` for a driver error raised while ``doing`` something."""

    @abstractmethod
    def quote(self, identifier: str) -> str: ...

    def table_name(self, name: str) -> str:
        return ".".join(self.quote(p) for p in name.split("."))

    @abstractmethod
    def literal(self, value: Any) -> str:
        """A cursor value as SQL text (numbers, text, dates, timestamps)."""

    @abstractmethod
    def probe(self, con: Any, relation: str) -> list[SourceColumn]:
        """The columns of ``SELECT * FROM <relation>``, with their types."""

    @abstractmethod
    def read(self, con: Any, sql: str, columns: list[SourceColumn],
             batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Stream a query's rows as batches of ``columns``' Arrow types."""

    @abstractmethod
    def table_exists(self, con: Any, table: str) -> bool: ...

    @abstractmethod
    def table_columns(self, con: Any, table: str) -> dict[str, ColumnType]: ...

    @abstractmethod
    def primary_key(self, con: Any, table: str) -> list[str]: ...

    @abstractmethod
    def ddl_type(self, column: ColumnType, *, key: bool = False) -> str: ...

    @abstractmethod
    def ingest(self, con: Any, table: str, batch: pa.RecordBatch) -> None:
        """Bulk-load one batch into an existing table (the caller commits)."""

    @abstractmethod
    def tables_like(self, con: Any, schema: str | None, prefix: str) -> list[str]:
        """Tables in ``schema`` (default: the connection's) whose names start with prefix."""

    def execute(self, con: Any, sql: str) -> Any:
        cur = con.cursor()
        cur.execute(sql)
        return cur

    @abstractmethod
    def unique_keys(self, con: Any, table: str) -> list[list[str]]:
        """The column sets of the table's primary key and unique indexes."""

    @abstractmethod
    def widen_column_sql(self, table: str, column: str, new: ColumnType) -> str: ...

    @abstractmethod
    def merge_sql(self, table: str, columns: list[str], keys: list[str], source: str,
                  unique: bool) -> list[str]:
        """Statements that upsert ``source`` (one row per key) into ``table``; ``unique``
        says whether a unique index on exactly ``keys`` exists."""

    def prepare_batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Last conversions before staging (MySQL stores timestamps in UTC without zone)."""
        return batch

    def create_staging_sql(self, table: str, columns: list[tuple[str, ColumnType]]) -> str:
        cols = ", ".join(f"{self.quote(n)} {self.ddl_type(t)}" for n, t in columns)
        return f"CREATE TABLE {self.table_name(table)} ({cols}, _dteg_row BIGINT)"

    def create_schema_sql(self, schema: str) -> str:
        return f"CREATE SCHEMA IF NOT EXISTS {self.quote(schema)}"

    def add_column_sql(self, table: str, column: str, kind: ColumnType) -> str:
        return (f"ALTER TABLE {self.table_name(table)} ADD COLUMN {self.quote(column)} "
                f"{self.ddl_type(kind)}")

    def replacement_name(self, table: str) -> str:
        return table + "__dteg_new"

    def swap_sql(self, table: str, new: str) -> list[str]:
        """Put ``new`` in place of ``table`` (databases without transactional DDL)."""
        raise NotImplementedError
