"""Tag staged rows with their part and position, so a merge can keep the last row per key."""

from __future__ import annotations

import pyarrow as pa


def with_merge_order(batch: pa.RecordBatch, *, part: int, first_row: int, part_column: str,
                     row_column: str) -> pa.RecordBatch:
    """``batch`` plus two int64 columns: the part it was written in and each row's number
    within that part (starting at ``first_row``)."""
    n = batch.num_rows
    batch = batch.append_column(part_column, pa.array([part] * n, pa.int64()))
    return batch.append_column(row_column, pa.array(range(first_row, first_row + n),
                                                    pa.int64()))

