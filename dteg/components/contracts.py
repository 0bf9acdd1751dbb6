"""The contracts a connector or stage implements. Plain Python and pyarrow, no Beam.

The compiler wraps them in generic Beam transforms (``dteg.beam.io``), so a connector
author writes ordinary code that can be tested without Beam (see ``dteg.components.testkit``):

* a source is a ``BatchReader``: ``splits()`` then ``read(split)`` yielding Arrow batches (and
  ``Rejected`` batches of dead letters);
* a sink is a ``BatchWriter``: parts written in parallel (``open_part``), then one ``commit``;
* a row stage is a ``BatchTransform``: one batch in, kept rows + dead letters + a filtered count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class RunContext:
    """What a component may know about the run it is part of. Picklable."""

    pipeline: str
    step: str
    base_dir: Path
    run_id: str
    # Masks a dead-letter row (column → value) the way the pipeline masks loaded rows.
    mask_row: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # Run-time options the launcher set for this step (incremental or backfill bounds).
    overrides: dict[str, Any] = field(default_factory=dict)

    def resolve_path(self, path: str) -> str:
        """Relative local paths are taken from the pipeline file's folder; URLs pass through."""
        if "://" in path:
            return path
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else self.base_dir / p)

    @property
    def state_dir(self) -> Path:
        return self.base_dir / ".dteg"

    @property
    def run_dir(self) -> Path:
        """Scratch space of this run (schemas seen, …), read by the launcher afterwards."""
        return self.state_dir / "runs" / self.run_id


@dataclass(frozen=True)
class Rejected:
    """Dead-letter rows (``dteg.components.records.DEAD_LETTER_SCHEMA``) from a source or
    stage."""

    batch: pa.RecordBatch


class BatchReader(ABC):
    """A bounded source."""

    @abstractmethod
    def splits(self) -> list[Any]:
        """Independent pieces of work (files, key ranges). Called once, at run time."""

    @abstractmethod
    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        """Stream one split as Arrow batches; never load it whole into memory."""

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class PartResult:
    """What one parallel writer produced (a staged file, usually)."""

    location: str
    rows: int
    bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitResult:
    rows: int
    target: str
    detail: str = ""


class PartWriter(ABC):
    @abstractmethod
    def write(self, batch: pa.RecordBatch) -> None: ...

    @abstractmethod
    def close(self) -> PartResult | None:
        """Finish the part; ``None`` if nothing was written."""


class BatchWriter(ABC):
    """A sink with two phases: parts in parallel, then a single commit (all or nothing)."""

    @abstractmethod
    def open_part(self, part_id: str) -> PartWriter: ...

    @abstractmethod
    def commit(self, parts: list[PartResult]) -> CommitResult:
        """Publish every part at once. Must leave the target untouched if it raises."""

    def abort(self, parts: list[PartResult]) -> None:  # noqa: B027 - optional hook
        """Clean up staged parts after a failed run."""

    def describe(self) -> str:
        return type(self).__name__


@dataclass
class StageResult:
    kept: pa.RecordBatch | None
    rejected: pa.RecordBatch | None = None  # dead letters, DEAD_LETTER_SCHEMA
    filtered: int = 0
    # Extra counts for this batch (e.g. ``rule:<label>:failed``): Beam counters named
    # ``<step>:<key>``, and the totals quality thresholds are checked against.
    stats: dict[str, int] = field(default_factory=dict)


class BatchTransform(ABC):
    """A row-wise stage over Arrow batches."""

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Prepare per worker (compile regexes, load keys)."""

    @abstractmethod
    def apply(self, batch: pa.RecordBatch) -> StageResult: ...

    def mask_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """How this stage would mask one row; identity for stages that do not mask."""
        return row
