"""What a component can do, declared next to it in the registry. Phases, the compiler and the
launchers ask these, never a component's name, so a third-party component that declares the
same capabilities as a built-in is treated exactly like it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How the compiler places a transform in the graph:
# row        one batch in → kept rows, dead letters, filtered count (BatchTransform)
# validate   rules over rows with a run-wide quality gate and run-wide unique checks
# aggregate  groups rows (per window) across batches; needs state in a stream
# post_load  not in the Beam graph: runs after the loads it follows have committed (dbt)
Role = Literal["row", "validate", "aggregate", "post_load"]


@dataclass(frozen=True)
class Capabilities:
    # --- sources -------------------------------------------------------------------------
    # "module:function" building the source's offset planner (``OffsetPlanner`` in
    # dteg.components.contracts) from (settings, pipeline, step): offsets are fixed before a
    # run and committed after every sink; such a source can run under `dteg stream`.
    offset_planner: str | None = None
    # The source can read incrementally by a cursor (its settings say which column).
    incremental: bool = False
    # Reading it again is cheap and has no effect on the source system (files, databases):
    # the catalog then samples it after each run for its profile. False for APIs that count
    # requests or run jobs (REST, Salesforce, Google Sheets): a profile must not spend quota.
    resample: bool = True
    # --- sinks ---------------------------------------------------------------------------
    write_modes: tuple[str, ...] = ("append",)
    # "module:function" building a ``RowStore`` (dteg.components.rows) from (settings,
    # base_dir, step): the target's rows can be found and deleted in place (retention,
    # erasure).
    row_store: str | None = None
    # --- transforms ----------------------------------------------------------------------
    role: Role = "row"
    # Masks or encrypts columns: dead letters of earlier steps are masked with it too.
    masks: bool = False
    # Keeps state across micro-batches (windows): a stream gives it a checkpoint folder.
    stateful: bool = False
    # --- all -----------------------------------------------------------------------------
    # "module:function" building a run listener (``dteg.run.events.RunListener``) from
    # (spec, step, ComponentInfo) for every run that uses the component: it hears the run's
    # events like the built-in listeners, and one that raises on ``RunStarted`` refuses the
    # run before anything is read (a premium component's licence check and usage metering).
    run_listener: str | None = None
    # The `pip install 'dteg[<extra>]'` that brings its client library.
    extra: str | None = None

    @property
    def unbounded(self) -> bool:
        return self.offset_planner is not None

    @property
    def runs_after_load(self) -> bool:
        return self.role == "post_load"
