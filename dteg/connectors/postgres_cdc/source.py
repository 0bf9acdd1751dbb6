"""Read the changes a ``postgres_cdc`` planner spooled for this run: one split per planned
range of commit LSNs (``dteg.connectors.postgres_cdc.offsets``). The reader never talks to the
replication slot; the launcher confirms the range once every sink committed."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dteg.components.contracts import BatchReader, Rejected, RunContext
from dteg.components.records import POSITION_COLUMN, SOURCE_COLUMN
from dteg.connectors.postgres_cdc.config import SourceConfig
from dteg.connectors.postgres_cdc.offsets import CdcPlanner, CdcRange, read_spool
from dteg.errors import ConnectorError


class CdcReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    def splits(self) -> list[Any]:
        plan = self.ctx.plan
        if plan.offset_ranges is not None:
            return [CdcRange.from_json(r) for r in plan.offset_ranges]
        if plan.offset_ranges_file is not None:
            planned = json.loads(plan.offset_ranges_file.read_text(encoding="utf-8"))
            return [CdcRange.from_json(r) for r in planned.get(self.ctx.step, [])]
        # Library use without a launcher: the changes waiting in the slot now (creating it on
        # the first call); nothing is confirmed, so the next call reads them again.
        planner = CdcPlanner(self.config, pipeline=self.ctx.pipeline, step=self.ctx.step,
                             state_dir=self.ctx.state_dir,
                             spool_dir=self.ctx.staging_dir / "cdc")
        try:
            planner.connect()
            planner.resolve_until(bounded=True)
            return [CdcRange.from_json(r) for r in planner.plan(None).ranges_json()]
        finally:
            planner.close()

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        rng: CdcRange = split
        try:
            batches = read_spool(rng.spool)
        except FileNotFoundError:
            raise ConnectorError(
                f"the changes of {rng.label()} are no longer spooled at {rng.spool}",
                step=self.ctx.step, retriable=True,
                hint="The planner that spooled them is gone; a restart reads them again from "
                "the slot.") from None
        stamps: list[Any] = []
        where = f"{rng.slot}@{{}}"
        for batch in batches:
            stamps.append(pc.divide(batch.column("_commit_ts").cast(pa.int64()), 1000))
            table = pa.Table.from_batches([batch])
            table = table.append_column(SOURCE_COLUMN, pa.array(
                [where] * batch.num_rows, pa.string()).dictionary_encode())
            table = table.append_column(POSITION_COLUMN, batch.column("_lsn"))
            yield from table.combine_chunks().to_batches(max_chunksize=self.config.batch_rows)
        folder = self.ctx.plan.timestamps_dir
        if folder is not None and stamps:
            _save_timestamps(folder, f"{self.ctx.step}.{rng.start}",
                             pa.concat_arrays(stamps).to_numpy(zero_copy_only=False))

    def describe(self) -> str:
        e = self.config.endpoint()
        return f"postgres_cdc://{e.host}:{e.port}/{e.database}/{','.join(self.config.tables)}"


def _save_timestamps(folder: Path, name: str, values: Any) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{uuid.uuid4().hex}.npy"
    np.save(tmp, np.asarray(values, dtype=np.int64))
    os.replace(tmp, folder / f"{name}.npy")


def create(config: SourceConfig, ctx: RunContext) -> CdcReader:
    return CdcReader(config, ctx)
