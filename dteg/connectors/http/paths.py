"""A small JSONPath-like selector: ``$.data.items``, ``results``, ``meta.next``, ``items[0]``,
``data[*]``. Enough for where APIs put records and cursors; no filters or recursion."""

from __future__ import annotations

import re
from typing import Any

_PART = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")
_MISSING = object()


def parse(path: str) -> list[str | int]:
    """The steps of ``path`` (``$`` alone, or empty: the whole body)."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    steps: list[str | int] = []
    for name, index in _PART.findall(text):
        if name:
            steps.append(name)
        elif index != "*":
            steps.append(int(index))
    return steps


def select(body: Any, steps: list[str | int]) -> Any:
    """The value at ``steps`` in ``body``, or ``None`` when a step is missing."""
    value = body
    for step in steps:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and -len(value) <= step < len(value) \
                else _MISSING
        else:
            value = value.get(step, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            return None
    return value


def get(record: Any, dotted: str) -> Any:
    """A (dotted) field of one record."""
    return select(record, parse(dotted))
