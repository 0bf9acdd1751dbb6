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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from dteg.components.plan import StepPlan
from dteg.components.rundir import RunDir
from dteg.errors import StepError


class DeadLetterOutput(Protocol):
    """The pipeline's dead-letter output as a sink sees it: ``write`` saves a batch of dead
    letters (``DEAD_LETTER_SCHEMA``) of one step and returns where they went."""

    def write(self, step: str, batch: pa.RecordBatch) -> str: ...


@dataclass(frozen=True)
class RunContext:
    """What a component may know about the run it is part of. Picklable."""

    pipeline: str
    step: str
    base_dir: Path
    run_id: str
    # Masks a dead-letter row (column → value) the way the pipeline masks loaded rows.
    mask_row: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # What the launcher fixed for this step in this run (bounds, offsets, state folders).
    plan: StepPlan = field(default_factory=StepPlan)
    # Where the step is written, for messages: "step `load` (pipeline.yaml line 34)".
    where: str = ""
    # Columns a masking or encryption step protects on the way to this step (a sink can warn
    # before it sends them into a typed field that refuses such values).
    protected_columns: frozenset[str] = frozenset()
    # Where rejected records go (``pipeline.dead_letter``), for sinks that learn of rejections
    # at commit; None outside a compiled pipeline (``records.save_dead_letters`` falls back to
    # the default folder).
    dead_letters: DeadLetterOutput | None = None

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
    def run_folder(self) -> RunDir:
        """Scratch space of this run (schemas seen, commits, …), read by the launcher."""
        return RunDir.of(self.state_dir, self.run_id)

    @property
    def staging_dir(self) -> Path:
        """Where this step of this run may stage local files before its commit."""
        return self.state_dir / "staging" / self.run_id / self.step


def as_batch(table: pa.Table) -> pa.RecordBatch:
    """One batch of ``table``'s rows, with its schema even when it has no rows (a table of
    no rows has no batches, and a zero-row batch is how a schema travels to the sinks)."""
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


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
        """Stream one split as Arrow batches; never load it whole into memory. A split
        without rows yields one zero-row batch with its schema (so a ``replace`` of zero
        rows leaves an empty target with the right columns)."""

    def size_hint(self) -> int | None:
        """The bytes it will read, when that is known cheaply before ``splits()`` (local
        files); None when unknown. The embedded runner runs known inputs without Beam."""
        return None

    def describe(self) -> str:
        return type(self).__name__


class IncrementalReader(BatchReader):
    """A source that reads by a cursor: the launcher asks it for the cursor's high watermark
    before the run and hands the run its bounds (``RunContext.plan.bounds``)."""

    @abstractmethod
    def cursor_column(self) -> str: ...

    @abstractmethod
    def initial_cursor(self) -> Any:
        """Where a first run starts (``None``: from the beginning)."""

    @abstractmethod
    def high_watermark(self, lower: Any) -> Any:
        """The cursor's largest value now (above ``lower``), or None when there is nothing."""


# One partition of an unbounded source: (topic or log name, partition number). Positions are
# the next offset to read in it.
Partition = tuple[str, int]


class OffsetPlan(Protocol):
    """Offset ranges planned for one run of an unbounded source."""

    @property
    def records(self) -> int: ...

    @property
    def high(self) -> dict[Partition, int]:
        """Each partition's end when planned (lag = high − position)."""
        ...

    def ends(self) -> dict[Partition, int]:
        """Where each partition the plan reads stands once it is read (its ranges' ends)."""
        ...

    @property
    def finished(self) -> bool:
        """Every partition reached the configured end (`until:`)."""
        ...

    def ranges_json(self) -> list[Any]:
        """The ranges as JSON, for ``StepPlan.offset_ranges``."""
        ...


class OffsetPlanner(Protocol):
    """Plans what an unbounded source reads next and commits it once every sink committed
    (declared as ``Capabilities.offset_planner``). ``dteg run`` plans once, to the end of
    each partition now; ``dteg stream`` plans a micro-batch at a time."""

    def connect(self) -> None:
        """Reach the source system (bounded retries, then a ConnectorError)."""

    def resolve_until(self, *, bounded: bool) -> None:
        """Fix where reading stops: the configured end, or for a bounded run the end now."""

    def plan(self, budget: int | None) -> OffsetPlan:
        """The next ranges, at most ``budget`` records (None: everything planned)."""
        ...

    def commit(self, plan: OffsetPlan) -> None:
        """Record that ``plan`` was read and loaded (after every sink committed)."""

    def close(self) -> None: ...

    # --- what `dteg stream` needs besides --------------------------------------------------

    @property
    def positions(self) -> dict[Partition, int]:
        """Where reading stands now per partition (committed, overridden or advanced)."""
        ...

    @property
    def batch_records(self) -> int:
        """At most this many records per micro-batch (the source's own budget)."""
        ...

    @property
    def batch_seconds(self) -> float:
        """Start a micro-batch this long after the previous one started, even if not full."""
        ...

    def override_positions(self, positions: dict[Partition, int]) -> None:
        """Read on from positions kept elsewhere (a stream's checkpoint of window state)."""

    def advance(self, ends: dict[Partition, int]) -> None:
        """Rows up to ``ends`` are in every sink: plan from there (nothing is committed)."""

    def commit_positions(self, ends: dict[Partition, int]) -> None:
        """Commit ``ends`` as where the source stands (retriable ConnectorError if it can't)."""

    def lag(self, high: dict[Partition, int]) -> dict[Partition, int]:
        """Records waiting per partition behind ``high`` (an ``OffsetPlan.high``)."""
        ...


class PartitionPoller(ABC):
    """An unbounded source read inside one long-running Beam pipeline (``dteg stream
    --runner prism``): each partition is a restriction of offsets that a splittable DoFn
    claims message by message. Implemented by a source's ``BatchReader`` besides its bounded
    ``read`` (the Kafka reader does); the engine finds it by this interface, never by name."""

    @abstractmethod
    def fetch(self, partition: Partition, position: int, *, max_records: int,
              timeout: float) -> list[Any]:
        """Up to ``max_records`` messages of ``partition`` from ``position`` on, in offset
        order, waiting at most ``timeout`` seconds for the first; [] when none arrived."""

    @abstractmethod
    def offset(self, message: Any) -> int:
        """A fetched message's position in its partition."""

    @abstractmethod
    def event_time_ms(self, message: Any) -> int:
        """A fetched message's event time (ms since the epoch): the watermark's input."""

    @abstractmethod
    def decode(self, messages: list[Any]) -> Iterator[pa.RecordBatch | Rejected]:
        """The claimed messages as Arrow batches and dead letters (as ``read`` yields)."""

    def close_poller(self) -> None:  # noqa: B027 - optional hook
        """Close the clients ``fetch`` opened."""


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
    # Rows the target refused at commit (per-document errors of a database that has no
    # all-or-nothing bulk write), already saved as dead letters by the sink: counted as the
    # step's dead letters so the run's counts reconcile.
    dead_lettered: int = 0


class PartWriter(ABC):
    @abstractmethod
    def write(self, batch: pa.RecordBatch) -> None:
        """Write rows; a zero-row batch only tells the part its schema."""

    @abstractmethod
    def close(self) -> PartResult | None:
        """Finish the part; ``None`` if nothing, not even a zero-row batch, was written
        (a part of zero rows still reaches ``commit``, which then knows the schema)."""


class BatchWriter(ABC):
    """A sink with two phases: parts in parallel, then a single commit (all or nothing)."""

    @abstractmethod
    def open_part(self, part_id: str) -> PartWriter: ...

    @abstractmethod
    def commit(self, parts: list[PartResult]) -> CommitResult:
        """Publish every part at once. Must leave the target untouched if it raises. Parts of
        zero rows carry the schema: ``replace`` then leaves an empty target with it."""

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


@dataclass(frozen=True)
class LoadedTarget:
    """A load that a post-load step follows, once it has committed."""

    step: str
    # A local database file it wrote (DuckDB), so a post-load step can query it.
    database_file: Path | None = None


@dataclass
class PostLoadOutcome:
    """What a post-load step did; subclasses add their own fields (kept in run records)."""

    step: str
    kind: ClassVar[str] = "post_load"  # groups outcomes in reports, e.g. "dbt"

    def summary(self) -> str:
        return "done"

    def outputs(self) -> list[str]:
        """Datasets it wrote (lineage shows them as the outputs of a child job)."""
        return []

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


class PostLoadFailed(StepError):
    """A post-load step failed; ``outcome`` is what it did before failing (the dbt nodes that
    passed and failed), kept in the run's report and record."""

    def __init__(self, message: str, *, step: str, outcome: PostLoadOutcome,
                 hint: str | None = None) -> None:
        super().__init__(message, step=step, hint=hint)
        self.outcome = outcome


class PostLoadStep(ABC):
    """A step that runs after the loads it follows have committed (``role: post_load``,
    e.g. dbt): in the launcher, not as a Beam stage."""

    @abstractmethod
    def run(self, loads: list[LoadedTarget]) -> PostLoadOutcome:
        """Do the work and say what was done. Raise a ``DtegError`` to fail the run."""
