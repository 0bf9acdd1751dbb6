"""How a sink loads: ``strategy: batch`` (parts in parallel, one commit at the end of the
run, all or nothing) or ``strategy: stream`` (micro-batches, each committed as soon as it
reaches ``batch.rows``, ``batch.bytes`` or ``batch.seconds``, or when the runner ends a
bundle). Streams need micro-batches: an unbounded run has no end to wait for. A bounded run
may use them too, to make rows visible while it runs (then it is not all or nothing).

The engine reads these settings (``dteg.beam.io.WriteSink``); a sink only has to make
each ``commit`` of a micro-batch safe to retry. ``MergeOptions`` are the merge sinks' choice
of the winning row per key and of the rows that delete their key (change data capture).
Pydantic only: ``dteg validate`` imports this module, never pyarrow."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dteg.components.settings import SinkSettings, StreamLimits


class BatchSettings(BaseModel):
    """When a micro-batch (``strategy: stream``) is committed: whichever comes first."""

    model_config = ConfigDict(extra="forbid")

    rows: int | None = Field(default=100_000, ge=1, description="Rows per micro-batch")
    bytes: int | None = Field(default=64 * 1024 * 1024, ge=1024,
                              description="Arrow bytes per micro-batch")
    seconds: float | None = Field(default=60.0, gt=0,
                                  description="Longest a row waits before its commit")


class LoadStrategy(SinkSettings):
    strategy: Literal["batch", "stream"] = Field(
        default="batch", description="batch: one commit per run (all or nothing); stream: "
        "commit micro-batches as they fill (see `batch`)")
    batch: BatchSettings = Field(default_factory=BatchSettings,
                                 description="stream: micro-batch size and age limits")

    def stream_limits(self) -> StreamLimits | None:
        if self.strategy != "stream":
            return None
        return StreamLimits(self.batch.rows, self.batch.bytes, self.batch.seconds)


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
