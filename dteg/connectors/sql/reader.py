"""Read a table or a query from a SQL database as Arrow batches: incremental (a cursor column
and saved state), split into key ranges (``partitions: N``) and optionally throttled.

The launcher (``dteg.run.state.prepare_run``) asks ``high_watermark`` before the run and
hands this run's bounds back through ``ctx.plan.bounds``; ``splits`` turns them
into a WHERE clause and, with partitions, into N key ranges, each read by one query.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dteg.components.contracts import IncrementalReader, Rejected, RunContext
from dteg.components.plan import Bounds
from dteg.components.records import with_provenance
from dteg.connectors.sql.config import SqlSourceConfig
from dteg.connectors.sql.dialect import Dialect, SourceColumn
from dteg.errors import ConnectorError


@dataclass(frozen=True)
class SqlSplit:
    """One query of a read: the SQL text, the columns it returns, its row-rate limit."""

    sql: str
    columns: tuple[SourceColumn, ...]
    rows_per_second: float | None = None
    label: str = ""


def partition_bounds(low: Any, high: Any, n: int) -> list[Any]:
    """N-1 inner boundaries splitting [low, high] into N ranges of equal width (fewer when
    the range is too narrow). Works on ints, decimals, dates and timestamps."""
    if low is None or high is None or n <= 1 or low >= high:
        return []
    if isinstance(low, bool):
        raise TypeError("cannot split on a boolean")
    cuts: list[Any]
    if isinstance(low, int) and isinstance(high, int):
        cuts = [low + (high - low + 1) * i // n for i in range(1, n)]
    elif isinstance(low, (float, decimal.Decimal, dt.datetime)):
        cuts = [low + (high - low) * i / n for i in range(1, n)]
    elif isinstance(low, dt.date):
        days = (high - low).days
        cuts = [low + dt.timedelta(days=days * i // n) for i in range(1, n)]
    else:
        raise TypeError(f"cannot split on values of type {type(low).__name__}")
    return sorted({c for c in cuts if low < c <= high})


class SqlReader(IncrementalReader):
    def __init__(self, config: SqlSourceConfig, ctx: RunContext, dialect: Dialect) -> None:
        self.config = config
        self.ctx = ctx
        self.dialect = dialect

    # --- what the launcher asks --------------------------------------------------------------

    def cursor_column(self) -> str:
        assert self.config.incremental is not None
        return self.config.incremental.cursor

    def initial_cursor(self) -> Any:
        return self.config.incremental.initial if self.config.incremental else None

    def high_watermark(self, lower: Any) -> Any:
        """The cursor's current maximum above ``lower`` (None: no new rows)."""
        col = self.dialect.quote(self.cursor_column())
        where = f" WHERE {col} > {self.dialect.literal(lower)}" if lower is not None else ""
        with self._connection() as con:
            self._check_relation(con)
            rows = self._fetch(con, f"SELECT max({col}) FROM {self._relation()}{where}",
                               "reading the cursor's high watermark")
        return rows[0][0] if rows else None

    # --- the contract ------------------------------------------------------------------------

    def splits(self) -> list[SqlSplit]:
        bounds = self._bounds()
        predicates = self._predicates(bounds)
        with self._connection() as con:
            self._check_relation(con)
            columns = self._columns(con)
            if bounds is not None and bounds.upper is None and bounds.upper_inclusive:
                return []  # incremental: nothing newer than the saved cursor
            select = ", ".join(c.expression for c in columns)
            base = f"SELECT {select} FROM {self._relation()}"
            ranges = self._ranges(con, predicates)
        rate = (self.config.max_rows_per_second / len(ranges)
                if self.config.max_rows_per_second else None)
        splits = []
        for index, extra in enumerate(ranges):
            where = " AND ".join([*predicates, *extra])
            splits.append(SqlSplit(f"{base} WHERE {where}" if where else base, tuple(columns),
                                   rate, f"{index + 1}/{len(ranges)}"))
        return splits

    def read(self, split: SqlSplit) -> Iterator[pa.RecordBatch | Rejected]:
        started = time.monotonic()
        rows = 0
        chunk = self.config.batch_rows
        if split.rows_per_second:
            chunk = max(1, min(chunk, int(split.rows_per_second / 4) or 1))
        # Rows of a query have no stable position: dead letters of later stages name the
        # table (or query) and the partition the row came from.
        where = self.describe() + (f" (partition {split.label})"
                                   if split.label not in ("", "1/1") else "")
        with self._connection() as con:
            try:
                for batch in self.dialect.read(con, split.sql, list(split.columns),
                                               self.config.batch_rows):
                    for offset in range(0, batch.num_rows, chunk):
                        piece = batch.slice(offset, chunk) if batch.num_rows > chunk else batch
                        yield with_provenance(piece, where)
                        rows += piece.num_rows
                        if split.rows_per_second:
                            ahead = rows / split.rows_per_second - (time.monotonic() - started)
                            if ahead > 0:
                                time.sleep(ahead)
                # The columns, also when there are no rows (dropped if there were).
                yield with_provenance(pa.RecordBatch.from_pylist([], schema=pa.schema(
                    [pa.field(c.name, c.arrow) for c in split.columns])), where)
            except ConnectorError:
                raise
            except Exception as exc:
                raise self.dialect.error(exc, "reading rows") from None

    def describe(self) -> str:
        what = self.config.table or "query"
        return f"{self.dialect.product} {self.dialect.endpoint.describe()} {what}"

    # --- helpers -----------------------------------------------------------------------------

    def _connection(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def managed() -> Iterator[Any]:
            con = self.dialect.connect()
            try:
                yield con
            finally:
                try:
                    con.rollback()
                finally:
                    con.close()

        return managed()

    def _fetch(self, con: Any, sql: str, doing: str) -> list[tuple[Any, ...]]:
        try:
            cur = con.cursor()
            cur.execute(sql)
            return list(cur.fetchall())
        except ConnectorError:
            raise
        except Exception as exc:
            raise self.dialect.error(exc, doing) from None

    def _relation(self) -> str:
        if self.config.table:
            return self.dialect.table_name(self.config.table)
        return f"({self.config.query}) AS _dteg_q"

    def _check_relation(self, con: Any) -> None:
        if self.config.table and not self.dialect.table_exists(con, self.config.table):
            raise ConnectorError(
                f"table {self.config.table} does not exist in {self.dialect.product} database "
                f"{self.dialect.endpoint.database} ({self.dialect.endpoint.host}:"
                f"{self.dialect.endpoint.port})", step=self.ctx.step,
                hint="Check `table:` (schema.table, case-sensitive) and that the user may "
                "see it.")

    def _columns(self, con: Any) -> list[SourceColumn]:
        try:
            columns = self.dialect.probe(con, self._relation())
        except ConnectorError:
            raise
        except Exception as exc:
            raise self.dialect.error(exc, "reading the columns") from None
        names = {c.name for c in columns}
        if self.config.columns:
            by_name = {c.name: c for c in columns}
            missing = [c for c in self.config.columns if c not in by_name]
            if missing:
                raise ConnectorError(
                    f"column(s) {missing} are not in {self.config.table or 'the query'}",
                    step=self.ctx.step, hint=f"Columns: {', '.join(by_name)}.")
            columns = [by_name[c] for c in self.config.columns]
        if self.config.incremental and self.cursor_column() not in names:
            raise ConnectorError(
                f"the incremental cursor column `{self.cursor_column()}` is not in "
                f"{self.config.table or 'the query'}", step=self.ctx.step,
                hint="Set `incremental.cursor` to a column that grows on insert/update.")
        return columns

    def _bounds(self) -> Bounds | None:
        return self.ctx.plan.bounds

    def _predicates(self, bounds: Bounds | None) -> list[str]:
        if bounds is None:
            return []
        col = self.dialect.quote(bounds.column)
        out = []
        if bounds.lower is not None:
            out.append(f"{col} {'>=' if bounds.lower_inclusive else '>'} "
                       f"{self.dialect.literal(bounds.lower)}")
        if bounds.upper is not None:
            out.append(f"{col} {'<=' if bounds.upper_inclusive else '<'} "
                       f"{self.dialect.literal(bounds.upper)}")
        return out

    def _partition_column(self, con: Any) -> str:
        if self.config.partition_column:
            return self.config.partition_column
        if self.config.incremental:
            return self.cursor_column()
        keys = self.dialect.primary_key(con, self.config.table) if self.config.table else []
        if len(keys) != 1:
            raise ConnectorError(
                f"`partitions: {self.config.partitions}` needs `partition_column:` (the table "
                "has no single-column primary key to split on)", step=self.ctx.step,
                hint="Name a numeric, date or timestamp column that spreads the rows evenly.")
        return keys[0]

    def _ranges(self, con: Any, predicates: list[str]) -> list[list[str]]:
        if self.config.partitions <= 1:
            return [[]]
        column = self._partition_column(con)
        col = self.dialect.quote(column)
        where = f" WHERE {' AND '.join(predicates)}" if predicates else ""
        low, high = self._fetch(con, f"SELECT min({col}), max({col}) FROM "
                                f"{self._relation()}{where}", "finding the partition range")[0]
        try:
            cuts = partition_bounds(low, high, self.config.partitions)
        except TypeError as exc:
            raise ConnectorError(
                f"cannot split on `{column}`: {exc}", step=self.ctx.step,
                hint="Use a numeric, date or timestamp `partition_column:`.") from None
        if not cuts:
            return [[]]
        literals = [self.dialect.literal(c) for c in cuts]
        ranges = [[f"({col} < {literals[0]} OR {col} IS NULL)"]]
        ranges += [[f"{col} >= {a}", f"{col} < {b}"] for a, b in itertools.pairwise(literals)]
        ranges.append([f"{col} >= {literals[-1]}"])
        return ranges
