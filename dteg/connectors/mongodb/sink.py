"""Load documents into a MongoDB collection: insert (append), upsert by key (merge) or replace
the collection, in unordered bulk writes of ``batch_size`` documents.

Parts write their rows into staging collections of this run (``_dteg_stage_…``), so nothing
reaches the target before the commit. The commit then copies them in bulk: a document the
server refuses (a duplicate key, a failed validation, an immutable ``_id`` changed) is a dead
letter with the server's own error, the others are loaded, and the counts say both.
``replace`` fills a fresh collection and renames it over the target. MongoDB has no
multi-document atomicity here (FerretDB has no transactions at all): a commit that crashes
half way leaves the documents it wrote; ``merge`` makes the next run exact, ``append`` may then
hold some twice (the run's settlement warns, as for every append sink).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.components.records import dead_letters, row_json
from dteg.components.sink_dead_letters import save_dead_letters
from dteg.connectors.mongodb import client as mongo
from dteg.connectors.mongodb.config import SinkConfig
from dteg.connectors.mongodb.documents import MISSING, lookup, to_documents, to_json
from dteg.errors import ConnectorError

NOT_IMPLEMENTED = 238  # FerretDB's answer to renameCollection with dropTarget


class _StagePart(PartWriter):
    """Rows of one part as documents ``{_id: n, d: document, e: problem}`` in a staging
    collection (``_id`` keeps their order; the user's own ``_id`` stays inside ``d``)."""

    def __init__(self, writer: MongoWriter, name: str) -> None:
        self.writer = writer
        self.name = name
        self.rows = 0
        self.client: Any = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self.client is None:
            self.client = mongo.connect(self.writer.config, self.writer.ctx.step)
            # Created even for a part of no rows: a replace of nothing empties the target.
            self.writer.database(self.client).create_collection(self.name)
        staged = []
        for doc, problem in to_documents(batch, self.writer.config.json_columns):
            item: dict[str, Any] = {"_id": self.rows, "d": doc}
            if problem:
                item["e"] = problem
            staged.append(item)
            self.rows += 1
        collection = self.writer.database(self.client)[self.name]
        size = self.writer.config.batch_size
        for start in range(0, len(staged), size):
            try:
                collection.insert_many(staged[start:start + size], ordered=False)
            except Exception as exc:
                raise self.writer.error(exc, "staging documents") from None

    def close(self) -> PartResult | None:
        if self.client is None:
            return None
        self.client.close()
        return PartResult(location=self.name, rows=self.rows)


class MongoWriter(BatchWriter):
    def __init__(self, config: SinkConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.keys = config.keys()
        step_hash = hashlib.sha1(f"{ctx.pipeline}/{ctx.step}/{config.collection}".encode())
        self.prefix = f"_dteg_stage_{step_hash.hexdigest()[:8]}_"
        self.run_prefix = self.prefix + hashlib.sha1(ctx.run_id.encode()).hexdigest()[:6] + "_"

    def database(self, client: Any) -> Any:
        return client[self.config.database_name()]

    def error(self, exc: BaseException, doing: str) -> ConnectorError:
        return mongo.error(exc, self.config, doing, self.ctx.step)

    def describe(self) -> str:
        return (f"MongoDB {self.config.endpoint().hosts} "
                f"{self.config.database_name()}.{self.config.collection} ({self.config.mode})")

    # --- the contract ------------------------------------------------------------------------

    def open_part(self, part_id: str) -> PartWriter:
        return _StagePart(self, self.run_prefix + part_id)

    def commit(self, parts: list[PartResult]) -> CommitResult:
        target = f"{self.config.endpoint().describe()}.{self.config.collection}"
        if not parts:  # not even a schema (no input at all): nothing to do
            return CommitResult(rows=0, target=target, detail="no rows")
        client = mongo.connect(self.config, self.ctx.step)
        try:
            db = self.database(client)
            # Staging a killed run of this step left behind (its parts never committed).
            self._drop(db, [n for n in db.list_collection_names()
                            if n.startswith(self.prefix) and not n.startswith(self.run_prefix)])
            if self.config.mode == "replace":
                loaded, dead = self._replace(db, parts)
            else:
                loaded, dead = self._write(db, parts)
            self._drop(db, [p.location for p in parts])
        except ConnectorError:
            raise
        except Exception as exc:
            raise self.error(exc, "writing documents") from None
        finally:
            client.close()
        detail = f"{loaded:,} documents {self.config.mode}"
        if dead:
            where = self._save_dead_letters(dead)
            detail += f"; {len(dead):,} refused by the server → {where}"
        return CommitResult(rows=loaded, target=target, detail=detail,
                            dead_lettered=len(dead))

    def abort(self, parts: list[PartResult]) -> None:
        """Drop this run's staging. Best effort: it runs while another error is on its way
        (often the server is gone), and must not replace that error; a later commit of this
        step drops what is left."""
        try:
            client = mongo.connect(self.config, self.ctx.step)
        except ConnectorError:
            return
        try:
            db = self.database(client)
            self._drop(db, [n for n in db.list_collection_names()
                            if n.startswith(self.run_prefix)])
        except Exception:  # see the docstring
            pass
        finally:
            client.close()

    # --- helpers -----------------------------------------------------------------------------

    def _staged(self, db: Any, parts: list[PartResult]) -> Iterator[list[dict[str, Any]]]:
        """Staged documents in chunks of ``batch_size``, part by part, in written order."""
        size = self.config.batch_size
        for part in sorted(parts, key=lambda p: p.location):
            chunk: list[dict[str, Any]] = []
            for item in db[part.location].find({}).sort("_id", 1).batch_size(size):
                chunk.append(item)
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

    def _write(self, db: Any, parts: list[PartResult]) -> tuple[int, list[tuple[dict, str]]]:
        """append: InsertOne per document; merge: ReplaceOne on the key with upsert."""
        from pymongo import InsertOne, ReplaceOne

        target = db[self.config.collection]
        if self.keys:
            # Without an index on the key every upsert scans the collection.
            target.create_index([(k, 1) for k in self.keys], name="dteg_merge_key")
        loaded = 0
        dead: list[tuple[dict, str]] = []
        for chunk in self._staged(db, parts):
            docs: list[dict[str, Any]] = []
            for item in chunk:
                reason = item.get("e") or self._key_problem(item["d"])
                if reason:
                    dead.append((item["d"], reason))
                else:
                    docs.append(item["d"])
            if self.keys:
                # Last document per key wins (as in the SQL merge); the others are merged.
                latest = {self._key(d): d for d in docs}
                loaded += len(docs) - len(latest)
                docs = list(latest.values())
                ops: list[Any] = [ReplaceOne({k: lookup(d, k.split(".")) for k in self.keys},
                                             d, upsert=True) for d in docs]
            else:
                ops = [InsertOne(d) for d in docs]
            written, refused = self._bulk(target, ops, docs)
            loaded += written
            dead += refused
        return loaded, dead

    def _replace(self, db: Any, parts: list[PartResult]) -> tuple[int, list[tuple[dict, str]]]:
        """Fill a fresh collection, then rename it over the target."""
        from pymongo import InsertOne

        fresh_name = self.run_prefix + "replace"
        db.drop_collection(fresh_name)
        db.create_collection(fresh_name)
        fresh = db[fresh_name]
        loaded = 0
        dead: list[tuple[dict, str]] = []
        for chunk in self._staged(db, parts):
            docs = [item["d"] for item in chunk if not item.get("e")]
            dead += [(item["d"], item["e"]) for item in chunk if item.get("e")]
            written, refused = self._bulk(fresh, [InsertOne(d) for d in docs], docs)
            loaded += written
            dead += refused
        from pymongo.errors import OperationFailure

        try:
            fresh.rename(self.config.collection, dropTarget=True)
        except OperationFailure as exc:
            if exc.code != NOT_IMPLEMENTED:
                raise
            # FerretDB cannot rename over an existing collection: drop it first (readers see
            # no collection for that moment; MongoDB itself swaps in one step).
            db.drop_collection(self.config.collection)
            fresh.rename(self.config.collection)
        return loaded, dead

    def _bulk(self, target: Any, ops: list[Any], docs: list[dict[str, Any]]
              ) -> tuple[int, list[tuple[dict, str]]]:
        """One unordered bulk write: (documents written, (document, server error) refused)."""
        from pymongo.errors import BulkWriteError

        if not ops:
            return 0, []
        try:
            target.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not errors:  # a write concern error: nothing to pin on a document
                raise self.error(exc, "writing documents") from None
            refused = [(docs[e["index"]], f"MongoDB refused the document: {e.get('errmsg')} "
                        f"(code {e.get('code')})") for e in errors]
            return len(ops) - len(refused), refused
        return len(ops), []

    def _key(self, doc: dict[str, Any]) -> str:
        return to_json([lookup(doc, k.split(".")) for k in self.keys])

    def _key_problem(self, doc: dict[str, Any]) -> str | None:
        for key in self.keys:
            value = lookup(doc, key.split("."))
            if value is None or value is MISSING:
                return f"merge key field `{key}` has no value"
        return None

    def _drop(self, db: Any, names: list[str]) -> None:
        for name in names:
            db.drop_collection(name)

    def _save_dead_letters(self, dead: list[tuple[dict, str]]) -> str:
        """The refused documents as dead letters (DEAD_LETTER_SCHEMA, one JSON line each),
        where the pipeline's other dead letters go (``pipeline.dead_letter``)."""
        batch = dead_letters(
            pipeline=self.ctx.pipeline, step=self.ctx.step, reasons=[r for _, r in dead],
            records=[row_json(json.loads(to_json(d)), None) for d, _ in dead],
            sources=[f"{self.describe()} _id={d.get('_id')}" for d, _ in dead])
        return save_dead_letters(self.ctx, batch)


def create(config: SinkConfig, ctx: RunContext) -> MongoWriter:
    return MongoWriter(config, ctx)
