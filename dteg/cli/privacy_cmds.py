"""`dteg privacy …`: GDPR/CCPA jobs over the pipelines of a folder — retention now; the
data-subject requests and reports build on the catalog."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from dteg.cli.context import DebugOpt, compile_pipeline
from dteg.cli.context import say as _say
from dteg.errors import ConfigError


def pipeline_files(where: Path) -> list[Path]:
    """A pipeline file, or every pipeline file of a folder."""
    if where.is_file():
        return [where]
    if not where.is_dir():
        raise ConfigError(f"{where} does not exist",
                          hint="Give a pipeline file or the folder of your pipelines.")
    return sorted([*where.glob("*.yaml"), *where.glob("*.yml")])


def retention(
    where: Annotated[Path, typer.Argument(help="A pipeline file or a folder of them")]
    = Path("."),
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    debug: DebugOpt = False,
) -> None:
    """Delete the rows older than each pipeline's `retention:` allows, in the loads whose
    targets can delete rows (DuckDB, PostgreSQL, MySQL); say which loads it could not clean.
    Exits 1 when a load failed."""
    from dteg.governance.retention import RetentionOutcome, enforce

    if fmt not in ("text", "json"):
        raise ConfigError(f"unknown format `{fmt}`", hint="Use --format text or json.")
    outcomes: list[RetentionOutcome] = []
    for path in pipeline_files(where):
        spec = compile_pipeline(path)
        outcomes += enforce(spec)
    if fmt == "json":
        _say(json.dumps([asdict(o) for o in outcomes], indent=2))
    elif not outcomes:
        _say(f"no pipeline under {where} has a `retention:` limit")
    else:
        _say("retention:")
        for outcome in outcomes:
            _say(outcome.render())
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="GDPR/CCPA: retention, data-subject requests, PII reports.",
                        no_args_is_help=True)
    group.command("retention")(retention)
    app.add_typer(group, name="privacy")

