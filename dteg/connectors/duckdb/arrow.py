"""Arrow results from a DuckDB relation on DuckDB 1.x and 2.x (2.0 renamed the methods)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


def relation_table(relation: Any) -> pa.Table:
    if hasattr(relation, "to_arrow_table"):
        return relation.to_arrow_table()
    return relation.fetch_arrow_table()


def relation_reader(relation: Any, batch_rows: int) -> pa.RecordBatchReader:
    if hasattr(relation, "to_arrow_reader"):
        return relation.to_arrow_reader(batch_rows)
    return relation.fetch_record_batch(batch_rows)
