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

from dteg.engine.beam_io import ApplyStage, ReadSource, WriteSink
from dteg.engine.contracts import RunContext
from dteg.engine.registry import ComponentInfo, Registry, default_registry
from dteg.engine.spec import PipelineSpec, StepSpec
from dteg.errors import ConfigError

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


def masker_for(
    spec: PipelineSpec, step: StepSpec
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """Mask a dead-letter row of ``step`` like the mask steps it has not passed yet."""
    from dteg.transforms.mask import MaskConfig, RowMasker

    later = _downstream(spec, step.name) | ({step.name} if step.type == "mask" else set())
    configs = [MaskConfig.model_validate(s.config) for s in spec.steps
               if s.component == "mask" and s.name in later and s.name != step.name]
    if step.component == "mask":
        configs.append(MaskConfig.model_validate(step.config))
    return RowMasker(configs) if configs else None


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
        committed: dict[str, Any] = {}
        for step in _order(self.spec):
            if step.runs_after_load:
                continue  # dbt runs in the launcher once the loads have committed
            info = self._info(step)
            ctx = self.context(step.name, step)
            if step.is_source:
                out = pbegin | step.name >> ReadSource(info, step.config, ctx)
                rows[step.name] = out.rows
                dead.append(out.dead_letter)
                continue
            inputs = [rows[i] for i in step.inputs]
            upstream = inputs[0] if len(inputs) == 1 else (
                inputs | f"{step.name}/Merge" >> beam.Flatten())
            if step.is_sink:
                committed[step.name] = upstream | step.name >> WriteSink(info, step.config, ctx)
            else:
                out = upstream | step.name >> ApplyStage(info, step.config, ctx)
                rows[step.name] = out.rows
                dead.append(out.dead_letter)
        target = dead_letter_target(self.spec, self.run_id, self.registry)
        committed[DEAD_LETTER_STEP] = (
            dead | "DeadLetters/Merge" >> beam.Flatten()
            | DEAD_LETTER_STEP >> WriteSink(target.info, target.config,
                                            self.context(DEAD_LETTER_STEP))
        )
        return committed


def to_beam(spec: PipelineSpec, run_id: str | None = None) -> DtegPipeline:
    """The pipeline as a Beam ``PTransform``: ``beam.Pipeline() | dteg.to_beam(spec)``."""
    return DtegPipeline(spec, run_id)
