"""`dteg dbt …`: helpers for the dbt project a pipeline loads into."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dteg.cli.context import DebugOpt, PipelineArg, compile_pipeline
from dteg.cli.context import say as _say


def dbt_sources(
    pipeline: PipelineArg,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write here (default: print)")] = None,
    debug: DebugOpt = False,
) -> None:
    """A dbt sources.yml for the DuckDB tables this pipeline loads (after a run)."""
    from dteg.governance.dbt_sources import sources_yaml

    text = sources_yaml(compile_pipeline(pipeline))
    if output:
        output.write_text(text, encoding="utf-8")
        _say(f"wrote {output}")
    else:
        _say(text.rstrip())


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="dbt helpers.", no_args_is_help=True)
    group.command("sources")(dbt_sources)
    app.add_typer(group, name="dbt")
