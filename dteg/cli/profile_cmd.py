"""`dteg profile`: what the data a pipeline reads looks like, and where personal data hides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say
from dteg.errors import ConfigError


def profile(
    target: Annotated[Path, typer.Argument(
        help="A pipeline file (profiles what its extract steps read) or a data file "
        "(csv, tsv, jsonl, parquet, avro; .gz/.zst/.bz2)")],
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows to sample per source")]
    = 10_000,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    debug: DebugOpt = False,
) -> None:
    """Per-column nulls, distinct values, min/max, and columns that look like personal data
    (emails, phones, card numbers, national ids, person names), with a data_masking block
    (and the masking key) to mask them."""
    from dteg.quality.profile import profile as run_profile
    from dteg.quality.profile import render_json, render_text

    if fmt not in ("text", "json"):
        raise ConfigError(f"unknown profile format `{fmt}`", hint="Use text or json.")
    profiles = run_profile(target, rows)
    _say(render_json(profiles) if fmt == "json" else render_text(profiles))


def register(app: typer.Typer) -> None:
    app.command()(profile)
