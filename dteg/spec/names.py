"""The hint for a name that is not known: the closest known one, then all of them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def known_names_hint(what: str, value: object, known: Iterable[str]) -> str:
    """``Did you mean `slack`? Known alert types: slack, email, webhook.``"""
    names = list(known)
    close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.5) if value else []
    also = f"Did you mean `{close[0]}`? " if close else ""
    return f"{also}Known {what}: {', '.join(names)}."
