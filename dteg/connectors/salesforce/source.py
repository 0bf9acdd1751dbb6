"""Read a Salesforce object with a Bulk API 2.0 query job (``type: salesforce``): create the
job from SOQL, poll it, then page through its CSV results (``Sforce-Locator``). Values are
text, cast to the declared ``schema:``; a value that does not fit is a dead letter."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from dteg.components.contracts import BatchReader, Rejected, RunContext, as_batch
from dteg.components.records import dead_letters, row_json, with_provenance
from dteg.components.types import parse_type
from dteg.connectors.casting import CastPlan
from dteg.connectors.salesforce.client import BulkClient
from dteg.connectors.salesforce.config import SourceConfig
from dteg.errors import ConnectorError


class SalesforceReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    def splits(self) -> list[str]:
        return [self.config.soql()]

    def read(self, split: str) -> Iterator[pa.RecordBatch | Rejected]:
        client = BulkClient(self.config, self.ctx.step, self.ctx.base_dir)
        declared = {k: parse_type(v) for k, v in (self.config.schema_ or {}).items()}
        names: list[str] = list(declared)
        try:
            job = client.call("POST", "/jobs/query", f"creating a query job ({split})",
                              json={"operation": "query", "query": split}).json()
            job_id = str(job["id"])
            info = client.wait("query", job_id)
            if info.get("state") != "JobComplete":
                raise ConnectorError(
                    f"Salesforce query job {job_id} ended `{info.get('state')}`: "
                    f"{info.get('errorMessage') or 'no message'}", step=self.ctx.step,
                    hint="Check the SOQL (`fields:`, `where:` or `query:`).")
            locator: str | None = None
            page = 0
            while True:
                params: dict[str, Any] = {"maxRecords": self.config.max_records}
                if locator:
                    params["locator"] = locator
                answer = client.call("GET", f"/jobs/query/{job_id}/results",
                                     f"reading query job {job_id}'s results", params=params)
                page += 1
                table = _csv(answer.content)
                names = names or table.column_names
                yield from self._emit(table, declared, f"salesforce query job {job_id} "
                                      f"page {page} row {{}}")
                locator = answer.headers.get("Sforce-Locator")
                if not locator or locator == "null":
                    break
        finally:
            client.close()
        schema = pa.schema([pa.field(n, declared.get(n, pa.string())) for n in names])
        yield with_provenance(pa.RecordBatch.from_pylist([], schema=schema),
                              f"salesforce {self.config.object_name} row {{}}")

    def _emit(self, table: pa.Table, declared: dict[str, pa.DataType], where: str
              ) -> Iterator[pa.RecordBatch | Rejected]:
        if not table.num_rows:
            return
        typed, failures = CastPlan({n: t for n, t in declared.items()
                                    if n in table.column_names}, null_values=[""]).apply(table)
        failed = {i for i, _, _ in failures}
        positions = [i + 1 for i in range(table.num_rows) if i not in failed]
        if typed.num_rows:
            yield with_provenance(as_batch(typed), where, positions=positions)
        if failures:
            rows = table.take(pa.array([i for i, _, _ in failures])).to_pylist()
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[r for _, _, r in failures], columns=[c for _, c, _ in failures],
                records=[row_json(r, self.ctx.mask_row) for r in rows],
                sources=[where.replace("{}", str(i + 1)) for i, _, _ in failures]))

    def describe(self) -> str:
        return f"Salesforce {self.config.object_name} ({self.config.api_version})"


def _csv(data: bytes) -> pa.Table:
    """Every column as text (Salesforce CSV has no types); empty → ``""`` until cast."""
    if not data.strip():
        return pa.table({})
    header = pacsv.read_csv(io.BytesIO(data.split(b"\n", 1)[0] + b"\n")).column_names
    options = pacsv.ConvertOptions(column_types={n: pa.string() for n in header},
                                   strings_can_be_null=False)
    return pacsv.read_csv(io.BytesIO(data), convert_options=options)


def create(config: SourceConfig, ctx: RunContext) -> SalesforceReader:
    return SalesforceReader(config, ctx)
