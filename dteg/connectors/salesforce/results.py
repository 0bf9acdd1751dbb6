"""What Salesforce did with a job's records: its ``failedResults`` become dead letters with
Salesforce's error, its ``successfulResults`` are counted."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa

from dteg.components.contracts import RunContext
from dteg.components.records import dead_letters


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def failed_batch(ctx: RunContext, job_id: str, failed: list[dict[str, str]]
                 ) -> pa.RecordBatch:
    """Dead letters (DEAD_LETTER_SCHEMA) for the failed results of one job."""
    reasons, records, sources, columns = [], [], [], []
    for number, row in enumerate(failed, start=1):
        error = row.get("sf__Error") or "rejected by Salesforce (no error text)"
        fields = {k: v for k, v in row.items() if not k.startswith("sf__")}
        reasons.append(f"Salesforce rejected the record: {error}")
        records.append(json.dumps(fields, ensure_ascii=False))
        sources.append(f"salesforce ingest job {job_id} failed result {number}")
        columns.append(_field_of(error))
    return dead_letters(pipeline=ctx.pipeline, step=ctx.step, reasons=reasons,
                        records=records, sources=sources, columns=columns)


def _field_of(error: str) -> str | None:
    """The field an error names (``REQUIRED_FIELD_MISSING:…:LastName --``), if any."""
    parts = error.rsplit(":", 1)
    if len(parts) == 2:
        name = parts[1].strip().removesuffix("--").strip()
        return name or None
    return None
