"""A test kit for connector authors: run a source, sink or stage without Beam and check
that it keeps dteg's contracts.

    from dteg.components.testkit import check_source

    def test_my_source(tmp_path):
        table, dead = check_source("my_source", {"path": "…"}, base_dir=tmp_path)
        assert table.num_rows == 3

Each ``check_*`` validates the config with the component's own model, builds the component
through its registered factory, pickles it (Beam ships components to workers), runs it, and
asserts the contract: only Arrow batches and ``Rejected`` dead letters come out, dead letters
use ``DEAD_LETTER_SCHEMA``, a sink publishes nothing before ``commit``.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.contracts import (
    BatchReader,
    BatchTransform,
    BatchWriter,
    CommitResult,
    Rejected,
    RunContext,
    StageResult,
)
from dteg.components.records import DEAD_LETTER_SCHEMA, without_provenance
from dteg.components.registry import ComponentInfo, Kind, default_registry


def context(base_dir: Path, step: str = "under_test", run_id: str = "test-run") -> RunContext:
    return RunContext(pipeline="test", step=step, base_dir=Path(base_dir), run_id=run_id)


def build(kind: Kind, name: str, config: dict[str, Any], ctx: RunContext) -> Any:
    """Validate ``config`` and build the registered component, as a worker would."""
    info: ComponentInfo | None = default_registry().find(kind, name)
    assert info is not None, f"no {kind} named {name!r} is registered"
    # What Beam ships to workers is the config and the context; the component is built there.
    config, ctx = pickle.loads(pickle.dumps((config, ctx)))
    model = info.config_model().model_validate(config)
    return info.load_factory()(model, ctx)


def _check_dead(batch: pa.RecordBatch) -> None:
    assert batch.schema.equals(DEAD_LETTER_SCHEMA), (
        f"dead letters must use DEAD_LETTER_SCHEMA, got {batch.schema}")
    assert all(r for r in batch.column("reason").to_pylist()), "every dead letter needs a reason"


def check_source(name: str, config: dict[str, Any], *, base_dir: Path
                 ) -> tuple[pa.Table, pa.Table]:
    """Run a source end to end; returns (rows, dead letters)."""
    reader = build("source", name, config, context(base_dir))
    assert isinstance(reader, BatchReader)
    splits = reader.splits()
    pickle.dumps(splits)  # splits travel between workers too
    batches: list[pa.RecordBatch] = []
    dead: list[pa.RecordBatch] = []
    for split in splits:
        found = 0
        for item in reader.read(split):
            if isinstance(item, Rejected):
                _check_dead(item.batch)
                dead.append(item.batch)
            else:
                assert isinstance(item, pa.RecordBatch), (
                    f"a source must yield RecordBatch or Rejected, got {type(item).__name__}")
                found += 1
                batches.append(without_provenance(item))  # as a sink sees it
        assert found, (f"split {split!r} yielded no batch: a split without rows yields one "
                       "zero-row batch with its schema (a `replace` of it needs the columns)")
    rows = [b for b in batches if b.num_rows]
    empty = [b for b in batches if not b.num_rows]
    for batch in empty:
        assert not rows or batch.schema.names == rows[0].schema.names, (
            f"a zero-row batch has other columns ({batch.schema.names}) than the rows "
            f"({rows[0].schema.names})")
    batches = rows or empty[:1]
    schemas = {b.schema for b in batches}
    assert len(schemas) <= 1 or len(splits) > 1, f"one split yielded several schemas: {schemas}"
    table = pa.Table.from_batches(batches) if batches else pa.table({})
    return table, pa.Table.from_batches(dead, schema=DEAD_LETTER_SCHEMA)


def check_sink(name: str, config: dict[str, Any], batches: Iterable[pa.RecordBatch], *,
               base_dir: Path, parts: int = 2) -> CommitResult:
    """Write ``batches`` round-robin into ``parts`` parts, then commit once."""
    writer = build("sink", name, config, context(base_dir))
    assert isinstance(writer, BatchWriter)
    part_writers = [writer.open_part(f"p{i}") for i in range(parts)]
    rows = 0
    for index, batch in enumerate(batches):
        part_writers[index % parts].write(batch)
        rows += batch.num_rows
    results = [r for r in (p.close() for p in part_writers) if r is not None]
    assert sum(r.rows for r in results) == rows, "parts must account for every row written"
    committed = writer.commit(results)
    assert committed.rows == rows, f"commit reported {committed.rows} rows, wrote {rows}"
    return committed


def check_stage(name: str, config: dict[str, Any], batch: pa.RecordBatch, *,
                base_dir: Path) -> StageResult:
    """Apply a stage to a batch of no rows (a source sends one to carry its columns), then
    to ``batch``, and check that no row is lost unaccounted."""
    stage = build("transform", name, config, context(base_dir))
    assert isinstance(stage, BatchTransform)
    stage.setup()
    # Sources send a zero-row batch to carry their columns: every stage must take one.
    empty = stage.apply(batch.slice(0, 0))
    if empty.kept is not None and empty.kept.num_rows:
        raise AssertionError(f"a batch of no rows gave {empty.kept.num_rows} rows")
    result = stage.apply(batch)
    kept = result.kept.num_rows if result.kept is not None else 0
    dead = result.rejected.num_rows if result.rejected is not None else 0
    if result.rejected is not None:
        _check_dead(result.rejected)
    if kept + dead + result.filtered != batch.num_rows:
        # Stages that add or remove rows on purpose (aggregations) are not row-wise.
        raise AssertionError(
            f"{batch.num_rows} rows in, but kept {kept} + dead-lettered {dead} + filtered "
            f"{result.filtered}")
    return result
