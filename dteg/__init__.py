"""dteg: YAML-first ELT and streaming pipelines compiled to Apache Beam.

Library use::

    import apache_beam as beam
    import dteg

    spec = dteg.load("pipeline.yaml")
    with beam.Pipeline() as p:
        p | dteg.to_beam(spec)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dteg.errors import ConfigError, ConnectorError, DtegError, RunError, SpecError
from dteg.spec.models import PipelineSpec
from dteg.version import __version__

if TYPE_CHECKING:
    from dteg.beam.compiler import DtegPipeline

__all__ = [
    "ConfigError",
    "ConnectorError",
    "DtegError",
    "PipelineSpec",
    "RunError",
    "SpecError",
    "__version__",
    "load",
    "to_beam",
]


def load(path: str | Path, *, environ: dict[str, str] | None = None) -> PipelineSpec:
    """Load and check a pipeline file (every compile phase; no Beam import)."""
    from dteg.spec.phases import compile_spec

    return compile_spec(path, environ=environ)


def to_beam(spec: PipelineSpec, run_id: str | None = None) -> DtegPipeline:
    """The pipeline as a Beam ``PTransform`` to apply to a pipeline's root."""
    from dteg.beam.compiler import to_beam as _to_beam

    return _to_beam(spec, run_id)
