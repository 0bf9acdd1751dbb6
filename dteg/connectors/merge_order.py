"""Tag staged rows with their part and position, so a merge can keep the last row per key;
and the merge options that pick the winning row (``order_by``) and delete keys."""

from __future__ import annotations

import pyarrow as pa
from pydantic import BaseModel, Field


def with_merge_order(batch: pa.RecordBatch, *, part: int, first_row: int, part_column: str,
                     row_column: str) -> pa.RecordBatch:
    """``batch`` plus two int64 columns: the part it was written in and each row's number
    within that part (starting at ``first_row``)."""
    n = batch.num_rows
    batch = batch.append_column(part_column, pa.array([part] * n, pa.int64()))
    return batch.append_column(row_column, pa.array(range(first_row, first_row + n),
                                                    pa.int64()))


class MergeOptions(BaseModel):
    """How ``mode: merge`` picks the row that wins per key and which rows delete their key
    (change data capture: ``order_by: _lsn``, ``delete_column: _op``)."""

    order_by: str | None = Field(
        default=None, description="merge: per key, the row with the greatest value here wins "
        "(ties: the one staged last); default: the one staged last")
    delete_column: str | None = Field(
        default=None, description="merge: a row whose value here is `delete_value` deletes "
        "its key from the table instead of being written")
    delete_value: str = Field(default="delete", description="merge: see `delete_column`")

    def check_merge_options(self, mode: str) -> None:
        if mode != "merge" and (self.order_by or self.delete_column):
            raise ValueError("`order_by:` and `delete_column:` apply to `mode: merge` only")

    def missing_merge_columns(self, columns: list[str]) -> list[str]:
        """The ``order_by``/``delete_column`` columns the data does not have."""
        return [c for c in (self.order_by, self.delete_column) if c and c not in columns]
