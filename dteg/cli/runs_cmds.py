"""`dteg runs …`: the recorded runs of the pipelines in a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt, compile_pipeline
from dteg.cli.context import say as _say
from dteg.errors import ConfigError


def _run_store(where: Path) -> Any:
    from dteg.run.records import RunStore

    folder = where if where.is_dir() else where.resolve().parent
    return RunStore.for_folder(folder)


def runs_list(
    where: Annotated[Path, typer.Argument(help="A pipeline file or its folder")] = Path("."),
    limit: Annotated[int, typer.Option(help="How many runs")] = 20,
    debug: DebugOpt = False,
) -> None:
    """The latest runs, newest first (of one pipeline when a file is given)."""
    pipeline = None
    if where.is_file():
        pipeline = compile_pipeline(where).name
    records = _run_store(where).list(pipeline, limit)
    if not records:
        _say(f"no runs recorded under {where}")
        return
    _say(f"{'run':<30}{'pipeline':<20}{'status':<11}{'read':>10}{'loaded':>10}"
         f"{'dead':>8}  started")
    for r in records:
        _say(f"{r.run_id:<30}{r.pipeline:<20}{r.status:<11}{r.rows_read or 0:>10,}"
             f"{r.rows_loaded or 0:>10,}{r.rows_dead_lettered or 0:>8,}  {r.started_at}")


def runs_show(
    run_id: Annotated[str, typer.Argument(help="The run id (from `dteg runs list`)")],
    where: Annotated[Path, typer.Argument(help="A pipeline file or its folder")] = Path("."),
    debug: DebugOpt = False,
) -> None:
    """Everything recorded about one run, as JSON."""
    from dataclasses import asdict

    record = _run_store(where).get(run_id)
    if record is None:
        raise ConfigError(f"no run `{run_id}` is recorded under {where}",
                          hint="`dteg runs list <pipeline folder>` shows the recorded runs.")
    _say(json.dumps(asdict(record), indent=2, default=str))


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Past runs of the pipelines in a folder.", no_args_is_help=True)
    group.command("list")(runs_list)
    group.command("show")(runs_show)
    app.add_typer(group, name="runs")
