"""The pipeline's own typed sections — ``monitoring.alerts``, ``quality.validation_rules``,
``security.data_masking`` and ``security.keys`` — checked before the whole file's model.

Each item of a list of tagged items (alerts, rules) is checked against the model its ``type``
names, so a typo is compared with that model's keys (not with the first model of the union),
and an unknown ``type`` gets the closest known one. Errors in the policies name the step they
become (``validate``, ``mask``, ``encrypt``), as the errors of that step's config would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from dteg.errors import SpecError
from dteg.spec.alerts import ALERT_MODELS
from dteg.spec.loader import Path_, SourceMap
from dteg.spec.model_errors import located_errors
from dteg.spec.models import SecuritySpec
from dteg.spec.names import known_names_hint
from dteg.spec.rules import RULE_MODELS


def check_sections(pipeline: Any, smap: SourceMap,
                   redact: Callable[[str], str] = lambda s: s) -> list[SpecError]:
    """Problems in the typed sections of ``pipeline`` (the interpolated ``pipeline:``
    mapping), one per mistake; the whole file's model reports anything else."""
    if not isinstance(pipeline, dict):
        return []
    steps = pipeline.get("steps")
    monitoring, quality, security = (
        value if isinstance(value, dict) else {}
        for value in (pipeline.get(k) for k in ("monitoring", "quality", "security")))
    errors = _tagged_items(monitoring.get("alerts"), ("pipeline", "monitoring", "alerts"),
                           ALERT_MODELS, "alert types", smap, redact, step=None)
    errors += _tagged_items(quality.get("validation_rules"),
                            ("pipeline", "quality", "validation_rules"), RULE_MODELS,
                            "rule types", smap, redact, step=policy_step("validate", steps))
    for key, kind in (("data_masking", "mask"), ("keys", "encrypt")):
        if key not in security:
            continue
        part = {key: security[key]}
        try:
            SecuritySpec.model_validate(part)
        except ValidationError as exc:
            errors += located_errors(exc, model=SecuritySpec, source_map=smap,
                                     base=("pipeline", "security"), redact=redact, data=part,
                                     step=policy_step(kind, steps))
    return errors


def _tagged_items(items: Any, path: Path_, models: Mapping[str, type[BaseModel]], what: str,
                  smap: SourceMap, redact: Callable[[str], str],
                  step: str | None) -> list[SpecError]:
    if not isinstance(items, list):
        return []  # not a list: the file's model says so
    errors: list[SpecError] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        # YAML 1.1 (PyYAML) reads the key `on` as true; the source map has it as written.
        item = {("on" if k is True else k): v for k, v in item.items()}
        kind = item.get("type")
        if kind not in models:
            message = (f"unknown {what.split()[0]} type `{kind}`" if "type" in item
                       else f"this item has no `type:` (one of {', '.join(models)})")
            errors.append(SpecError(
                message, location=smap.at((*path, index, "type")), step=step,
                hint=known_names_hint(what, kind, models) if "type" in item else
                f"Add `type:` to say what kind of {what.split()[0]} it is."))
            continue
        model = models[str(kind)]
        # Keyed by its index, so errors about the whole item still say which item it is.
        data = {index: item}
        try:
            TypeAdapter(dict[int, model]).validate_python(data)  # type: ignore[valid-type]
        except ValidationError as exc:
            errors += located_errors(exc, model=model, source_map=smap, base=path, step=step,
                                     redact=redact, data=data)
    return errors


def policy_step(kind: str, steps: Any) -> str | None:
    """The name of the step a pipeline policy becomes (``insert_policy_steps``): ``validate``,
    ``mask`` or ``encrypt`` after the one extract step (None when there are several)."""
    items = [i for i in steps if isinstance(i, dict)] if isinstance(steps, list) else []
    if sum("extract" in i for i in items) != 1:
        return None
    taken = {name for item in items for step_kind, body in item.items()
             for name in (body.get("name") if isinstance(body, dict) else None, step_kind)}
    return f"{kind}_policy" if kind in taken else kind


def as_config(value: Any) -> Any:
    """Typed section values as the plain config a generated step holds: models as the keys
    they were given (by their YAML names), secrets as their text (the plan masks them)."""
    if isinstance(value, BaseModel):
        return {k: as_config(v) for k, v in value.model_dump(
            exclude_unset=True, by_alias=True).items()}
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: as_config(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_config(v) for v in value]
    return value
