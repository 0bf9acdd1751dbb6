"""Arrow record helpers: the dead-letter schema and batch utilities. No Beam here."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from dteg.components.names import DEAD_LETTER_STEP

__all__ = ["DEAD_LETTER_SCHEMA", "DEAD_LETTER_STEP", "dead_letters", "row_json"]

DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("pipeline", pa.string()),
        pa.field("step", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("rule", pa.string()),
        pa.field("column", pa.string()),
        pa.field("source", pa.string()),
        pa.field("record", pa.string()),
        pa.field("failed_at", pa.timestamp("us", tz="UTC")),
    ]
)

MaskRow = Callable[[dict[str, Any]], dict[str, Any]]


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def row_json(row: dict[str, Any], mask_row: MaskRow | None = None) -> str:
    if mask_row is not None:
        row = mask_row(row)
    return json.dumps(row, default=_json_default, ensure_ascii=False)


def dead_letters(
    *,
    pipeline: str,
    step: str,
    reasons: Sequence[str],
    records: Sequence[str],
    rules: Sequence[str | None] | None = None,
    columns: Sequence[str | None] | None = None,
    sources: Sequence[str | None] | None = None,
) -> pa.RecordBatch:
    """Build a dead-letter batch; ``records`` are already-masked JSON (or raw text)."""
    n = len(reasons)
    now = dt.datetime.now(dt.timezone.utc)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([pipeline] * n, pa.string()),
            pa.array([step] * n, pa.string()),
            pa.array(list(reasons), pa.string()),
            pa.array(list(rules) if rules is not None else [None] * n, pa.string()),
            pa.array(list(columns) if columns is not None else [None] * n, pa.string()),
            pa.array(list(sources) if sources is not None else [None] * n, pa.string()),
            pa.array(list(records), pa.string()),
            pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        ],
        schema=DEAD_LETTER_SCHEMA,
    )
