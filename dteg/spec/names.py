"""The hint for a name that is not known: the closest known one, then all of them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def known_names_hint(what: str, value: object, known: Iterable[str]) -> str:
    """``Did you mean `slack`? Known alert types: slack, email, webhook.``"""
    names = list(known)
    close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.5) if value else []
    also = f"Did you mean `{close[0]}`? " if close else ""
    return f"{also}Known {what}: {', '.join(names)}."


def yaml_on_key(data: Any) -> Any:
    """A mapping with the key ``on`` restored: YAML 1.1 (PyYAML) reads an unquoted ``on``
    as the boolean true (``on: [failure]`` arrives as ``{True: [...]}``)."""
    if isinstance(data, dict) and True in data:
        return {("on" if k is True else k): v for k, v in data.items()}
    return data
