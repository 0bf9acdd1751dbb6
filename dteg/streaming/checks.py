"""What makes a pipeline runnable as a stream, and the spec and plan ``dteg stream`` runs.

Checked before anything starts (each message names the step and its line), by what the steps'
components can do (``Capabilities``), never by their names:
* every extract step reads an unbounded source (its component declares an offset planner);
* no sink would lose earlier micro-batches' rows (write mode ``replace`` or ``error``);
* a window step feeds an aggregate step and an aggregate has a window before it (otherwise
  nothing would ever be emitted).
"""

from __future__ import annotations

from pathlib import Path

from dteg.components.plan import RunPlan
from dteg.components.registry import Registry, default_registry
from dteg.components.rundir import RunDir
from dteg.components.settings import write_mode
from dteg.errors import ConfigError
from dteg.spec.models import PipelineSpec
from dteg.spec.phases import retarget_dead_letters

LOSSY_MODES = ("replace", "error")


def problems(spec: PipelineSpec, registry: Registry | None = None) -> list[str]:
    """Everything that stops this pipeline from running as a stream."""
    from dteg.beam.aggregate import is_window, window_step

    registry = registry or default_registry()
    found: list[str] = []
    for step in spec.steps:
        if step.is_source and not step.capabilities.unbounded:
            found.append(f"{step.where()}: `{step.type}` is a bounded source; `dteg stream` "
                         "reads sources whose offsets can be planned and committed (e.g. "
                         "`kafka`; use `dteg run` for this one)")
        if step.is_dead_letter_sink:
            # The default (a file per run) becomes a folder a stream appends to; a configured
            # one must append itself.
            if spec.body.dead_letter is not None and write_mode(step.settings) in LOSSY_MODES:
                found.append(f"{spec.file}: `dead_letter` with `mode: "
                             f"{write_mode(step.settings)}` would replace earlier "
                             "micro-batches' dead letters; use `mode: append`")
            continue
        if step.is_sink and (mode := write_mode(step.settings)) in LOSSY_MODES:
            found.append(f"{step.where()}: `mode: {mode}` would replace the rows of every "
                         "earlier micro-batch; use `mode: append` (a folder for files) or "
                         "`mode: merge`")
        if is_window(step) and not any(c.capabilities.role == "aggregate"
                                       for c in spec.consumers(step.name)):
            found.append(f"{step.where()}: in a stream a window step must feed an `aggregate` "
                         "step (the aggregate emits each window once the watermark passes it)")
        if step.capabilities.role == "aggregate" and window_step(spec, step) is None:
            found.append(f"{step.where()}: an aggregate without a window never ends in a "
                         "stream; put a `- window:` step before it")
    return found


def check(spec: PipelineSpec) -> None:
    found = problems(spec)
    if found:
        raise ConfigError("this pipeline cannot run as a stream:\n  - " + "\n  - ".join(found))


def stream_spec(spec: PipelineSpec, run_id: str, *, folder: Path
                ) -> tuple[PipelineSpec, RunPlan]:
    """The spec a stream runs (dead letters appended to a folder, one part per micro-batch
    that has any) and its plan: sources read the ranges in ``folder/plan.json`` (rewritten
    before every micro-batch) and leave their event times in the run folder; stateful stages
    keep their state in ``folder`` and leave a micro-batch's new state in the run folder."""
    if spec.body.dead_letter is None:
        spec = retarget_dead_letters(spec, "jsonl", {
            "path": f".dteg/dead_letter/{spec.name}/", "mode": "append"})
    run_dir = RunDir.of(spec.state_dir, run_id)
    plan = RunPlan(run_id=run_id)
    for step in spec.steps:
        if step.is_source:
            plan = plan.with_step(step.name, offset_ranges_file=folder / "plan.json",
                                  timestamps_dir=run_dir.timestamps_dir)
        elif step.capabilities.stateful or step.capabilities.role == "aggregate":
            plan = plan.with_step(step.name, checkpoint_dir=folder,
                                  pending_state_dir=run_dir.pending_checkpoint_dir)
    return spec, plan


def has_windows(spec: PipelineSpec) -> bool:
    return any(s.capabilities.role == "aggregate" for s in spec.steps)
