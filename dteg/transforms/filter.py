"""Keep the rows for which a SQL predicate is true; the rest are counted as filtered."""

from __future__ import annotations

import pyarrow as pa

from dteg.components.contracts import BatchTransform, RunContext, StageResult
from dteg.transforms.filter_config import FilterConfig
from dteg.transforms.sql import BatchSql


class Filter(BatchTransform):
    def __init__(self, config: FilterConfig, ctx: RunContext) -> None:
        self.sql = f"SELECT * FROM batch WHERE {config.where}"
        self.engine = BatchSql(ctx.step)

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        table = self.engine.query(batch, self.sql)
        kept = table.combine_chunks().to_batches()
        out = kept[0] if kept else batch.slice(0, 0)
        return StageResult(kept=out, filtered=batch.num_rows - out.num_rows)


def create(config: FilterConfig, ctx: RunContext) -> Filter:
    return Filter(config, ctx)
