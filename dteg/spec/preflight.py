"""Problems a pipeline's environment has that show without reading data: each step's
settings name them (``preflight``). ``dteg validate`` reports them and every run checks them
before anything starts, so a missing input never fails a run after another load committed."""

from __future__ import annotations

from dteg.components.settings import preflight
from dteg.errors import ConfigError
from dteg.spec.models import PipelineSpec


def preflight_error(spec: PipelineSpec) -> ConfigError | None:
    """One ``ConfigError`` naming the first step with a problem and its line (and the other
    problems after it), or None."""
    found = [(step, problem) for step in spec.steps
             for problem in preflight(step.settings, spec.base_dir)]
    if not found:
        return None
    step, first = found[0]
    others = "".join(f"; also {s.where()}: {p}" for s, p in found[1:])
    return ConfigError(first + others, step=step.name, location=step.location)


def check_preflight(spec: PipelineSpec) -> None:
    error = preflight_error(spec)
    if error is not None:
        raise error
