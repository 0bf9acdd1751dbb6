"""The last phase: a checked ``PipelineSpec`` becomes a Beam ``PTransform``.

``to_beam(spec)`` can be applied to any Beam pipeline (``p | dteg.to_beam(spec)``); ``dteg run``
does exactly that on the runner it chose.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from dteg.beam.graph import StageMasks, StepResolver, covered_columns, order, upstream
from dteg.beam.io import DEAD, STATS, ApplyStage, ReadSource, WriteSink
from dteg.beam.quality import CheckUnique, QualityGate, count_out, guard_load
from dteg.components.contracts import RunContext
from dteg.components.plan import RunPlan, new_run_id
from dteg.components.registry import ComponentInfo, Registry, default_registry
from dteg.components.settings import created_columns
from dteg.errors import ConfigError
from dteg.spec.models import PipelineSpec, StepSpec


def columns_made_before(spec: PipelineSpec, load: str) -> dict[str, str]:
    """column → the step on the way to ``load`` that added it (after the extract)."""
    made: dict[str, str] = {}
    for name in sorted(upstream(spec, load)):
        for column in created_columns(spec.step(name).settings):
            made.setdefault(column, name)
    return made


class DtegPipeline(beam.PTransform):
    """The whole pipeline as one composite transform (applied to a pipeline's root).

    Steps are placed by what their components can do (``Capabilities.role``), never by name:
    sources become ``ReadSource``, row stages ``ApplyStage``, validate-role stages add their
    run-wide checks and quality gate, aggregate-role stages group across batches, sinks
    ``WriteSink``; post-load steps (dbt) are left to the launcher."""

    def __init__(self, spec: PipelineSpec, plan: RunPlan | str | None = None,
                 registry: Registry | None = None) -> None:
        super().__init__(label=spec.name)
        self.spec = spec
        if plan is None or isinstance(plan, str):
            plan = RunPlan(run_id=plan or new_run_id())
        self.plan = plan
        self.run_id = plan.run_id
        self.registry = registry or default_registry()
        self._resolver = StepResolver(spec, plan, self.registry)

    def context(self, step_name: str, step: StepSpec | None = None) -> RunContext:
        return self._resolver.context(step_name, step)

    def masker_for(self, step: StepSpec) -> StageMasks | None:
        return self._resolver.masker_for(step)

    def info(self, step: StepSpec) -> ComponentInfo:
        return self._resolver.info(step)

    def writer(self, step: StepSpec) -> Any:
        """A sink's writer, built in the launcher (cheap: no connection is opened)."""
        return self._resolver.writer(step)

    def dead_letter_writer(self) -> Any:
        return self._resolver.dead_letter_writer()

    def expand(self, pbegin):
        rows: dict[str, Any] = {}
        # Each producer's dead letters (a validate step has one per run-wide check).
        dead: dict[str, list[Any]] = {}
        stats: dict[str, tuple[Any, list[Any]]] = {}
        committed: dict[str, Any] = {}
        # Post-load steps (dbt) run in the launcher once the loads have committed.
        ordered = [s for s in order(self.spec) if not s.runs_after_load]
        # Sinks last, so each commit can wait for every quality gate of the run.
        for step in ordered:
            if step.is_sink:
                continue
            info = self.info(step)
            ctx = self.context(step.name, step)
            settings = step.validated()
            role = step.capabilities.role
            if step.is_source:
                out = pbegin | step.name >> self.source_transform(step, info, settings, ctx)
                rows[step.name] = out.rows
                dead[step.name] = [out.dead_letter]
            elif role == "validate":
                rows[step.name] = self._validate(step, info, self._input(step, rows), ctx,
                                                 dead.setdefault(step.name, []), stats)
            elif role == "aggregate":
                from dteg.beam.aggregate import Aggregate, window_step

                rows[step.name] = self._input(step, rows) | step.name >> Aggregate(
                    settings, window_step(self.spec, step), ctx)  # type: ignore[arg-type]
            else:
                out = self._input(step, rows) | step.name >> ApplyStage(info, settings, ctx)
                rows[step.name] = out.rows
                dead[step.name] = [out.dead_letter]
        gate = self._gate(pbegin, stats)
        restricted = self.spec.body.security.access_level == "restricted"
        for step in ordered:
            if not step.is_sink:
                continue
            ctx = self.context(step.name, step)
            if step.is_dead_letter_sink:
                # One writer per producer (no Flatten of the rows): a Flatten would make the
                # embedded runner hold every dead letter until the main stages finish.
                inputs = tuple(p for name in step.inputs for p in dead.get(name, ()))
            elif restricted:
                inputs = (guard_load(self._input(step, rows), ctx, step.name,
                                     covered_columns(self.spec, step.name),
                                     columns_made_before(self.spec, step.name)),)
            else:
                inputs = tuple(rows[i] for i in step.inputs)
            committed[step.name] = inputs | step.name >> self.sink_transform(step, ctx, gate)
        return committed

    def source_transform(self, step: StepSpec, info: ComponentInfo, settings: Any,
                         ctx: RunContext) -> beam.PTransform:
        """How a source step is read (a subclass reads unbounded sources its own way)."""
        return ReadSource(info, settings, ctx)

    def sink_transform(self, step: StepSpec, ctx: RunContext, gate: Any) -> beam.PTransform:
        """How a sink step writes and commits (a subclass commits per bundle)."""
        return WriteSink(self.info(step), step.validated(), ctx, gate)

    def _input(self, step: StepSpec, rows: dict[str, Any]) -> Any:
        inputs = [rows[i] for i in step.inputs]
        return inputs[0] if len(inputs) == 1 else (
            inputs | f"{step.name}/Merge" >> beam.Flatten())

    def _validate(self, step: StepSpec, info: ComponentInfo, upstream: Any, ctx: RunContext,
                  dead: list[Any], stats: dict[str, tuple[Any, list[Any]]]) -> Any:
        """Batch rules in one stage, then each run-wide ``unique`` rule; per-batch counts go
        to the step's quality gate when it has thresholds."""
        from dteg.transforms.unique import UniqueCheck
        from dteg.transforms.validate import ValidateConfig

        config = step.validated()
        if not isinstance(config, ValidateConfig):
            raise ConfigError(f"{step.where()}: a component with the `validate` role must "
                              "take dteg.transforms.validate.ValidateConfig settings")
        uniques = [(rule, label) for rule, label in zip(config.rules, config.labels(),
                                                         strict=True) if rule.type == "unique"]
        gated = config.has_thresholds()
        out = upstream | step.name >> ApplyStage(info, config, ctx,
                                                 count_out=not uniques, emit_stats=gated)
        current = out.rows
        dead.append(out.dead_letter)
        counts = [out[STATS]]
        for rule, label in uniques:
            check = UniqueCheck(rule, label, config.action(rule), ctx)
            checked = current | f"{step.name}/{label}" >> CheckUnique(check, gated)
            current = checked["rows"]
            dead.append(checked[DEAD])
            counts.append(checked[STATS])
        if uniques:
            current = count_out(current, step.name)
        if gated:
            stats[step.name] = (config, counts)
        return current

    def _gate(self, pbegin: Any, stats: dict[str, tuple[Any, list[Any]]]) -> Any:
        """One PCollection of every quality gate's verdict (None when nothing is gated)."""
        gates = [
            counts | f"{name}/Stats" >> beam.Flatten()
            | f"{name}/Gate" >> QualityGate(name, config)
            for name, (config, counts) in stats.items()
        ]
        if not gates:
            return None
        return gates[0] if len(gates) == 1 else gates | "Gates" >> beam.Flatten()


def to_beam(spec: PipelineSpec, run_id: str | None = None,
            plan: RunPlan | None = None) -> DtegPipeline:
    """The pipeline as a Beam ``PTransform``: ``beam.Pipeline() | dteg.to_beam(spec)``."""
    return DtegPipeline(spec, plan or RunPlan(run_id=run_id or new_run_id()))
