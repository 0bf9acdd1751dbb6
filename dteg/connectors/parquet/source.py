"""Stream Parquet files row group by row group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dteg.components.contracts import BatchReader, Rejected, RunContext, as_batch
from dteg.components.records import dead_letters, row_json, with_provenance
from dteg.components.types import parse_type
from dteg.connectors import filesystem as fs
from dteg.connectors.casting import cast_declared
from dteg.connectors.parquet.config import SourceConfig
from dteg.errors import ConnectorError


class ParquetReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.patterns = [ctx.resolve_path(p) for p in config.paths()]
        self.declared = {c: parse_type(t) for c, t in (config.schema_ or {}).items()}

    def size_hint(self) -> int | None:
        return fs.local_size(self.patterns)

    def splits(self) -> list[Any]:
        return fs.expand(self.patterns, step=self.ctx.step, allow_empty=self.config.allow_empty,
                         example="*.parquet",
                         options=self.config.store_options(self.ctx.step))

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        path = str(split)
        with fs.open_read(path, "none", binary_seekable=True,
                          options=self.config.store_options(self.ctx.step)) as stream:
            try:
                pf = pq.ParquetFile(stream)
            except (pa.ArrowInvalid, OSError) as exc:
                raise ConnectorError(f"{path} is not a readable Parquet file: {exc}",
                                     step=self.ctx.step) from None
            names = pf.schema_arrow.names
            missing = [c for c in self.config.columns or [] if c not in names]
            if missing:
                raise ConnectorError(
                    f"{path} has no column(s) {missing} (its columns: {names})",
                    step=self.ctx.step, hint="Fix `columns:`.")
            unknown = [c for c in self.declared
                       if c not in (self.config.columns or names)]
            if unknown:
                raise ConnectorError(
                    f"the declared schema names column(s) {unknown} that {path} does not "
                    f"have (its columns: {self.config.columns or names})", step=self.ctx.step,
                    hint="Fix the names under `schema:` (they are case-sensitive).")
            batches = pf.iter_batches(batch_size=self.config.batch_rows,
                                      columns=self.config.columns)
            first_row = 1
            while True:
                try:
                    batch = next(batches, None)
                except (pa.ArrowInvalid, OSError) as exc:
                    raise ConnectorError(
                        f"{path} is corrupt near row {first_row}: {exc}",
                        step=self.ctx.step) from None
                if batch is None:
                    # The columns, also when there are no rows (dropped if there were).
                    empty = pf.schema_arrow.empty_table()
                    if self.config.columns:
                        empty = empty.select(self.config.columns)
                    yield from self._finish(as_batch(empty), path, first_row)
                    return
                yield from self._finish(batch, path, first_row)
                first_row += batch.num_rows

    def _finish(self, batch: pa.RecordBatch, path: str, first_row: int,
                ) -> Iterator[pa.RecordBatch | Rejected]:
        positions: list[int] | None = None
        if self.declared:
            try:
                table, failures = cast_declared(pa.Table.from_batches([batch]), self.declared)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ConnectorError(f"{path}: cannot apply the declared schema: {exc}",
                                     step=self.ctx.step) from None
            if failures:
                rows = batch.take(pa.array([i for i, _, _ in failures])).to_pylist()
                yield Rejected(dead_letters(
                    pipeline=self.ctx.pipeline, step=self.ctx.step,
                    reasons=[r for _, _, r in failures], columns=[c for _, c, _ in failures],
                    records=[row_json(r, self.ctx.mask_row) for r in rows],
                    sources=[f"{path} (row {first_row + i})" for i, _, _ in failures],
                ))
            if table.num_rows == 0 and batch.num_rows:
                return
            failed = {i for i, _, _ in failures}
            positions = [first_row + i for i in range(batch.num_rows) if i not in failed]
            batch = as_batch(table)
        if self.config.filename_column:
            batch = batch.append_column(self.config.filename_column,
                                        pa.array([path] * batch.num_rows, pa.string()))
        # Each row's place in the file, for the dead letters of later stages.
        yield with_provenance(batch, f"{path} (row {{}})", first=first_row, positions=positions)


def create(config: SourceConfig, ctx: RunContext) -> ParquetReader:
    return ParquetReader(config, ctx)
