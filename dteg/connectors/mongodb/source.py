"""Read a MongoDB collection (``find`` with a filter and a projection) or an aggregation
pipeline as Arrow batches: incremental on a field (saved state, settled like the SQL sources),
split into ranges of a field for parallel reads, schema declared or sampled.

The launcher (``dteg.run.state.prepare_run``) asks ``high_watermark`` before the run and hands
this run's bounds back through ``ctx.plan.bounds``; ``splits`` turns them into a query
(``{cursor: {$gt: lower, $lte: upper}}``, before the pipeline for an aggregation) and, with
``partitions:``, into ranges of ``partition_field``. A document whose value does not fit its
column is dead-lettered with the field and the reason.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from dteg.components.contracts import IncrementalReader, Rejected, RunContext
from dteg.components.plan import Bounds
from dteg.components.records import dead_letters, row_json, with_provenance
from dteg.connectors.mongodb import client as mongo
from dteg.connectors.mongodb.config import SourceConfig
from dteg.connectors.mongodb.documents import (
    Column,
    bson_kind,
    declared_columns,
    lookup,
    sample_columns,
    to_batch,
    to_json,
)
from dteg.connectors.sql.reader import partition_bounds
from dteg.errors import ConnectorError


@dataclass(frozen=True)
class MongoSplit:
    """One query of a read: its filter, the columns every split returns, a label."""

    query: dict[str, Any]
    columns: tuple[Column, ...]
    label: str = ""
    pipeline: tuple[dict[str, Any], ...] | None = field(default=None)


def _plain(value: Any) -> Any:
    """A cursor value as the state store keeps it: ObjectId → hex, Decimal128 → Decimal."""
    kind = bson_kind(value)
    if kind == "objectid":
        return str(value)
    if kind == "decimal":
        return value.to_decimal()
    if kind == "datetime" and not isinstance(value, dt.datetime):
        return value.as_datetime()  # a bson Timestamp
    return value


class MongoReader(IncrementalReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    # --- what the launcher asks --------------------------------------------------------------

    def cursor_column(self) -> str:
        assert self.config.incremental is not None
        return self.config.incremental.cursor

    def initial_cursor(self) -> Any:
        initial = self.config.incremental.initial if self.config.incremental else None
        if isinstance(initial, str):
            # "2026-01-01" compared with BSON dates must be a date: MongoDB compares values
            # of different types by type, never by value.
            try:
                when = dt.datetime.fromisoformat(initial)
            except ValueError:
                return initial
            return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
        return initial

    def high_watermark(self, lower: Any) -> Any:
        """The cursor's current maximum above ``lower`` (None: no new documents)."""
        cursor = self.cursor_column()
        query = self._query(Bounds(cursor, lower, None) if lower is not None else None)
        with self._client() as client:
            try:
                found = list(self._collection(client).find(
                    query, {cursor: 1}).sort(cursor, -1).limit(1))
            except Exception as exc:
                raise self._error(exc, "reading the cursor's high watermark") from None
        if not found:
            return None
        value = lookup(found[0], cursor.split("."))
        return None if value is None or bson_kind(value) == "nested" else _plain(value)

    # --- the contract ------------------------------------------------------------------------

    def splits(self) -> list[MongoSplit]:
        bounds = self.ctx.plan.bounds if self.config.incremental else None
        if bounds is not None and bounds.upper is None and bounds.upper_inclusive:
            return []  # incremental: nothing newer than the saved cursor
        query = self._query(bounds)
        pipeline = tuple(self.config.pipeline) if self.config.pipeline is not None else None
        with self._client() as client:
            collection = self._collection(client)
            try:
                columns = self._columns(collection, query)
                ranges = self._ranges(collection, query)
            except ConnectorError:
                raise
            except Exception as exc:
                raise self._error(exc, "planning the read") from None
        return [MongoSplit(q, tuple(columns), f"{i + 1}/{len(ranges)}", pipeline)
                for i, q in enumerate(ranges)]

    def read(self, split: MongoSplit) -> Iterator[pa.RecordBatch | Rejected]:
        columns = list(split.columns)
        where = self.describe() + (f" (range {split.label})"
                                   if split.label not in ("", "1/1") else "")
        position = 0
        with self._client() as client:
            collection = self._collection(client)
            try:
                if split.pipeline is not None:
                    docs = collection.aggregate([{"$match": split.query}, *split.pipeline],
                                                batchSize=self.config.batch_rows)
                else:
                    docs = collection.find(split.query, self.config.projection,
                                           batch_size=self.config.batch_rows)
                chunk: list[Any] = []
                for doc in docs:
                    chunk.append(doc)
                    if len(chunk) >= self.config.batch_rows:
                        yield from self._convert(chunk, columns, where, position)
                        position += len(chunk)
                        chunk = []
                if chunk:
                    yield from self._convert(chunk, columns, where, position)
            except ConnectorError:
                raise
            except Exception as exc:
                raise self._error(exc, "reading documents") from None
        # The columns, also when there are no documents (dropped if there were).
        yield with_provenance(pa.RecordBatch.from_pylist([], schema=pa.schema(
            [pa.field(c.name, c.arrow) for c in columns])), where + " document {}")

    def describe(self) -> str:
        return (f"MongoDB {self.config.endpoint().hosts} "
                f"{self.config.database_name()}.{self.config.collection}")

    # --- helpers -----------------------------------------------------------------------------

    def _convert(self, docs: list[Any], columns: list[Column], where: str,
                 first: int) -> Iterator[pa.RecordBatch | Rejected]:
        out = to_batch(docs, columns)
        if out.batch.num_rows:
            yield with_provenance(out.batch, where + " document {}",
                                  positions=[first + i for i in out.kept])
        if out.misfits:
            records, sources = [], []
            for index, _, _ in out.misfits:
                doc = docs[index]
                records.append(row_json(json.loads(to_json(doc)), self.ctx.mask_row))
                sources.append(f"{where} _id={doc.get('_id')}")
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[reason for _, _, reason in out.misfits], records=records,
                columns=[column for _, column, _ in out.misfits], sources=sources))

    def _client(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def managed() -> Iterator[Any]:
            client = mongo.connect(self.config, self.ctx.step)
            try:
                yield client
            finally:
                client.close()

        return managed()

    def _collection(self, client: Any) -> Any:
        return client[self.config.database_name()][self.config.collection]

    def _error(self, exc: BaseException, doing: str) -> ConnectorError:
        return mongo.error(exc, self.config, doing, self.ctx.step)

    def _cursor_value(self, value: Any) -> Any:
        """A saved cursor value as the query needs it (an ObjectId cursor is kept as hex)."""
        if isinstance(value, str) and self.cursor_column() == "_id":
            from bson import ObjectId

            if ObjectId.is_valid(value):
                return ObjectId(value)
        if isinstance(value, decimal.Decimal):
            from bson.decimal128 import Decimal128

            return Decimal128(value)
        return value

    def _query(self, bounds: Bounds | None) -> dict[str, Any]:
        parts = [self.config.filter] if self.config.filter else []
        if bounds is not None:
            condition: dict[str, Any] = {}
            if bounds.lower is not None:
                condition["$gte" if bounds.lower_inclusive else "$gt"] = self._cursor_value(
                    bounds.lower)
            if bounds.upper is not None:
                condition["$lte" if bounds.upper_inclusive else "$lt"] = self._cursor_value(
                    bounds.upper)
            if condition:
                parts.append({bounds.column: condition})
        if not parts:
            return {}
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def _columns(self, collection: Any, query: dict[str, Any]) -> list[Column]:
        if self.config.schema_ is not None:
            return declared_columns(self.config.schema_)
        size = self.config.sample_size
        if self.config.pipeline is not None:
            sample = collection.aggregate([{"$match": query}, *self.config.pipeline,
                                           {"$limit": size}])
        else:
            sample = collection.find(query, self.config.projection).limit(size)
        return sample_columns(sample)

    def _ranges(self, collection: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
        """``partitions:`` queries of about equal width over ``partition_field``, plus one for
        documents whose field holds another type (a range matches one BSON type only)."""
        n = self.config.partitions
        name = self.config.partition_field
        if n <= 1:
            return [query]
        ends = []
        for direction in (1, -1):
            found = list(collection.find({"$and": [query, {name: {"$ne": None}}]},
                                         {name: 1}).sort(name, direction).limit(1))
            ends.append(lookup(found[0], name.split(".")) if found else None)
        low, high = ends
        cuts = self._cuts(low, high, n)
        if not cuts:
            return [query]
        pieces: list[dict[str, Any]] = [{name: {"$lt": cuts[0]}}]
        pieces += [{name: {"$gte": a, "$lt": b}} for a, b in itertools.pairwise(cuts)]
        pieces.append({name: {"$gte": cuts[-1]}})
        pieces.append({"$nor": [{name: {"$lt": cuts[0]}}, {name: {"$gte": cuts[0]}}]})
        return [{"$and": [query, piece]} if query else piece for piece in pieces]

    def _cuts(self, low: Any, high: Any, n: int) -> list[Any]:
        kind = bson_kind(low)
        if kind != bson_kind(high):
            return []
        if kind == "objectid":
            from bson import ObjectId

            # ObjectIds start with their creation second: split that time range.
            times = partition_bounds(low.generation_time, high.generation_time, n)
            return [ObjectId.from_datetime(t) for t in times]
        if kind in ("int", "float", "datetime"):
            return partition_bounds(low, high, n)
        raise ConnectorError(
            f"cannot split `{self.config.partition_field}` into ranges: its values are "
            f"{kind}s", step=self.ctx.step,
            hint="Set `partition_field:` to a field of ObjectIds, numbers or dates, or "
            "`partitions: 1`.")


def create(config: SourceConfig, ctx: RunContext) -> MongoReader:
    return MongoReader(config, ctx)
