"""Load rows into Salesforce with Bulk API 2.0 ingest jobs (``type: salesforce``, alias
``salesforce-loader``): insert, upsert by an external id, update or delete.

Parts stage CSV files locally; the commit cuts them into jobs of at most ``max_job_bytes``
(Bulk API 2.0 takes 150 MB of base64 per job, about 100 MB of CSV), and runs each job:
create → upload → UploadComplete → poll with backoff → results. Records Salesforce rejects
(``failedResults``) become dead letters with Salesforce's error; ``successfulResults`` are
what the run reports as loaded, so read = loaded + dead-lettered.

Salesforce has no transaction across jobs: a job that fails after others completed leaves
those loaded. Upsert, update and delete give the same result when run again; insert does not.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dteg.components.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.components.sink_dead_letters import save_dead_letters, write_jsonl
from dteg.connectors.salesforce import fields, results
from dteg.connectors.salesforce.client import BulkClient
from dteg.connectors.salesforce.config import SinkConfig
from dteg.errors import ConnectorError

log = logging.getLogger("dteg.salesforce")


def _for_csv(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Salesforce's CSV spellings: ISO 8601 timestamps with Z, true/false."""
    columns = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S.000Z")
        elif pa.types.is_decimal(field.type):
            column = pc.cast(column, pa.string())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _mapped(batch: pa.RecordBatch, mapping: dict[str, str | None] | None) -> pa.RecordBatch:
    """Columns renamed by ``fields:``; those mapped to ``null`` dropped."""
    if not mapping:
        return batch
    pairs = fields.renamed(batch.schema.names, mapping)
    keep = [i for i, (_, new) in enumerate(pairs) if new is not None]
    return pa.RecordBatch.from_arrays([batch.column(i) for i in keep],
                                      names=[str(pairs[i][1]) for i in keep])


class _Part(PartWriter):
    def __init__(self, path: Path, mapping: dict[str, str | None] | None) -> None:
        self.path = path
        self.mapping = mapping
        self.rows = 0
        self.writer: Any = None
        self.columns: list[str] = []

    def write(self, batch: pa.RecordBatch) -> None:
        if not self.columns:
            self.columns = batch.schema.names
        batch = _for_csv(_mapped(batch, self.mapping))
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
            self.writer = pacsv.CSVWriter(str(self.path), batch.schema, write_options=options)
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self) -> PartResult | None:
        if self.writer is None:
            return None
        self.writer.close()
        # The columns as they arrived (before `fields:`), for the checks at commit.
        self.path.with_suffix(".columns").write_text("\n".join(self.columns))
        return PartResult(str(self.path), self.rows, self.path.stat().st_size)


@dataclass
class _Job:
    header: bytes
    body: list[bytes]
    size: int
    rows: int


class SalesforceWriter(BatchWriter):
    def __init__(self, config: SinkConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    def open_part(self, part_id: str) -> PartWriter:
        return _Part(self.ctx.staging_dir / f"salesforce-{part_id}.csv", self.config.fields)

    def commit(self, parts: list[PartResult]) -> CommitResult:
        jobs = self._jobs(parts)
        target = self.describe()
        if not jobs:
            self.abort(parts)
            return CommitResult(0, target, "no rows: no job was created")
        client = BulkClient(self.config, self.ctx.step, self.ctx.base_dir)
        loaded = 0
        ids = []
        refused: list[pa.RecordBatch] = []
        try:
            jobs = self._checked(client, jobs, parts)  # before any record is sent
            for job in jobs:
                job_id, ok, bad = self._run(client, job)
                ids.append(job_id)
                loaded += ok
                if bad is not None:
                    refused.append(bad)
        finally:
            client.close()
            self.abort(parts)
        failed = sum(b.num_rows for b in refused)
        detail = f"{len(jobs)} job(s) {', '.join(ids)}"
        if failed:
            detail += f"; {failed} record(s) rejected → {self._save(refused)}"
        return CommitResult(loaded, target, detail, dead_lettered=failed)

    def abort(self, parts: list[PartResult]) -> None:
        for part in parts:
            Path(part.location).unlink(missing_ok=True)
            Path(part.location).with_suffix(".columns").unlink(missing_ok=True)

    def describe(self) -> str:
        return (f"Salesforce {self.config.object_name} ({self.config.operation}, "
                f"{self.config.api_version})")

    # --- helpers -----------------------------------------------------------------------------

    def _jobs(self, parts: list[PartResult]) -> list[_Job]:
        """Part files cut into jobs of at most ``max_job_bytes`` of CSV (header included)."""
        jobs: list[_Job] = []
        for part in parts:
            if not part.rows:
                continue
            with open(part.location, "rb") as fh:
                header = fh.readline()
                for record in _records(fh):
                    current = jobs[-1] if jobs else None
                    if current is None or current.header != header or \
                            current.size + len(record) > self.config.max_job_bytes:
                        if len(header) + len(record) > self.config.max_job_bytes:
                            raise ConnectorError(
                                f"one record is {len(record):,} bytes of CSV, more than "
                                f"`max_job_bytes` ({self.config.max_job_bytes:,})",
                                step=self.ctx.step, hint="Raise `max_job_bytes:` (at most "
                                "100 MB) or load that record's large fields elsewhere.")
                        current = _Job(header, [], len(header), 0)
                        jobs.append(current)
                    current.body.append(record)
                    current.size += len(record)
                    current.rows += 1
        return jobs

    def _checked(self, client: BulkClient, jobs: list[_Job], parts: list[PartResult]
                 ) -> list[_Job]:
        """Jobs with the header Salesforce spells, after the object's describe: a column that
        matches no field is an error here, what Salesforce would refuse per record a warning."""
        obj = self.config.object_name
        described = client.call("GET", f"/sobjects/{obj}/describe",
                                 f"describing Salesforce object {obj}").json()
        known = fields.parse_describe(described)
        columns = _arrived(parts)
        checked: dict[bytes, bytes] = {}
        for job in jobs:
            if job.header not in checked:
                header = next(csv.reader([job.header.decode("utf-8")]))
                result = fields.check_header(
                    header, columns=columns, fields=known, obj=obj,
                    operation=self.config.operation, external_id=self.config.external_id_field,
                    mapping=self.config.fields, protected=self.ctx.protected_columns,
                    step=self.ctx.step, where=self.ctx.where)
                for warning in result.warnings:
                    log.warning("%s", warning)
                checked[job.header] = (",".join(result.names) + "\n").encode("utf-8")
        return [_Job(checked[j.header], j.body, j.size - len(j.header) + len(checked[j.header]),
                     j.rows) for j in jobs]

    def _run(self, client: BulkClient, job: _Job) -> tuple[str, int, pa.RecordBatch | None]:
        spec: dict[str, Any] = {"object": self.config.object_name,
                                "operation": self.config.operation, "contentType": "CSV",
                                "lineEnding": "LF", "columnDelimiter": "COMMA"}
        if self.config.operation == "upsert":
            spec["externalIdFieldName"] = self.config.external_id_field
        what = f"creating a {self.config.operation} job on {self.config.object_name}"
        job_id = str(client.call("POST", "/jobs/ingest", what, json=spec).json()["id"])
        client.call("PUT", f"/jobs/ingest/{job_id}/batches", f"uploading job {job_id}'s CSV",
                    data=job.header + b"".join(job.body), content_type="text/csv")
        client.call("PATCH", f"/jobs/ingest/{job_id}", f"closing job {job_id}",
                    json={"state": "UploadComplete"})
        info = client.wait("ingest", job_id)
        if info.get("state") != "JobComplete":
            raise ConnectorError(
                f"Salesforce ingest job {job_id} ended `{info.get('state')}`: "
                f"{info.get('errorMessage') or 'no message'}", step=self.ctx.step,
                hint="Check the CSV's columns against the object's fields "
                f"({', '.join(job.header.decode().strip().split(','))}).")
        failed_rows: list[dict[str, str]] = []
        batch = None
        if int(info.get("numberRecordsFailed") or 0):
            text = client.call("GET", f"/jobs/ingest/{job_id}/failedResults/",
                               f"reading job {job_id}'s failed results").text
            failed_rows = results.rows_of(text)
            batch = results.failed_batch(self.ctx, job_id, failed_rows)
        ok_text = client.call("GET", f"/jobs/ingest/{job_id}/successfulResults/",
                              f"reading job {job_id}'s successful results").text
        ok = len(results.rows_of(ok_text))
        if ok + len(failed_rows) != job.rows:
            raise ConnectorError(
                f"Salesforce ingest job {job_id} accounts for {ok + len(failed_rows)} of "
                f"{job.rows} records ({ok} succeeded, {len(failed_rows)} failed)",
                step=self.ctx.step, retriable=True,
                hint="Look at the job in Setup → Bulk Data Load Jobs; run again (upserts "
                "are exact when repeated).")
        return job_id, ok, batch

    def _save(self, refused: list[pa.RecordBatch]) -> str:
        """Salesforce's refusals where the pipeline's dead letters go (or
        ``failed_records_path:``)."""
        batch = pa.Table.from_batches(refused).combine_chunks().to_batches()[0]
        if self.config.failed_records_path is None:
            return save_dead_letters(self.ctx, batch)
        text = self.config.failed_records_path.format(
            pipeline=self.ctx.pipeline, run_id=self.ctx.run_id, step=self.ctx.step)
        return write_jsonl(Path(self.ctx.resolve_path(text)), batch)


def _arrived(parts: list[PartResult]) -> list[str]:
    """The columns the parts received, before `fields:` renamed them."""
    for part in parts:
        names = Path(part.location).with_suffix(".columns")
        if part.rows and names.exists():
            return names.read_text().splitlines()
    return []


def _records(fh: Any) -> Any:
    """CSV records as bytes, a quoted field's line breaks kept inside its record."""
    pending = b""
    for line in fh:
        pending += line
        if pending.count(b'"') % 2 == 0:
            yield pending if pending.endswith(b"\n") else pending + b"\n"
            pending = b""
    if pending:
        yield pending + b"\n"


def create(config: SinkConfig, ctx: RunContext) -> SalesforceWriter:
    return SalesforceWriter(config, ctx)


__all__ = ["SalesforceWriter", "create"]
