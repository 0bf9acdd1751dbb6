"""Durations written in a pipeline file: ``30s``, ``10m``, ``2h``, ``1d``, ``90d``, ``1h30m``
or a plain number of seconds. Used by retries, SLAs, freshness and retention."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
HELP = "a duration such as 30s, 10m, 2h, 1d, 1h30m or a number of seconds"


def parse_duration(value: Any) -> timedelta:
    """``value`` as a ``timedelta``; raises ``ValueError`` that says how to write one."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"expected {HELP}, not {value!r}")
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        elif text and _PART.sub("", text) == "":
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
        else:
            raise ValueError(f"`{value}` is not {HELP}")
    else:
        raise ValueError(f"expected {HELP}, not {type(value).__name__}")
    if seconds < 0:
        raise ValueError(f"`{value}` is negative; expected {HELP}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """``timedelta(minutes=90)`` → ``1h30m`` (the inverse of ``parse_duration``)."""
    seconds = value.total_seconds()
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": ["string", "number"], "description": HELP[0].upper() + HELP[1:]}),
]
