"""What makes a pipeline runnable as a stream, and the spec ``dteg stream`` actually runs.

Checked before anything starts (each message names the step and its line):
* every extract step reads an unbounded source (``kafka``);
* no sink would lose earlier micro-batches' rows (``mode: replace`` or ``error``);
* a ``window`` step feeds an ``aggregate`` step and an ``aggregate`` has a window before it
  (otherwise nothing would ever be emitted);
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dteg.components.registry import Registry, default_registry
from dteg.errors import ConfigError
from dteg.spec.models import DeadLetterSpec, PipelineSpec, StepSpec

STREAM_SOURCES = ("kafka",)


def _mode(step: StepSpec, registry: Registry) -> str | None:
    info = registry.find("sink", step.component or step.type)
    if info is None:
        return None
    model = info.config_model().model_validate(step.config)
    mode = getattr(model, "mode", None)
    return str(mode) if mode is not None else None


def problems(spec: PipelineSpec, registry: Registry | None = None) -> list[str]:
    """Everything that stops this pipeline from running as a stream."""
    from dteg.beam.aggregate import window_step

    registry = registry or default_registry()
    found: list[str] = []
    for step in spec.steps:
        if step.is_source and step.component not in STREAM_SOURCES:
            found.append(f"{step.where()}: `{step.type}` is a bounded source; `dteg stream` "
                         f"reads {', '.join(STREAM_SOURCES)} (use `dteg run` for this one)")
        if step.is_sink and _mode(step, registry) in ("replace", "error"):
            found.append(f"{step.where()}: `mode: {_mode(step, registry)}` would replace the "
                         "rows of every earlier micro-batch; use `mode: append` (a folder for "
                         "files) or `mode: merge`")
        if step.component == "window" and not any(
                c.component == "aggregate" for c in spec.consumers(step.name)):
            found.append(f"{step.where()}: in a stream a window step must feed an `aggregate` "
                         "step (the aggregate emits each window once the watermark passes it)")
        if step.component == "aggregate" and window_step(spec, step) is None:
            found.append(f"{step.where()}: an aggregate without a window never ends in a "
                         "stream; put a `- window:` step before it")
    dead = spec.body.dead_letter
    if dead is not None:
        info = registry.find("sink", dead.type)
        if info is not None:
            mode = getattr(info.config_model().model_validate(dead.config), "mode", None)
            if mode in ("replace", "error"):
                found.append(f"{spec.file}: `dead_letter` with `mode: {mode}` would replace "
                             "earlier micro-batches' dead letters; use `mode: append`")
    return found


def check(spec: PipelineSpec) -> None:
    found = problems(spec)
    if found:
        raise ConfigError("this pipeline cannot run as a stream:\n  - " + "\n  - ".join(found))


def stream_spec(spec: PipelineSpec, *, folder: Path, run_dir: Path) -> PipelineSpec:
    """The spec a stream runs: dead letters appended to a folder (one part per micro-batch
    that has any), and the run-time files each step reads."""
    from dteg.connectors.kafka.source import PLAN_FILE, TIMESTAMPS_DIR
    from dteg.transforms.checkpoint import CHECKPOINT_DIR, PENDING_DIR

    body = spec.body
    if body.dead_letter is None:
        body = body.model_copy(update={"dead_letter": DeadLetterSpec(
            type="jsonl", config={"path": f".dteg/dead_letter/{spec.name}/", "mode": "append"})})
    overrides: dict[str, Any] = dict(spec.run_overrides)
    for step in spec.steps:
        if step.is_source:
            overrides[step.name] = {PLAN_FILE: str(folder / "plan.json"),
                                    TIMESTAMPS_DIR: str(run_dir / "timestamps")}
        elif step.component in ("window", "aggregate"):
            overrides[step.name] = {CHECKPOINT_DIR: str(folder),
                                    PENDING_DIR: str(run_dir / "pending")}
    return spec.model_copy(update={"body": body, "run_overrides": overrides})


def has_windows(spec: PipelineSpec) -> bool:
    return any(s.component == "aggregate" for s in spec.steps)
