"""The JSON Schema of a pipeline file (``dteg schema``), with each built-in type's config
spelled out so editors can autocomplete and check it."""

from __future__ import annotations

from typing import Any

from dteg.components.registry import Kind, Registry, default_registry
from dteg.spec.models import (
    CONFIG_TYPE_KINDS,
    OWN_KINDS,
    SINK_KINDS,
    SOURCE_KINDS,
    STEP_KINDS,
    PipelineFile,
)


def _kind_of(step_kind: str) -> Kind:
    if step_kind in SOURCE_KINDS:
        return "source"
    if step_kind in SINK_KINDS:
        return "sink"
    return "transform"


def pipeline_json_schema(registry: Registry | None = None) -> dict[str, Any]:
    registry = registry or default_registry()
    schema = PipelineFile.model_json_schema()
    defs = schema.setdefault("$defs", {})
    body_ref = {"$ref": "#/$defs/StepBody"}
    step_variants = []
    for step_kind in STEP_KINDS:
        kind = _kind_of(step_kind)
        conditions = []
        for info in registry.components:
            if info.kind != kind or (step_kind in OWN_KINDS and info.name != step_kind):
                continue
            model = info.config_model()
            name = f"{info.kind}_{info.name}_config"
            sub = model.model_json_schema(ref_template="#/$defs/{model}")
            for key, value in sub.pop("$defs", {}).items():
                defs.setdefault(key, value)
            defs[name] = sub
            names = [info.name, *info.aliases]
            condition: dict[str, Any] = {"properties": {"type": {"enum": names}},
                                         "required": ["type"]}
            if step_kind in OWN_KINDS:
                # `- mask: {columns: …}` names its type by its kind: `type:` may be left out.
                condition = {"properties": {"type": {"enum": [*names, None]}}}
            if step_kind in CONFIG_TYPE_KINDS:
                condition = {}  # `type:` is the window's own kind (fixed, sliding, session)
            conditions.append({
                "if": condition,
                "then": {"properties": {"config": {"$ref": f"#/$defs/{name}"}}},
            })
        step_variants.append({
            "type": "object",
            "properties": {step_kind: {"allOf": [body_ref, *conditions]}},
            "required": [step_kind],
            "additionalProperties": False,
        })
    steps = schema["$defs"]["PipelineBody"]["properties"]["steps"]
    steps["items"] = {"oneOf": step_variants}
    schema["title"] = "dteg pipeline"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
