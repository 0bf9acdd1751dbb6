"""Turn pydantic validation errors into located, actionable ``SpecError`` messages."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from dteg.errors import SpecError
from dteg.spec.loader import Path_, SourceMap

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list (`[a, b]` or `- a` lines)",
    "dict_type": "a mapping (`key: value` lines)",
    "model_type": "a mapping (`key: value` lines)",
    "model_attributes_type": "a mapping (`key: value` lines)",
}


def _allowed_fields(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Field names of the (nested) model that ``loc``'s parent points into."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            # A key of a `dict[str, Model]` value: the model stays the one that applies.
            continue
        ann = field.annotation
        nested = _first_model(ann)
        current = nested
    if current is None:
        return []
    # A field with an alias is written by its alias (`schema:` for `schema_`): the field name
    # is Python's, even where the model accepts it too.
    return [f.alias or n for n, f in current.model_fields.items()]


def _first_model(ann: object) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _label(path: Path_) -> str:
    """How the user wrote the key at ``path``: `batch_rows`, or `validation_rules` item 2."""
    trailing: list[int] = []
    rest = list(path)
    while rest and isinstance(rest[-1], int):
        trailing.insert(0, int(rest.pop()))
    name = f"`{rest[-1]}`" if rest else "the value"
    for index in trailing:
        name += f" item {index + 1}"
    return name


def _describe(
    err: dict[str, Any], model: type[BaseModel], redact: Callable[[str], str], label: str
) -> tuple[str, str | None]:
    kind = err["type"]
    loc = tuple(err["loc"])
    key = str(loc[-1]) if loc else ""
    if kind == "missing":
        return f"{label} is required but missing", f"Add `{key}: …` here."
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc)
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            return f"unknown key `{key}`", f"Did you mean `{close[0]}`?"
        listing = ", ".join(f"`{a}`" for a in sorted(allowed)) or "none"
        return f"unknown key `{key}`", f"Allowed keys here: {listing}."
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        got = redact(repr(err.get("input")))
        return f"{label} is {got}, which is not allowed", f"Use one of: {expected}."
    if kind in _TYPE_WORDS:
        got = redact(repr(err.get("input")))
        return (
            f"{label} must be {_TYPE_WORDS[kind]}, not {got}",
            "Fix the value; quote it if YAML read it as another type.",
        )
    if kind == "string_pattern_mismatch":
        got = redact(repr(err.get("input")))
        pattern = err.get("ctx", {}).get("pattern", "")
        return (f"{label} is {got}, which does not have the required form",
                f"It must match the regular expression `{pattern}`.")
    if kind == "too_short" and err.get("ctx", {}).get("actual_length") == 0:
        least = err["ctx"].get("min_length", 1)
        return f"{label} is empty", "Add at least one." if least == 1 else f"Add at least {least}."
    msg = redact(str(err.get("msg", "invalid value"))).removeprefix("Value error, ")
    if kind == "value_error":
        # A validator's own message already says what is wrong and what is needed.
        return (f"{label}: {msg}" if loc else msg), None
    return f"{label}: {msg}", "Fix the value."


# A validator message that starts by naming a key (`pattern` is not …, `mode: merge` needs …)
# is about that key: point at its line rather than at the enclosing mapping.
_LEADING_KEY = re.compile(r"^`(?P<key>[A-Za-z_][\w\-]*)(?::[^`]*)?`")


def _named_key(err: dict[str, Any]) -> str | None:
    if err["type"] != "value_error" or not isinstance(err.get("input"), dict):
        return None
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    m = _LEADING_KEY.match(msg)
    return m["key"] if m and m["key"] in err["input"] else None


_ABSENT = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _strip_union_tags(loc: Path_, data: Any, *, keep_last: bool) -> dict[str, Any]:
    """Drop the parts of ``loc`` that are not keys of ``data`` (pydantic's union tags)."""
    kept: list[str | int] = []
    union_at: Path_ | None = None
    current = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        child = _child(current, part)
        if child is not _ABSENT:
            current = child
        elif isinstance(part, str) and not (last and keep_last):
            if union_at is None:
                union_at = tuple(kept)
            continue
        kept.append(part)
    return {"loc": tuple(kept), "union_at": union_at}


def _closest_union_branch(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of the errors each branch of one union produced, keep the deepest (the branch the
    value was closest to) — `path: [a.csv, 3]` is about item 2, not "must be text"."""
    deepest: dict[Path_, int] = {}
    for err in errors:
        if err["union_at"] is not None:
            key = err["union_at"]
            deepest[key] = max(deepest.get(key, 0), len(err["loc"]))
    kept: list[dict[str, Any]] = []
    reported: set[Path_] = set()
    for err in errors:
        key = err["union_at"]
        if key is None:
            kept.append(err)
        elif len(err["loc"]) == deepest[key] and key not in reported:
            reported.add(key)
            kept.append(err)
    return kept


def located_errors(
    exc: ValidationError,
    *,
    model: type[BaseModel],
    source_map: SourceMap,
    base: Path_ = (),
    step: str | None = None,
    key_paths: dict[str, Path_] | None = None,
    redact: Callable[[str], str] = lambda s: s,
    data: Any = None,
) -> list[SpecError]:
    """One SpecError per pydantic error, each pointing at the key's line.

    ``data`` is the input that was validated; with it, the union branch names pydantic puts
    in error locations (``list[str]``, ``ColumnMask``) are dropped and only the branch that
    came closest is reported.
    """
    errors: list[dict[str, Any]] = []
    for raw in exc.errors():
        loc = tuple(p for p in raw["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        errors.append({**raw, "loc": loc, "union_at": None})
        if data is not None:
            errors[-1].update(_strip_union_tags(loc, data, keep_last=raw["type"] == "missing"))
    errors = _closest_union_branch(errors)
    # `pth:` for `path:` is one mistake, not two: drop "`path` is required" when an unknown key
    # beside it is a close match for `path`.
    suggested: set[Path_] = set()
    for detail in errors:
        if detail["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, detail["loc"])
            close = difflib.get_close_matches(str(detail["loc"][-1]), allowed, n=1, cutoff=0.6)
            if close:
                suggested.add((*detail["loc"][:-1], close[0]))
    found: list[SpecError] = []
    for detail in errors:
        loc = detail["loc"]
        if detail["type"] == "missing" and loc in suggested:
            continue
        if key_paths and loc and str(loc[0]) in key_paths:
            path = (*key_paths[str(loc[0])], *loc[1:])
        else:
            path = (*base, *loc)
        message, hint = _describe(detail, model, redact, _label(path))
        named = _named_key(detail)
        if named is not None:
            path = (*path, named)
        found.append(SpecError(message, location=source_map.at(path), step=step, hint=hint))
    return found
