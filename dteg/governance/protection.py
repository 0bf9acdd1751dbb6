"""How each column a load writes is protected: which mask strategy or encryption the steps on
its path apply (``hash``, ``tokenize``, ``partial``, …, ``encrypted``), read from the compiled
spec. The catalog, the PII inventory and erasure all start from this."""

from __future__ import annotations

from dataclasses import dataclass

from dteg.components.settings import masked_columns
from dteg.spec.models import PipelineSpec, StepSpec


@dataclass(frozen=True)
class ColumnProtection:
    """One protected column: the strategy, and the step that applies it."""

    column: str
    strategy: str  # hash | tokenize | partial | redact | email | null | encrypted | masked
    step: str


def _strategies(step: StepSpec) -> dict[str, str]:
    settings = step.settings
    if settings is None or not step.capabilities.masks:
        return {}
    columns = masked_columns(settings)
    # A mask stage's settings name a strategy per column (``plan()``); a stage that masks
    # without one (encrypt) turns values into ciphertext.
    plan = getattr(settings, "plan", None)
    if callable(plan):
        found = {c: str(getattr(m, "strategy", "masked")) for c, m in plan().items()}
        return {c: found.get(c, "masked") for c in columns}
    return dict.fromkeys(columns, "encrypted")


def upstream(spec: PipelineSpec, name: str) -> list[StepSpec]:
    """Every step whose rows reach ``name`` (not itself), nearest first."""
    seen: list[str] = []
    todo = list(spec.step(name).inputs)
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.append(current)
        todo.extend(spec.step(current).inputs)
    return [spec.step(n) for n in seen]


def protections(spec: PipelineSpec, sink: str) -> dict[str, ColumnProtection]:
    """column → how it is protected in what ``sink`` writes (the nearest stage wins: an
    encrypt after a mask leaves ciphertext)."""
    found: dict[str, ColumnProtection] = {}
    for step in upstream(spec, sink):
        for column, strategy in _strategies(step).items():
            found.setdefault(column, ColumnProtection(column, strategy, step.name))
    return found


def sources_of(spec: PipelineSpec, name: str) -> list[StepSpec]:
    """The extract steps whose rows reach ``name``."""
    return [s for s in upstream(spec, name) if s.is_source]
