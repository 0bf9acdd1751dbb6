"""What Salesforce did with a job's records: its ``failedResults`` become dead letters with
Salesforce's error, its ``successfulResults`` are counted."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.contracts import RunContext
from dteg.components.records import dead_letters

NAMESPACE = "dteg"  # dteg.beam.io's counter namespace: the run report reads it


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


def write_dead_letters(path: Path, batch: pa.RecordBatch) -> None:
    """Append ``batch`` as JSON Lines (the dead-letter sink's default format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for row in batch.to_pylist():
            fh.write(json.dumps(row, default=_iso, ensure_ascii=False) + "\n")


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def count_dead_letters(step: str, n: int) -> None:
    """Count ``n`` dead letters for the run report, the way stages' dead letters are counted
    (a sink's contract has no dead-letter output; Beam metrics reach the report). Outside a
    Beam worker (the test kit) this is a no-op counter."""
    if not n:
        return
    try:
        from apache_beam.metrics import Metrics
    except ImportError:  # not under Beam: nothing counts
        return
    Metrics.counter(NAMESPACE, f"{step}:dead_letter").inc(n)
