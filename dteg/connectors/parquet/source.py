"""Stream Parquet files row group by row group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dteg.connectors import filesystem as fs
from dteg.connectors.parquet.config import SourceConfig
from dteg.engine.contracts import BatchReader, Rejected, RunContext
from dteg.engine.types import parse_type
from dteg.errors import ConnectorError


class ParquetReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.patterns = [ctx.resolve_path(p) for p in config.paths()]
        self.declared = {c: parse_type(t) for c, t in (config.schema_ or {}).items()}

    def splits(self) -> list[Any]:
        return fs.expand(self.patterns, step=self.ctx.step, allow_empty=self.config.allow_empty)

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        path = str(split)
        with fs.open_read(path, "none", binary_seekable=True) as stream:
            try:
                pf = pq.ParquetFile(stream)
            except (pa.ArrowInvalid, OSError) as exc:
                raise ConnectorError(f"{path} is not a readable Parquet file: {exc}",
                                     step=self.ctx.step) from None
            missing = [c for c in self.config.columns or [] if c not in pf.schema_arrow.names]
            if missing:
                raise ConnectorError(
                    f"{path} has no column(s) {missing} (its columns: {pf.schema_arrow.names})",
                    step=self.ctx.step, hint="Fix `columns:`.")
            for batch in pf.iter_batches(batch_size=self.config.batch_rows,
                                         columns=self.config.columns):
                yield self._finish(batch, path)

    def _finish(self, batch: pa.RecordBatch, path: str) -> pa.RecordBatch:
        if self.declared:
            fields = [pa.field(f.name, self.declared.get(f.name, f.type)) for f in batch.schema]
            try:
                batch = batch.cast(pa.schema(fields))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ConnectorError(f"{path}: cannot apply the declared schema: {exc}",
                                     step=self.ctx.step) from None
        if self.config.filename_column:
            batch = batch.append_column(self.config.filename_column,
                                        pa.array([path] * batch.num_rows, pa.string()))
        return batch


def create(config: SourceConfig, ctx: RunContext) -> ParquetReader:
    return ParquetReader(config, ctx)
