"""The pipeline graph without Beam: step order, up/downstream steps, how a step's dead letters
are masked, each step's component and run context. Shared by the Beam compiler
(``dteg.beam.compiler``) and the in-process executor of small bounded runs
(``dteg.runners.inprocess``), so both place and mask steps the same way."""

from __future__ import annotations

import dataclasses
from typing import Any

from dteg.beam.dead_letter_output import SinkDeadLetters
from dteg.components.contracts import RunContext
from dteg.components.plan import RunPlan
from dteg.components.registry import ComponentInfo, Registry
from dteg.components.settings import masked_columns
from dteg.errors import ConfigError
from dteg.spec.models import PipelineSpec, StepSpec


def covered_columns(spec: PipelineSpec, load: str) -> set[str]:
    """Columns that a masking step masks or encrypts on the way to ``load``."""
    covered: set[str] = set()
    for name in upstream(spec, load):
        covered |= masked_columns(spec.step(name).settings)
    return covered


def order(spec: PipelineSpec) -> list[StepSpec]:
    """Steps with every step after the steps it reads."""
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


def downstream(spec: PipelineSpec, name: str) -> set[str]:
    seen: set[str] = set()
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for consumer in spec.consumers(current):
            if consumer.name not in seen:
                seen.add(consumer.name)
                frontier.append(consumer.name)
    return seen


def upstream(spec: PipelineSpec, name: str) -> set[str]:
    seen: set[str] = set()
    frontier = list(spec.step(name).inputs)
    while frontier:
        current = frontier.pop()
        if current not in seen:
            seen.add(current)
            frontier.extend(spec.step(current).inputs)
    return seen


class StageMasks:
    """Masks a dead-letter row like the masking steps it has not passed yet (each step's own
    ``mask_row``, in pipeline order). Picklable: stages are built on first use per worker."""

    def __init__(self, stages: list[tuple[ComponentInfo, Any, RunContext]]) -> None:
        self.stages = stages
        self._built: list[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_built": None}

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        if self._built is None:
            self._built = [info.build(settings, ctx) for info, settings, ctx in self.stages]
        for stage in self._built:
            row = stage.mask_row(row)
        return row


class StepResolver:
    """Each step's component, run context and dead-letter masking for one run."""

    def __init__(self, spec: PipelineSpec, plan: RunPlan, registry: Registry, *,
                 local_commit: bool = False) -> None:
        self.spec = spec
        self.plan = plan
        self.registry = registry
        self.local_commit = local_commit

    def context(self, step_name: str, step: StepSpec | None = None) -> RunContext:
        plan = self.plan.for_step(step_name)
        if self.local_commit:
            plan = dataclasses.replace(plan, local_commit=True)
        found = step or next((s for s in self.spec.steps if s.name == step_name), None)
        load = found is not None and found.is_sink and not found.is_dead_letter_sink
        return RunContext(
            pipeline=self.spec.name, step=step_name, base_dir=self.spec.base_dir,
            run_id=self.plan.run_id, mask_row=self.masker_for(step) if step else None,
            plan=plan, where=found.where() if found else "",
            protected_columns=frozenset(covered_columns(self.spec, step_name)) if load
            else frozenset(),
            dead_letters=self.sink_dead_letters() if load else None,
        )

    def sink_dead_letters(self) -> SinkDeadLetters | None:
        """``pipeline.dead_letter`` as the output of records a sink sees refused at commit."""
        sink = self.spec.dead_letter_sink()
        if sink is None:
            return None
        return SinkDeadLetters(self.info(sink), sink.validated(), dict(sink.config), sink.name,
                               self.spec.name, self.spec.base_dir, self.plan.run_id)

    def masker_for(self, step: StepSpec) -> StageMasks | None:
        """Masks ``step``'s dead letters like the masking steps downstream of it (and
        ``step`` itself when it masks: a row it rejects has not been masked yet)."""
        later = downstream(self.spec, step.name) | {step.name}
        stages = [(self.info(s), s.validated(),
                   RunContext(pipeline=self.spec.name, step=s.name,
                              base_dir=self.spec.base_dir, run_id=self.plan.run_id))
                  for s in order(self.spec) if s.capabilities.masks and s.name in later]
        return StageMasks(stages) if stages else None

    def info(self, step: StepSpec) -> ComponentInfo:
        kind = "source" if step.is_source else "sink" if step.is_sink else "transform"
        info = self.registry.find(kind, step.component or step.type)  # type: ignore[arg-type]
        if info is None:
            raise ConfigError(f"{step.where()}: no installed component implements "
                              f"`{step.type}`", hint="Run `dteg validate` for details.")
        return info

    def writer(self, step: StepSpec) -> Any:
        """A sink's writer, built in the launcher (cheap: no connection is opened)."""
        return self.info(step).build(step.validated(), self.context(step.name))

    def dead_letter_writer(self) -> Any:
        sink = self.spec.dead_letter_sink()
        assert sink is not None, "the phases insert the dead-letter sink"
        return self.writer(sink)
