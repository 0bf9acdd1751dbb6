"""Keep the rows for which a SQL predicate is true; the rest are counted as filtered."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from dteg.components.contracts import BatchTransform, RunContext, StageResult
from dteg.errors import StepError
from dteg.transforms.filter_config import FilterConfig
from dteg.transforms.sql import BatchSql


class Filter(BatchTransform):
    def __init__(self, config: FilterConfig, ctx: RunContext) -> None:
        self.where = config.where
        self.sql = f"SELECT ({config.where}) AS keep FROM batch"
        self.engine = BatchSql(ctx.step)
        self.step = ctx.step

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        if not batch.num_rows:
            # Nothing to test, and the columns of an empty file read without `schema:` are
            # text, which a predicate such as `amount > 0` cannot compare.
            return StageResult(kept=batch, filtered=0)
        keep = self.engine.query(batch, self.sql).column("keep").combine_chunks()
        if not pa.types.is_boolean(keep.type):
            raise StepError(f"`where: {self.where}` gives {keep.type}, not true/false",
                            step=self.step, hint="Write a predicate, e.g. `amount > 0`.")
        # The batch itself is filtered, so the rows kept keep where they were read.
        out = batch.filter(pc.fill_null(keep, False))
        return StageResult(kept=out, filtered=batch.num_rows - out.num_rows)


def create(config: FilterConfig, ctx: RunContext) -> Filter:
    return Filter(config, ctx)
