"""Arrow record helpers: the dead-letter schema and batch utilities. No Beam here."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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

# Where each row was read, carried beside the data so a stage's dead letters can say it: two
# hidden columns a source adds (the sinks drop them before writing). ``_dteg_source`` is
# dictionary-encoded (one entry per file or partition: cheap), with ``{}`` marking the place
# of ``_dteg_position`` (a line, row or offset): ``data/a.csv:{}``, ``orders/0@{}``.
SOURCE_COLUMN = "_dteg_source"
POSITION_COLUMN = "_dteg_position"
PROVENANCE_COLUMNS = (SOURCE_COLUMN, POSITION_COLUMN)

Data = TypeVar("Data", pa.RecordBatch, pa.Table)


def with_provenance(data: Data, where: str, first: int | None = None,
                    positions: Sequence[int] | None = None) -> Data:
    """``data`` with its rows' provenance: ``where`` (``{}`` marks the position) and either
    consecutive positions from ``first`` or one position per row."""
    import numpy as np

    n = data.num_rows
    source = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)),
                                            pa.array([where], pa.string()))
    if positions is not None:
        position = pa.array(positions, pa.int64())
    else:
        start = first or 0
        position = pa.array(np.arange(start, start + n, dtype=np.int64))
    return data.append_column(SOURCE_COLUMN, source).append_column(POSITION_COLUMN, position)


def without_provenance(data: Data) -> Data:
    """``data`` as a sink writes it (or a user sees it): without the provenance columns."""
    names = data.schema.names
    if SOURCE_COLUMN not in names:
        return data
    return data.drop_columns([c for c in PROVENANCE_COLUMNS if c in names])


def sources_of(data: pa.RecordBatch | pa.Table,
               indices: Sequence[int] | None = None) -> list[str | None] | None:
    """Where rows ``indices`` of ``data`` (all rows if None) were read, for their dead letters;
    None when ``data`` carries no provenance."""
    names = data.schema.names
    if SOURCE_COLUMN not in names or POSITION_COLUMN not in names:
        return None
    source, position = data.column(SOURCE_COLUMN), data.column(POSITION_COLUMN)
    if indices is not None:
        taken = pa.array(list(indices), pa.int64())
        source, position = source.take(taken), position.take(taken)
    out: list[str | None] = []
    for where, at in zip(source.to_pylist(), position.to_pylist(), strict=True):
        if where is None or at is None:
            out.append(None)
            continue
        head, mark, tail = where.rpartition("{}")
        out.append(f"{head}{at}{tail}" if mark else where)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def row_json(row: dict[str, Any], mask_row: MaskRow | None = None) -> str:
    if SOURCE_COLUMN in row:
        row = {k: v for k, v in row.items() if k not in PROVENANCE_COLUMNS}
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
