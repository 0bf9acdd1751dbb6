"""How a sink loads: ``strategy: batch`` (parts in parallel, one commit at the end of the
run, all or nothing) or ``strategy: stream`` (micro-batches, each committed as soon as it
reaches ``batch.rows``, ``batch.bytes`` or ``batch.seconds``, or when the runner ends a
bundle). Streams need micro-batches: an unbounded run has no end to wait for. A bounded run
may use them too, to make rows visible while it runs (then it is not all or nothing).

The engine reads these settings (``dteg.beam.io.WriteSink``); a sink only has to make
each ``commit`` of a micro-batch safe to retry."""

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
