"""What the launcher fixes for one run before Beam starts, typed: per step the cursor bounds
(incremental or a backfill partition), the offset ranges an unbounded source reads, and the
folders a stateful stage keeps its state in. Picklable: each step's part travels to workers in
its ``RunContext``."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dteg.errors import ConfigError


def new_run_id() -> str:
    """A run id that sorts by start time: ``20261201T225959Z-1a2b3c``."""
    return (dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-"
            + uuid.uuid4().hex[:6])


# --- cursor values as JSON ---------------------------------------------------------------------


def encode_value(value: Any) -> dict[str, Any] | None:
    """A cursor value as JSON that keeps its type (timestamps stay timestamps)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"a boolean ({value}) cannot be an incremental cursor")
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, decimal.Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, dt.datetime):
        return {"type": "timestamptz" if value.tzinfo else "timestamp",
                "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    raise ConfigError(f"cannot keep a {type(value).__name__} as an incremental cursor")


def decode_value(data: dict[str, Any] | None) -> Any:
    if data is None:
        return None
    kind, value = data["type"], data["value"]
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "decimal":
        return decimal.Decimal(value)
    if kind in ("timestamp", "timestamptz"):
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return str(value)


def render_value(value: Any) -> str:
    """A cursor value for people (state show, messages)."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Bounds:
    """The cursor range one run reads: ``lower <op> cursor <op> upper`` (None: unbounded)."""

    column: str
    lower: Any = None
    upper: Any = None
    lower_inclusive: bool = False
    upper_inclusive: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "lower": encode_value(self.lower),
                "upper": encode_value(self.upper), "lower_inclusive": self.lower_inclusive,
                "upper_inclusive": self.upper_inclusive}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bounds:
        return cls(data["column"], decode_value(data.get("lower")),
                   decode_value(data.get("upper")), bool(data.get("lower_inclusive")),
                   bool(data.get("upper_inclusive", True)))


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepPlan:
    """What one step of one run was given. Every field is optional: a library user who applies
    ``dteg.to_beam(spec)`` to a pipeline of their own passes no plan at all."""

    # Incremental sources: this run's cursor range (or a backfill partition's).
    bounds: Bounds | None = None
    # Unbounded sources: the offset ranges to read, as the source's planner wrote them
    # (JSON-able, opaque to the engine), inline so they reach remote workers with the graph…
    offset_ranges: tuple[Any, ...] | None = None
    # …or a file the stream rewrites before every micro-batch ({step: [range, …]}).
    offset_ranges_file: Path | None = None
    # Where a source leaves its records' event times (stream latency metrics).
    timestamps_dir: Path | None = None
    # Stateful stages in a stream: the checkpoint folder, and where this run's new state goes.
    checkpoint_dir: Path | None = None
    pending_state_dir: Path | None = None
    # Sinks: the parts and the commit run in this one process (the in-process executor), so
    # a sink may keep its parts on local disk until the commit instead of staging them.
    local_commit: bool = False


@dataclass(frozen=True)
class BackfillMark:
    """The state entry that marks a backfill partition done once every sink committed."""

    key: str
    value: dict[str, Any]


@dataclass(frozen=True)
class RunPlan:
    """The plan of one run: a ``StepPlan`` per step that has one."""

    run_id: str
    steps: Mapping[str, StepPlan] = field(default_factory=dict)
    backfill: BackfillMark | None = None

    def for_step(self, name: str) -> StepPlan:
        return self.steps.get(name, StepPlan())

    def with_step(self, name: str, **changes: Any) -> RunPlan:
        """A copy whose plan of ``name`` has ``changes`` (other fields kept)."""
        steps = dict(self.steps)
        steps[name] = replace(steps.get(name, StepPlan()), **changes)
        return replace(self, steps=steps)
