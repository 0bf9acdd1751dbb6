"""The last phase: a checked ``PipelineSpec`` becomes a Beam ``PTransform``.

``to_beam(spec)`` can be applied to any Beam pipeline (``p | dteg.to_beam(spec)``); ``dteg run``
does exactly that on the runner it chose.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apache_beam as beam

from dteg.beam.io import DEAD, STATS, ApplyStage, ReadSource, WriteSink
from dteg.beam.quality import CheckUnique, QualityGate, count_out, guard_load
from dteg.components.contracts import RunContext
from dteg.components.registry import ComponentInfo, Registry, default_registry
from dteg.errors import ConfigError
from dteg.spec.models import PipelineSpec, StepSpec

DEAD_LETTER_STEP = "dead_letter"


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class DeadLetterTarget:
    info: ComponentInfo
    config: dict[str, Any]

    def describe(self, ctx: RunContext) -> str:
        path = self.config.get("path")
        if path:
            return ctx.resolve_path(str(path))
        table = self.config.get("table")
        return f"{self.info.name}:{table}" if table else self.info.name


def dead_letter_target(spec: PipelineSpec, run_id: str, registry: Registry) -> DeadLetterTarget:
    configured = spec.body.dead_letter
    if configured is None:
        info = registry.find("sink", "jsonl")
        assert info is not None
        return DeadLetterTarget(info, {"path": f".dteg/dead_letter/{spec.name}/{run_id}.jsonl"})
    info = registry.find("sink", configured.type)
    if info is None:
        raise ConfigError(
            f"{spec.file}: `dead_letter.type: {configured.type}` is not a known sink",
            hint=f"Use one of: {', '.join(registry.names('sink'))}.",
        )
    return DeadLetterTarget(info, dict(configured.config))


def _order(spec: PipelineSpec) -> list[StepSpec]:
    done: set[str] = set()
    ordered: list[StepSpec] = []
    pending = list(spec.steps)
    while pending:
        progressed = False
        for step in list(pending):
            if all(i in done for i in step.inputs):
                ordered.append(step)
                done.add(step.name)
                pending.remove(step)
                progressed = True
        if not progressed:  # phases.check_graph refuses cycles before this
            raise AssertionError("cycle")
    return ordered


def _downstream(spec: PipelineSpec, name: str) -> set[str]:
    seen: set[str] = set()
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for consumer in spec.consumers(current):
            if consumer.name not in seen:
                seen.add(consumer.name)
                frontier.append(consumer.name)
    return seen


def _upstream(spec: PipelineSpec, name: str) -> set[str]:
    seen: set[str] = set()
    frontier = list(spec.step(name).inputs)
    while frontier:
        current = frontier.pop()
        if current not in seen:
            seen.add(current)
            frontier.extend(spec.step(current).inputs)
    return seen


def masker_for(
    spec: PipelineSpec, step: StepSpec
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """Mask a dead-letter row of ``step`` like the mask (and encrypt) steps it has not passed
    yet."""
    from dteg.transforms.encrypt import EncryptConfig
    from dteg.transforms.mask import MaskConfig, RowMasker

    later = _downstream(spec, step.name) | ({step.name} if step.type == "mask" else set())
    configs = [MaskConfig.model_validate(s.config) for s in spec.steps
               if s.component == "mask" and s.name in later and s.name != step.name]
    if step.component == "mask":
        configs.append(MaskConfig.model_validate(step.config))
    encrypt = [EncryptConfig.model_validate(s.config) for s in spec.steps
               if s.component == "encrypt" and s.name in later and s.name != step.name]
    if not (configs or encrypt):
        return None
    return RowMasker(configs, encrypt, base_dir=spec.base_dir)


def covered_columns(spec: PipelineSpec, load: str) -> set[str]:
    """Columns that a mask or encrypt step masks on the way to ``load``."""
    from dteg.transforms.encrypt import EncryptConfig
    from dteg.transforms.mask import MaskConfig

    covered: set[str] = set()
    for name in _upstream(spec, load):
        step = spec.step(name)
        if step.component == "mask":
            covered |= set(MaskConfig.model_validate(step.config).plan())
        elif step.component == "encrypt":
            covered |= set(EncryptConfig.model_validate(step.config).columns)
    return covered


class DtegPipeline(beam.PTransform):
    """The whole pipeline as one composite transform (applied to a pipeline's root)."""

    def __init__(self, spec: PipelineSpec, run_id: str | None = None,
                 registry: Registry | None = None) -> None:
        super().__init__(label=spec.name)
        self.spec = spec
        self.run_id = run_id or new_run_id()
        self.registry = registry or default_registry()

    def context(self, step_name: str, step: StepSpec | None = None) -> RunContext:
        return RunContext(
            pipeline=self.spec.name, step=step_name, base_dir=self.spec.base_dir,
            run_id=self.run_id, mask_row=masker_for(self.spec, step) if step else None,
            overrides=dict(self.spec.run_overrides.get(step_name, {})),
        )

    def _info(self, step: StepSpec) -> ComponentInfo:
        kind = "source" if step.is_source else "sink" if step.is_sink else "transform"
        info = self.registry.find(kind, step.component or step.type)  # type: ignore[arg-type]
        if info is None:
            raise ConfigError(f"{step.where()}: no installed component implements "
                              f"`{step.type}`", hint="Run `dteg validate` for details.")
        return info

    def expand(self, pbegin):
        rows: dict[str, Any] = {}
        dead: list[Any] = []
        stats: dict[str, tuple[Any, list[Any]]] = {}
        committed: dict[str, Any] = {}
        # dbt runs in the launcher once the loads have committed.
        ordered = [s for s in _order(self.spec) if not s.runs_after_load]
        # Sinks last, so each commit can wait for every quality gate of the run.
        for step in ordered:
            if step.is_sink:
                continue
            info = self._info(step)
            ctx = self.context(step.name, step)
            if step.is_source:
                out = pbegin | step.name >> ReadSource(info, step.config, ctx)
                rows[step.name] = out.rows
                dead.append(out.dead_letter)
            elif step.component == "validate":
                rows[step.name] = self._validate(step, info, self._input(step, rows), ctx,
                                                 dead, stats)
            elif step.component == "aggregate":
                from dteg.beam.aggregate import Aggregate, window_step

                rows[step.name] = self._input(step, rows) | step.name >> Aggregate(
                    step.config, window_step(self.spec, step), ctx)
            else:
                out = self._input(step, rows) | step.name >> ApplyStage(info, step.config, ctx)
                rows[step.name] = out.rows
                dead.append(out.dead_letter)
        gate = self._gate(pbegin, stats)
        restricted = self.spec.body.security.access_level == "restricted"
        for step in ordered:
            if not step.is_sink:
                continue
            ctx = self.context(step.name, step)
            inputs = tuple(rows[i] for i in step.inputs)
            if restricted:
                inputs = (guard_load(self._input(step, rows), ctx, step.name,
                                     covered_columns(self.spec, step.name)),)
            committed[step.name] = inputs | step.name >> WriteSink(
                self._info(step), step.config, ctx, gate)
        target = dead_letter_target(self.spec, self.run_id, self.registry)
        # One writer per producer (no Flatten of the rows): a Flatten would make the embedded
        # runner hold every dead letter in memory until the main stages finish.
        committed[DEAD_LETTER_STEP] = tuple(dead) | DEAD_LETTER_STEP >> WriteSink(
            target.info, target.config, self.context(DEAD_LETTER_STEP), gate)
        return committed

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

        config = ValidateConfig.model_validate(step.config)
        uniques = [(rule, label) for rule, label in zip(config.rules, config.labels(),
                                                         strict=True) if rule.type == "unique"]
        gated = config.has_thresholds()
        out = upstream | step.name >> ApplyStage(info, step.config, ctx,
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


def to_beam(spec: PipelineSpec, run_id: str | None = None) -> DtegPipeline:
    """The pipeline as a Beam ``PTransform``: ``beam.Pipeline() | dteg.to_beam(spec)``."""
    return DtegPipeline(spec, run_id)
