"""Load into a BigQuery table with the ``google-cloud-bigquery`` client.

``strategy: batch`` (default): each part is written as a local Parquet file and loaded, when
it closes, into a work table ``<table>__dteg_<run>`` by a load job (free, no streaming
buffer). ``commit`` creates the target from the Arrow schema (with ``partitioning`` and
``clustering``) or adds new columns, then runs one query job: ``INSERT … SELECT`` (append),
a ``WRITE_TRUNCATE`` query (replace) or a ``MERGE`` on ``key`` (the last row per key wins);
the work table is dropped after. Every job has an id derived from the run, step and part:
when a retry meets a job that was already created (409), dteg waits for that job instead of
starting it again, so a retry never doubles rows.

``strategy: stream``: each micro-batch goes out as streaming inserts (``insertAll``, 500
rows a request) with an ``insertId`` per row (``<run>-<part>-<row>``), which BigQuery uses to
drop the duplicates a retried request would otherwise create.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dteg.components.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.connectors import retry
from dteg.connectors.bigquery.config import SinkConfig
from dteg.connectors.bigquery.dialect import bq_type, q, schema_fields
from dteg.connectors.file_sink import conform
from dteg.connectors.merge_order import with_merge_order
from dteg.errors import ConfigError, ConnectorError

log = logging.getLogger("dteg.bigquery")
PART_COL, ROW_COL = "_dteg_part", "_dteg_row"
INSERT_ROWS = 500  # rows per insertAll request (BigQuery recommends ≤ 500)


def _job_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode("ascii")
    return value


class _Part(PartWriter):
    def __init__(self, sink: BigQueryWriter, part_id: str) -> None:
        self.sink = sink
        self.part_id = part_id
        self.path = os.path.join(sink.spool_dir, f"part-{part_id}.parquet")
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.rows = 0
        self.opened = time.time_ns()

    def write(self, batch: pa.RecordBatch) -> None:
        if self.writer is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.schema = batch.schema
            self.writer = pq.ParquetWriter(self.path, self.sink.file_schema(batch.schema),
                                           coerce_timestamps="us",
                                           allow_truncated_timestamps=True)
        elif batch.schema != self.schema:
            assert self.schema is not None
            batch = conform(batch, self.schema, step=self.sink.ctx.step)
        if not batch.num_rows:
            return  # the staged file now has the schema; that is all a zero-row batch says
        if self.sink.merging:
            batch = with_merge_order(batch, part=self.opened, first_row=self.rows,
                                     part_column=PART_COL, row_column=ROW_COL)
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self) -> PartResult | None:
        if self.writer is None:
            return None
        self.writer.close()
        assert self.schema is not None
        size = os.path.getsize(self.path)
        extra = {"schema": schema_fields(self.schema), "part_id": self.part_id}
        if self.sink.config.strategy == "stream":  # committed on this worker, right away
            return PartResult(self.path, self.rows, size, extra=extra)
        self.sink.load_work_table(self.path, self.part_id, self.schema)
        os.remove(self.path)
        return PartResult(self.sink.work_table, self.rows, size, extra=extra)


class BigQueryWriter(BatchWriter):
    def __init__(self, config: SinkConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.merging = config.mode == "merge"
        self.target = f"{config.project}.{config.dataset}.{config.table}"
        self.work_table = f"{self.target}__dteg_{_job_safe(ctx.run_id)}"
        self.job_prefix = _job_safe(f"dteg_{ctx.pipeline}_{ctx.run_id}_{ctx.step}")
        self.spool_dir = os.path.join(ctx.state_dir, "staging", ctx.run_id, ctx.step)
        self._client: Any = None

    # --- client and jobs -----------------------------------------------------------------

    def client(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            from google.cloud import bigquery
        except ImportError:
            raise ConfigError("the bigquery sink needs google-cloud-bigquery",
                              hint="Install it with `pip install 'dteg[bigquery]'`.") from None
        c = self.config
        credentials: Any = None
        if c.credentials_file:
            from google.oauth2 import service_account

            credentials = service_account.Credentials.from_service_account_file(
                self.ctx.resolve_path(c.credentials_file))
        elif c.api_endpoint:
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()
        options = {"api_endpoint": c.api_endpoint} if c.api_endpoint else None
        self._client = bigquery.Client(project=c.project, credentials=credentials,
                                       location=c.location, client_options=options)
        return self._client

    def _retry(self, what: str, fn: Callable[[], Any]) -> Any:
        return retry.call(fn, what=what, settings=self.config.retry, step=self.ctx.step)

    def run_job(self, job_id: str, start: Callable[[str], Any], what: str) -> Any:
        """Start a job under a fixed id and wait for it. A retry after a lost answer meets
        409 (the job exists) and waits for that job instead; a job that ran and failed for
        a transient reason is started again under the next id."""
        from google.api_core.exceptions import Conflict

        attempt = [0]

        def once() -> Any:
            jid = job_id if attempt[0] == 0 else f"{job_id}_r{attempt[0]}"
            try:
                job = start(jid)
            except Conflict:
                job = self.client().get_job(jid, location=self.config.location)
            try:
                job.result()
            except Exception as exc:
                if retry.is_transient(exc):
                    attempt[0] += 1
                raise
            return job

        try:
            return self._retry(what, once)
        except ConnectorError:
            raise
        except Exception as exc:
            raise ConnectorError(f"{what} failed: {_message(exc)}", step=self.ctx.step,
                                 hint="Check the table's schema and your permissions; the "
                                 "target was not changed by this job.") from None

    # --- parts -----------------------------------------------------------------------------

    def file_schema(self, schema: pa.Schema) -> pa.Schema:
        if self.merging:
            schema = schema.append(pa.field(PART_COL, pa.int64())).append(
                pa.field(ROW_COL, pa.int64()))
        return schema

    def ensure_dataset(self) -> None:
        if not self.config.create_dataset:
            return
        from google.cloud import bigquery

        dataset = bigquery.Dataset(f"{self.config.project}.{self.config.dataset}")
        if self.config.location:
            dataset.location = self.config.location
        self._retry(f"creating dataset {self.config.dataset}",
                    lambda: self.client().create_dataset(dataset, exists_ok=True))

    def load_work_table(self, path: str, part_id: str, schema: pa.Schema) -> None:
        from google.cloud import bigquery

        self.ensure_dataset()
        fields = [bigquery.SchemaField.from_api_repr(f)
                  for f in schema_fields(self.file_schema(schema))]
        job_config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET, schema=fields,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED)

        def start(job_id: str) -> Any:
            with open(path, "rb") as fh:
                return self.client().load_table_from_file(
                    fh, self.work_table, job_id=job_id, job_config=job_config,
                    size=os.path.getsize(path), location=self.config.location)

        self.run_job(_job_safe(f"{self.job_prefix}_{part_id}_load"), start,
                     f"loading part {part_id} into {self.work_table}")

    def open_part(self, part_id: str) -> PartWriter:
        return _Part(self, part_id)

    # --- commit ----------------------------------------------------------------------------

    def commit(self, parts: list[PartResult]) -> CommitResult:
        rows = sum(p.rows for p in parts)
        if not parts:  # not even a schema (no input at all): nothing to create
            return CommitResult(rows=0, target=self.describe(), detail="no rows")
        if not rows and (self.config.mode != "replace" or self._empty_existing()):
            # No rows: `append`/`merge` add nothing; `replace` emptied the existing table
            # (its columns stay: the types a header-only file infers must not fail the run).
            if self.config.strategy == "batch":
                self._drop_work_table()
            return CommitResult(rows=0, target=self.describe(), detail="no rows")
        fields: dict[str, dict[str, str]] = {}
        for part in parts:
            for f in part.extra["schema"]:
                fields.setdefault(f["name"], f)
        columns = self._prepare_target(list(fields.values()))
        if self.config.strategy == "stream":
            for part in parts:
                self._insert_rows(part, columns)
            return CommitResult(rows=rows, target=self.describe(), detail="streaming inserts")
        try:
            self._query(columns, parts)
        finally:
            self._drop_work_table()
        return CommitResult(rows=rows, target=self.describe(), detail=self.config.mode)

    def _empty_existing(self) -> bool:
        """Empty the target in one job if it exists (False: there is no target yet)."""
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        def get() -> Any:
            try:
                return self.client().get_table(self.target)
            except NotFound:
                return None

        if self._retry(f"reading {self.target}", get) is None:
            return False
        job_config = bigquery.QueryJobConfig(
            destination=self.target,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)
        sql = f"SELECT * FROM {q(self.target)} WHERE FALSE"

        def start(job_id: str) -> Any:
            return self.client().query(sql, job_config=job_config, job_id=job_id,
                                       location=self.config.location, job_retry=None)

        self.run_job(f"{self.job_prefix}_commit", start, f"emptying {self.target}")
        return True

    def _prepare_target(self, fields: list[dict[str, str]]) -> list[str]:
        """Create the target, or add the data's new columns; the columns to load."""
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        c = self.config
        key_columns = c.keys()
        missing = [k for k in key_columns if k not in {f["name"] for f in fields}]
        if missing:
            raise ConnectorError(f"merge key column(s) {missing} are not in the data",
                                 step=self.ctx.step, hint="Fix `key:`.")
        self.ensure_dataset()
        client = self.client()
        schema = [bigquery.SchemaField.from_api_repr(f) for f in fields]

        def get() -> Any:
            try:
                return client.get_table(self.target)
            except NotFound:
                return None

        table = self._retry(f"reading {self.target}", get)
        if table is None:
            new = bigquery.Table(self.target, schema=schema)
            if c.partitioning is not None:
                expiration = (int(c.partitioning.expiration_days * 86_400_000)
                              if c.partitioning.expiration_days else None)
                new.time_partitioning = bigquery.TimePartitioning(
                    type_=c.partitioning.type, field=c.partitioning.field,
                    expiration_ms=expiration)
            if c.clustering:
                new.clustering_fields = c.clustering
            self._retry(f"creating {self.target}",
                        lambda: client.create_table(new, exists_ok=True))
            return [f["name"] for f in fields]
        existing = {f.name.lower(): f for f in table.schema}
        added = [f for f in schema if f.name.lower() not in existing]
        changed = [f"{f.name} (table: {existing[f.name.lower()].field_type}, data: "
                   f"{f.field_type})" for f in schema if f.name.lower() in existing
                   and not _fits(f.field_type, existing[f.name.lower()].field_type)]
        if changed:
            raise ConnectorError(
                f"column(s) of {self.target} cannot hold the data's values: "
                f"{', '.join(changed)}", step=self.ctx.step,
                hint="Cast them with a `map` step; BigQuery cannot widen a column in place.")
        if added and c.schema_evolution == "freeze":
            raise ConnectorError(
                f"the data does not match table {self.target} and `schema_evolution: freeze` "
                "forbids changing it: new column(s) " + ", ".join(
                    f"{f.name} ({f.field_type})" for f in added), step=self.ctx.step,
                hint="Use `schema_evolution: evolve` or `discard_columns`, or drop them with "
                "a `map` step.")
        if added and c.schema_evolution == "evolve":
            table.schema = [*table.schema, *added]
            self._retry(f"adding column(s) to {self.target}",
                        lambda: client.update_table(table, ["schema"]))
            return [f["name"] for f in fields]
        return [f["name"] for f in fields if f["name"].lower() in existing]

    def _query(self, columns: list[str], parts: list[PartResult]) -> None:
        from google.cloud import bigquery

        c = self.config
        cols = ", ".join(f"`{n}`" for n in columns)
        work = q(self.work_table)
        job_config = bigquery.QueryJobConfig()
        if c.mode == "append":
            sql = f"INSERT INTO {q(self.target)} ({cols}) SELECT {cols} FROM {work}"
        elif c.mode == "replace":
            sql = f"SELECT {cols} FROM {work}"
            job_config.destination = self.target
            job_config.write_disposition = bigquery.WriteDisposition.WRITE_TRUNCATE
        else:
            key_columns = c.keys()
            keys = [f"`{k}`" for k in key_columns]
            latest = (f"(SELECT * EXCEPT (_dteg_rn) FROM (SELECT *, ROW_NUMBER() OVER "
                      f"(PARTITION BY {', '.join(keys)} ORDER BY {PART_COL} DESC, {ROW_COL} "
                      f"DESC) AS _dteg_rn FROM {work}) WHERE _dteg_rn = 1)")
            on = " AND ".join(f"T.{k} = S.{k}" for k in keys)
            sets = ", ".join(f"`{n}` = S.`{n}`" for n in columns if f"`{n}`" not in keys)
            matched = f" WHEN MATCHED THEN UPDATE SET {sets}" if sets else ""
            values = ", ".join(f"S.`{n}`" for n in columns)
            sql = (f"MERGE INTO {q(self.target)} AS T USING {latest} AS S ON {on}{matched} "
                   f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})")

        def start(job_id: str) -> Any:
            # job_retry=None: dteg retries itself, under the same job id (see run_job).
            return self.client().query(sql, job_config=job_config, job_id=job_id,
                                       location=c.location, job_retry=None)

        self.run_job(f"{self.job_prefix}_commit", start, f"{c.mode} into {self.target}")

    def _insert_rows(self, part: PartResult, columns: list[str]) -> None:
        client = self.client()
        part_id = part.extra["part_id"]
        table = pq.read_table(part.location, columns=columns)
        offset = 0
        for batch in table.to_batches(max_chunksize=INSERT_ROWS):
            rows = [{k: _json_value(v) for k, v in r.items()} for r in batch.to_pylist()]
            ids = [f"{self.ctx.run_id}-{part_id}-{offset + i}" for i in range(len(rows))]
            offset += len(rows)

            def send(rows: list[dict[str, Any]] = rows, ids: list[str] = ids) -> None:
                errors = client.insert_rows_json(self.target, rows, row_ids=ids)
                if errors:
                    raise ConnectorError(
                        f"BigQuery refused rows of {self.target}: "
                        f"{json.dumps(errors[:3], default=str)}", step=self.ctx.step,
                        hint="Check the data against the table's schema.")

            self._retry(f"streaming rows into {self.target}", send)
        with contextlib.suppress(OSError):
            os.remove(part.location)

    def _drop_work_table(self) -> None:
        try:
            self.client().delete_table(self.work_table, not_found_ok=True)
        except Exception as exc:
            log.warning("step `%s`: could not drop the work table %s (%s)", self.ctx.step,
                        self.work_table, _message(exc))

    def abort(self, parts: list[PartResult]) -> None:
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        if self.config.strategy == "batch" and self._client is not None:
            self._drop_work_table()

    def describe(self) -> str:
        return f"bigquery:{self.target}"


_WIDER = {"INT64": {"NUMERIC", "BIGNUMERIC", "FLOAT64"}, "NUMERIC": {"BIGNUMERIC"},
          "DATE": {"DATETIME", "TIMESTAMP"}}


def _fits(data: str, table: str) -> bool:
    aliases = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
    data, table = aliases.get(data, data), aliases.get(table, table)
    return data == table or table in _WIDER.get(data, set())


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__


def create(config: SinkConfig, ctx: RunContext) -> BigQueryWriter:
    return BigQueryWriter(config, ctx)


__all__ = ["BigQueryWriter", "bq_type", "create"]
