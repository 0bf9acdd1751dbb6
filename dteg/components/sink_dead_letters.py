"""Dead letters a sink learns of at commit (records the target refused: Salesforce's failed
results, MongoDB's per-document errors) go where the pipeline's other dead letters go
(``pipeline.dead_letter``), through ``RunContext.dead_letters``; outside a compiled pipeline
(the connector test kit) they go to dteg's default folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.contracts import RunContext


def save_dead_letters(ctx: RunContext, batch: pa.RecordBatch) -> str:
    """Save ``batch`` (``DEAD_LETTER_SCHEMA``, records already masked) for ``ctx.step``;
    returns where it went."""
    if not batch.num_rows:
        return ""
    if ctx.dead_letters is not None:
        return ctx.dead_letters.write(ctx.step, batch)
    return write_jsonl(default_path(ctx), batch)


def default_path(ctx: RunContext) -> Path:
    """dteg's default dead-letter folder, one file per run and step."""
    return ctx.state_dir / "dead_letter" / ctx.pipeline / f"{ctx.run_id}.{ctx.step}.jsonl"


def write_jsonl(path: Path, batch: pa.RecordBatch) -> str:
    """Append ``batch`` to ``path`` as JSON Lines (the dead-letter sink's default format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for row in batch.to_pylist():
            fh.write(json.dumps(row, default=_iso, ensure_ascii=False) + "\n")
    return str(path)


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
