"""The ``dteg`` typer app: the root callback and the one place every command is registered."""

from __future__ import annotations

import typer

from dteg.cli import (
    connectors_cmds,
    dbt_cmds,
    pipeline_cmds,
    profile_cmd,
    run_cmds,
    runners_cmd,
    runs_cmds,
    state_cmds,
)
from dteg.cli.context import DebugOpt, begin

# Every command module; each one's `register(app)` adds its commands (nothing registers on
# import, so a module can be imported, e.g. by a test, without touching the app).
COMMAND_MODULES = (pipeline_cmds, connectors_cmds, runs_cmds, dbt_cmds, state_cmds,
                   profile_cmd, run_cmds, runners_cmd)


def _root(ctx: typer.Context, debug: DebugOpt = False) -> None:
    """dteg: extract → validate/mask → load → dbt, on Beam's direct runner, Flink or Dataflow."""
    begin(ctx)


def build_app() -> typer.Typer:
    """A new ``dteg`` app with every command registered."""
    app = typer.Typer(
        name="dteg", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
        help="YAML-first ELT and streaming pipelines, compiled to Apache Beam.",
    )
    app.callback()(_root)
    for module in COMMAND_MODULES:
        module.register(app)
    return app


app = build_app()
