"""The stand-in source and sink a pipeline test runs with, in place of the real connectors.

The source reads the test's rows from an Arrow IPC file the runner wrote (so the types the
test gave, dates and decimals included, reach the stages unchanged); the sink writes each part
as an Arrow IPC file and publishes them in its commit, so what a test sees is exactly what a
real sink would have been asked to commit. Both stay inside the test's own folder: no
connection is opened, nothing outside it is touched.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.contracts import (
    BatchReader,
    BatchWriter,
    CommitResult,
    PartResult,
    PartWriter,
    Rejected,
    RunContext,
)
from dteg.components.records import with_provenance
from dteg.components.registry import ComponentInfo
from dteg.components.settings import SinkSettings, SourceSettings

_MODULE = __name__
COMMITTED = "committed"


class MemorySourceConfig(SourceSettings):
    """Where the test's rows for one extract step are (an Arrow IPC file) and what their
    dead letters call their source."""

    path: str
    label: str


class MemorySinkConfig(SinkSettings):
    """The folder a load step's parts are written to in a test."""

    folder: str


def write_ipc(table: pa.Table, path: Path) -> None:
    """``table`` as an Arrow IPC file (its schema kept even with no rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_ipc(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


class MemoryReader(BatchReader):
    def __init__(self, config: MemorySourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    def splits(self) -> list[Any]:
        return [self.config.path]

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        table = read_ipc(Path(split))
        if not table.num_columns:
            return  # an extract step the test gives no rows to: it reads nothing
        # Row numbers from 1, as a file source counts lines: a dead letter says which test
        # row it was.
        table = with_provenance(table, f"{self.config.label}:{{}}", first=1)
        batches = table.combine_chunks().to_batches()
        yield from batches or [pa.RecordBatch.from_pylist([], schema=table.schema)]

    def describe(self) -> str:
        return f"test rows ({self.config.label})"


class _Part(PartWriter):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.batches: list[pa.RecordBatch] = []

    def write(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)

    def close(self) -> PartResult | None:
        if not self.batches:
            return None
        table = pa.Table.from_batches(self.batches)
        write_ipc(table, self.path)
        return PartResult(location=str(self.path), rows=table.num_rows)


class MemoryWriter(BatchWriter):
    """Parts are staged files; the commit moves them into ``committed/`` (all at once, as a
    real sink publishes), which is what the test reads."""

    def __init__(self, config: MemorySinkConfig, ctx: RunContext) -> None:
        self.folder = Path(config.folder)
        self.step = ctx.step

    def open_part(self, part_id: str) -> PartWriter:
        return _Part(self.folder / "staged" / f"{part_id}-{uuid.uuid4().hex[:6]}.arrow")

    def commit(self, parts: list[PartResult]) -> CommitResult:
        target = self.folder / COMMITTED
        target.mkdir(parents=True, exist_ok=True)
        for part in parts:
            os.replace(part.location, target / Path(part.location).name)
        return CommitResult(rows=sum(p.rows for p in parts), target=str(target))

    def describe(self) -> str:
        return f"test output of `{self.step}`"


def committed_rows(folder: Path) -> pa.Table | None:
    """What the stand-in sink committed into ``folder`` (None when it committed nothing)."""
    files = sorted((folder / COMMITTED).glob("*.arrow"))
    if not files:
        return None
    tables = [read_ipc(f) for f in files]
    return pa.concat_tables(tables, promote_options="permissive")


def create_reader(settings: MemorySourceConfig, ctx: RunContext) -> MemoryReader:
    return MemoryReader(settings, ctx)


def create_writer(settings: MemorySinkConfig, ctx: RunContext) -> MemoryWriter:
    return MemoryWriter(settings, ctx)


# Not in the built-in table: a pipeline cannot name them; only the test runner puts them in.
MEMORY_SOURCE = ComponentInfo("dteg_test_rows", "source", f"{_MODULE}:MemorySourceConfig",
                              f"{_MODULE}:create_reader", "A pipeline test's given rows")
MEMORY_SINK = ComponentInfo("dteg_test_output", "sink", f"{_MODULE}:MemorySinkConfig",
                            f"{_MODULE}:create_writer", "What a pipeline test's load receives")
