"""Resolve ``${env:VAR}``, ``${env:VAR:-default}`` and ``${file:path}`` references.

Every resolved value is remembered by the ``Redactor`` so it can never be printed: plans show
the reference (``${env:DB_PASSWORD}``), errors and logs show ``***``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dteg.errors import SpecError
from dteg.spec.loader import Path_, SourceMap
from dteg.spec.secrets import Redactor, looks_secret

_REFERENCE = re.compile(r"\$\{(?P<provider>[a-zA-Z_]+):(?P<body>[^}]*)\}")


@dataclass
class Interpolation:
    data: Any
    redactor: Redactor
    # path → the text as written, for every value that held a reference
    references: dict[Path_, str] = field(default_factory=dict)


def raw_step_name(data: Any, path: Path_) -> str | None:
    """The name ``normalize_steps`` will give the step that ``path`` points into, read from the
    raw file data (errors found before normalization still name their step)."""
    if len(path) < 3 or path[:2] != ("pipeline", "steps") or not isinstance(path[2], int):
        return None
    try:
        steps = data["pipeline"]["steps"]
        item = steps[path[2]]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(item, dict) or len(item) != 1:
        return None
    kind, body = next(iter(item.items()))
    if isinstance(body, dict) and isinstance(body.get("name"), str):
        return str(body["name"])
    kinds = [next(iter(s)) for s in steps if isinstance(s, dict) and len(s) == 1]
    if kinds.count(kind) == 1:
        return str(kind)
    return f"{kind}_{kinds[: path[2] + 1].count(kind)}"


def interpolate(
    data: Any,
    source_map: SourceMap,
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> Interpolation:
    """Return ``data`` with every reference replaced by its value."""
    env = os.environ if environ is None else environ
    result = Interpolation(data=None, redactor=Redactor())

    def resolve(match: re.Match[str], path: Path_) -> str:
        provider, body = match["provider"], match["body"]
        if provider == "env":
            name, _, default = body.partition(":-")
            has_default = ":-" in body
            if name in env:
                value = env[name]
            elif has_default:
                return default
            else:
                raise SpecError(
                    f"the environment variable `{name}` is not set",
                    location=source_map.at(path), step=raw_step_name(data, path),
                    hint=f"Export it (`export {name}=…`) or give a default: "
                    f"`${{env:{name}:-value}}`.",
                )
        elif provider == "file":
            target = Path(body).expanduser()
            if not target.is_absolute():
                target = base_dir / target
            try:
                value = target.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise SpecError(
                    f"cannot read `${{file:{body}}}` ({target}): {exc.strerror or exc}",
                    location=source_map.at(path), step=raw_step_name(data, path),
                    hint="Relative paths are taken from the pipeline file's folder.",
                ) from None
        else:
            raise SpecError(
                f"unknown reference provider `{provider}` in `{match.group(0)}`",
                location=source_map.at(path), step=raw_step_name(data, path),
                hint="Use `${env:NAME}` or `${file:path}`.",
            )
        if provider == "file" or looks_secret(body):
            result.redactor.add(value)
        return value

    def walk(node: Any, path: Path_) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        if isinstance(node, str) and "${" in node:
            result.references[path] = node
            whole = _REFERENCE.fullmatch(node)
            if whole:
                return resolve(whole, path)
            return _REFERENCE.sub(lambda m: resolve(m, path), node)
        return node

    result.data = walk(data, ())
    return result
