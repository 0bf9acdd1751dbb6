"""How a sink's input becomes parts, whatever runs it (the Beam ``_WriteParts`` DoFn, the
in-process runner): batches are written to one open part; an empty batch is kept aside and
written only to a part that got no rows, so the commit learns the schema and a part with rows
never has its types fixed by it. Beam-free: the in-process runner must not import Beam."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from dteg.components.contracts import PartResult, RunContext
from dteg.components.records import without_provenance


class PartFeed:
    """One sink input: ``push`` batches, ``finish`` closes the part (one per bundle)."""

    def __init__(self, writer: Any, ctx: RunContext, on_rows: Callable[[int], None]) -> None:
        self.writer = writer
        self.ctx = ctx
        self.on_rows = on_rows
        self.part: Any = None
        self.empty: pa.RecordBatch | None = None
        self.schema_recorded = False

    def push(self, batch: pa.RecordBatch) -> None:
        batch = without_provenance(batch)  # where rows were read is not written
        if not batch.num_rows:
            if self.empty is None and batch.num_columns:
                self.empty = batch
            return
        self._write(batch)

    def _write(self, batch: pa.RecordBatch) -> None:
        if not self.schema_recorded:
            self.ctx.run_folder.record_schema(self.ctx.step, batch.schema)
            self.schema_recorded = True
        if self.part is None:
            self.part = self.writer.open_part(uuid.uuid4().hex[:12])
        self.part.write(batch)
        self.on_rows(batch.num_rows)

    def finish(self) -> PartResult | None:
        """Close the open part (a part of no rows if only empty batches came: it carries the
        schema to the commit); ``None`` when nothing came."""
        if self.part is None and self.empty is not None:
            self._write(self.empty)
        self.empty = None
        if self.part is None:
            return None
        part, self.part = self.part, None
        result: PartResult | None = part.close()
        return result
