"""Beam parts of quality and access rules that a single batch cannot decide.

* ``CheckUnique``: the ``unique`` rule over the whole run (split by key hash → GroupByKey →
  find duplicates per bucket), with the same counters and dead letters as the validate stage;
* ``QualityGate``: sums a validate step's per-batch counts over the run and raises when
  ``max_invalid_ratio`` (of the step or of a rule) is crossed. Every sink's commit takes the
  gates as a side input, so no sink commits when a threshold is crossed;
* ``guard_load``: ``access_level: restricted`` — checks each batch right before a load.

The gate sums over the global window, i.e. a bounded run; a stream would need one gate per
window (``CombineGlobally(...).without_defaults()`` per window) before its sinks commit.
"""

from __future__ import annotations

import typing
from typing import Any

import apache_beam as beam
import pyarrow as pa

from dteg.beam.io import DEAD, STATS, counter
from dteg.components.contracts import RunContext
from dteg.errors import StepError
from dteg.transforms.unique import UniqueCheck
from dteg.transforms.validate import ValidateConfig, rule_counter

# --- unique ----------------------------------------------------------------------------------


class _Split(beam.DoFn):
    def __init__(self, check: UniqueCheck) -> None:
        self.check = check

    def process(self, batch: pa.RecordBatch):
        if not batch.num_rows:  # nothing to check; it carries the schema on
            yield beam.pvalue.TaggedOutput("unchecked", batch)
            return
        unchecked, parts = self.check.split(batch)
        if unchecked is not None:
            yield beam.pvalue.TaggedOutput("unchecked", unchecked)
        yield from parts


class _CheckBucket(beam.DoFn):
    def __init__(self, check: UniqueCheck, emit_stats: bool) -> None:
        self.check = check
        self.emit_stats = emit_stats
        step = check.ctx.step
        self.dead = counter(step, "dead_letter")
        self.filtered = counter(step, "filtered")
        self.failed = counter(step, rule_counter(check.label))

    def process(self, element: tuple[int, Any]):
        _, batches = element
        result = self.check.check(batches)
        dead = result.rejected.num_rows if result.rejected is not None else 0
        duplicates = result.stats.get(rule_counter(self.check.label), 0)
        self.failed.inc(duplicates)
        self.filtered.inc(result.filtered)
        if self.emit_stats and duplicates:
            yield beam.pvalue.TaggedOutput(STATS, {"rows": 0, "invalid": duplicates,
                                                   **result.stats})
        if dead:
            self.dead.inc(dead)
            yield beam.pvalue.TaggedOutput(DEAD, result.rejected)
        if result.kept is not None and result.kept.num_rows:
            yield result.kept


class CheckUnique(beam.PTransform):
    """One ``unique`` rule: outputs ``rows``, ``dead_letter`` and ``stats``."""

    def __init__(self, check: UniqueCheck, emit_stats: bool) -> None:
        super().__init__()
        self.check = check
        self.emit_stats = emit_stats

    def expand(self, pcoll):
        # Typed, so the shuffle encodes batches with the Arrow coder rather than pickle.
        split = (pcoll | "Split" >> beam.ParDo(_Split(self.check)).with_output_types(
            typing.Tuple[int, pa.RecordBatch]).with_outputs(  # noqa: UP006 - Beam's hint
            "unchecked", main="keyed"))
        checked = (
            split.keyed
            | "Group" >> beam.GroupByKey()
            | "Check" >> beam.ParDo(_CheckBucket(self.check, self.emit_stats)).with_outputs(
                DEAD, STATS, main="rows")
        )
        rows = (split.unchecked, checked.rows) | "Rows" >> beam.Flatten()
        return {"rows": rows, DEAD: checked[DEAD], STATS: checked[STATS]}


class _CountOut(beam.DoFn):
    def __init__(self, step: str) -> None:
        self.out = counter(step, "out")

    def process(self, batch: pa.RecordBatch):
        self.out.inc(batch.num_rows)
        yield batch


def count_out(pcoll: Any, step: str) -> Any:
    """Count a step's output rows where they leave it (after a run-wide check)."""
    return pcoll | f"{step}/CountOut" >> beam.ParDo(_CountOut(step))


# --- thresholds ------------------------------------------------------------------------------


class _SumCounts(beam.CombineFn):
    def create_accumulator(self) -> dict[str, int]:
        return {}

    def add_input(self, acc: dict[str, int], counts: dict[str, int]) -> dict[str, int]:
        for key, value in counts.items():
            acc[key] = acc.get(key, 0) + value
        return acc

    def merge_accumulators(self, accs: Any) -> dict[str, int]:
        merged: dict[str, int] = {}
        for acc in accs:
            self.add_input(merged, acc)
        return merged

    def extract_output(self, acc: dict[str, int]) -> dict[str, int]:
        return acc


def threshold_error(step: str, config: ValidateConfig, totals: dict[str, int]
                    ) -> StepError | None:
    """The error for run-wide ``totals`` of a validate step, if a threshold is crossed."""
    rows = totals.get("rows", 0)
    if not rows:
        return None
    labels = config.labels()
    failed = {label: totals.get(rule_counter(label), 0) for label in labels}
    by_rule = ", ".join(f"`{label}` {n:,}" for label, n in failed.items() if n) or "none"
    crossed = []
    invalid = totals.get("invalid", 0)
    if config.max_invalid_ratio is not None and invalid / rows > config.max_invalid_ratio:
        crossed.append(f"{invalid:,} of {rows:,} rows ({invalid / rows:.1%}) failed "
                       f"validation, above `max_invalid_ratio: {config.max_invalid_ratio}`")
    for rule, label in zip(config.rules, labels, strict=True):
        limit = rule.max_invalid_ratio
        if limit is not None and failed[label] / rows > limit:
            crossed.append(f"rule `{label}` failed on {failed[label]:,} of {rows:,} rows "
                           f"({failed[label] / rows:.1%}), above its `max_invalid_ratio: "
                           f"{limit}`")
    if not crossed:
        return None
    return StepError(
        f"{'; '.join(crossed)} (failures by rule: {by_rule}). The run stopped "
        "before any load committed: targets are unchanged and no dead letters were written.",
        step=step,
        hint="Fix the source data, or raise `max_invalid_ratio` (run with a higher one to see "
        "the rejected rows and their reasons in the dead-letter output).")


class _Check(beam.DoFn):
    def __init__(self, step: str, config: ValidateConfig) -> None:
        self.step = step
        self.config = config

    def process(self, totals: dict[str, int]):
        error = threshold_error(self.step, self.config, totals)
        if error is not None:
            raise error
        yield self.step


class QualityGate(beam.PTransform):
    """Run-wide counts of a validate step → its name, or an error if a threshold is crossed."""

    def __init__(self, step: str, config: ValidateConfig) -> None:
        super().__init__()
        self.step = step
        self.config = config

    def expand(self, stats):
        return (stats
                | "Total" >> beam.CombineGlobally(_SumCounts())
                | "Check" >> beam.ParDo(_Check(self.step, self.config)))


# --- restricted access -----------------------------------------------------------------------


class _Guard(beam.DoFn):
    def __init__(self, ctx: RunContext, load: str, covered: set[str],
                 created: dict[str, str]) -> None:
        self.ctx = ctx
        self.load = load
        self.covered = covered
        self.created = created

    def setup(self) -> None:
        from dteg.security.access import RestrictedGuard

        self.guard = RestrictedGuard(self.ctx, self.load, self.covered, self.created)

    def process(self, batch: pa.RecordBatch):
        self.guard.apply(batch)
        yield batch


def guard_load(pcoll: Any, ctx: RunContext, load: str, covered: set[str],
               created: dict[str, str] | None = None) -> Any:
    """Refuse PII-looking columns nothing masks, right before ``load`` writes anything
    (``created``: column → the step that made it, for the suggested fix)."""
    return pcoll | f"{load}/Restricted" >> beam.ParDo(_Guard(ctx, load, covered,
                                                             dict(created or {})))
