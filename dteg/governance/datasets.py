"""The OpenLineage identity (namespace, name) of the dataset a step reads or writes: what its
settings say (``lineage_dataset`` of its settings), else
``dteg://<component>`` + ``<pipeline>.<step>``."""

from __future__ import annotations

from dteg.components.settings import lineage_dataset
from dteg.spec.models import PipelineSpec, StepSpec


def dataset_of(spec: PipelineSpec, step: StepSpec) -> tuple[str, str]:
    found = lineage_dataset(step.settings, spec.base_dir, step.name)
    namespace, name = found if found is not None else (
        f"dteg://{step.component or step.type}", f"{spec.name}.{step.name}")
    return spec.redactor(namespace), spec.redactor(name)
