"""Render a checked pipeline as text, Mermaid, Graphviz dot or JSON. No Beam, no secrets:
values that came from ``${env:…}``/``${file:…}`` are shown as written."""

from __future__ import annotations

import json
from typing import Any

from dteg.spec.models import PipelineSpec, StepSpec
from dteg.spec.secrets import MASK, redact_url_passwords

FORMATS = ("text", "mermaid", "dot", "json")


def _secret_fields(step: StepSpec) -> set[str]:
    """Config keys the step's component types as ``SecretStr``."""
    if step.component is None:
        return set()
    from dteg.components.registry import default_registry

    kind = "source" if step.is_source else "sink" if step.is_sink else "transform"
    info = default_registry().find(kind, step.component)  # type: ignore[arg-type]
    if info is None:
        return set()
    return _secret_names(info.config_model())


def _secret_names(model: Any, seen: set[Any] | None = None) -> set[str]:
    """Names of ``SecretStr`` fields, in nested models too (a keyring's ``key``, a Vault
    ``token``)."""
    import typing

    from pydantic import BaseModel

    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names = set()
    for name, field in model.model_fields.items():
        if "SecretStr" in repr(field.annotation):
            names.add(name)
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names |= _secret_names(annotation, seen)
            stack.extend(typing.get_args(annotation))
    return names


def _shown_config(spec: PipelineSpec, step: StepSpec) -> dict[str, Any]:
    secret = _secret_fields(step)

    def show(value: Any, path: tuple[Any, ...], key: str) -> Any:
        if path in spec.references:  # as written, but a default URL keeps no password
            return redact_url_passwords(spec.references[path])
        if isinstance(value, dict):
            return {k: show(v, (*path, k), str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [show(v, (*path, i), key) for i, v in enumerate(value)]
        if key in secret and value is not None:
            return MASK
        if isinstance(value, str):
            return spec.redactor(value)
        return value

    return {k: show(v, step.config_paths.get(k, (*step.path, "config", k)), k)
            for k, v in step.config.items()}


def _component(step: StepSpec) -> tuple[str, str] | None:
    """(version, origin) of the component behind ``step``, if it is installed."""
    if step.component is None:
        return None
    from dteg.components.registry import default_registry

    kind = "source" if step.is_source else "sink" if step.is_sink else "transform"
    info = default_registry().find(kind, step.component)  # type: ignore[arg-type]
    return (info.version, info.origin) if info is not None else None


def _alerts(spec: PipelineSpec) -> list[dict[str, Any]]:
    """Each alert's type and the events it is sent on (no addresses or webhook URLs)."""
    return [{"type": a.type, "on": list(a.on)} for a in spec.body.monitoring.alerts]


def as_dict(spec: PipelineSpec) -> dict[str, Any]:
    def versions(step: StepSpec) -> dict[str, Any]:
        found = _component(step)
        return {"version": found[0], "origin": found[1]} if found else {}

    return {
        "pipeline": spec.name,
        "file": spec.file,
        "schedule": spec.body.schedule,
        "access_level": spec.body.security.access_level,
        "alerts": _alerts(spec),
        "steps": [
            {
                "name": s.name, "kind": s.kind, "type": s.type, "component": s.component,
                **versions(s),
                "inputs": list(s.inputs), "reads": s.reads, "line": s.location.line,
                "generated_from": s.generated_from, "config": _shown_config(spec, s),
            }
            for s in spec.steps
        ],
        "warnings": list(spec.warnings),
    }


def render(spec: PipelineSpec, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(as_dict(spec), indent=2, default=str)
    if fmt == "mermaid":
        lines = ["flowchart LR"]
        for s in spec.steps:
            lines.append(f'    {_id(s.name)}["{s.name}<br/>{s.kind}: {s.type}"]')
        for s in spec.steps:
            arrow = "-.->" if s.is_dead_letter_sink else "-->"
            lines.extend(f"    {_id(i)} {arrow} {_id(s.name)}" for i in s.inputs)
        return "\n".join(lines)
    if fmt == "dot":
        lines = [f'digraph "{spec.name}" {{', "    rankdir=LR;", "    node [shape=box];"]
        for s in spec.steps:
            lines.append(f'    "{s.name}" [label="{s.name}\\n{s.kind}: {s.type}"];')
        for s in spec.steps:
            style = " [style=dashed]" if s.is_dead_letter_sink else ""
            lines.extend(f'    "{i}" -> "{s.name}"{style};' for i in s.inputs)
        lines.append("}")
        return "\n".join(lines)
    lines = [f"pipeline {spec.name} ({spec.file})"]
    if spec.body.schedule:
        lines.append(f"schedule: {spec.body.schedule}")
    lines.append(f"access_level: {spec.body.security.access_level}")
    for alert in _alerts(spec):
        lines.append(f"alert: {alert['type']} on {', '.join(alert['on'])}")
    for index, s in enumerate((s for s in spec.steps if not s.is_dead_letter_sink), start=1):
        origin = f" (from {s.generated_from})" if s.generated_from else ""
        reads = f" ← {', '.join(s.inputs)}" if s.inputs else ""
        lines.append(f"{index:>3}. {s.name}: {s.kind} {s.type}{reads}  [line {s.location.line}]"
                     f"{origin}")
        for key, value in _shown_config(spec, s).items():
            lines.append(f"       {key}: {json.dumps(value, default=str)}")
    dead = spec.dead_letter_sink()
    if dead is not None:
        shown = _shown_config(spec, dead)
        where = shown.get("path") or shown.get("table") or ""
        lines.append(f"       dead letters → {where or dead.type}".replace("{run_id}", "<run>"))
    components: dict[str, str] = {}
    for s in spec.steps:
        found = _component(s)
        if found is not None and s.component is not None:
            components.setdefault(s.component, f"{s.component} {found[0]} ({found[1]})".replace(
                "  (", " ("))
    if components:
        lines.append(f"components: {', '.join(components.values())}")
    return "\n".join(lines)


def _id(name: str) -> str:
    return "s_" + "".join(c if c.isalnum() else "_" for c in name)
