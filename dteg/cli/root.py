"""The ``dteg`` typer app: the root callback and the one place every command is registered."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from dteg.cli import (
    connectors_cmds,
    dbt_cmds,
    pipeline_cmds,
    profile_cmd,
    run_cmds,
    runners_cmd,
    runs_cmds,
    server_cmds,
    state_cmds,
)
from dteg.cli.context import DebugOpt, begin

# Every command module; each one's `register(app)` adds its commands (nothing registers on
# import, so a module can be imported, e.g. by a test, without touching the app).
COMMAND_MODULES = (pipeline_cmds, connectors_cmds, runs_cmds, dbt_cmds, state_cmds,
                   profile_cmd, run_cmds, runners_cmd, server_cmds)


def _show_version(value: bool) -> None:
    if value:
        from dteg.version import __version__

        typer.echo(f"dteg {__version__}")
        raise typer.Exit(0)


def _root(ctx: typer.Context, debug: DebugOpt = False,
          version: Annotated[bool, typer.Option(
              "--version", callback=_show_version, is_eager=True,
              help="Print dteg's version and exit.")] = False) -> None:
    """dteg: extract → validate/mask → load → dbt, on Beam's direct runner, Flink or Dataflow."""
    begin(ctx)


def _without_flag_types(command: Any) -> None:
    # typer's rich help shows `<bool>` beside an on/off flag, which takes no value.
    for param in [*command.params, command.get_help_option(_HelpNames())]:
        if param is not None and getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


class _HelpNames:
    help_option_names = ("--help",)


class _Command(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _without_flag_types(self)


class _Group(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _without_flag_types(self)


def _use_plain_flags(app: typer.Typer) -> None:
    """Every command and group of ``app`` shows flags without a value type."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = _Command
    for group in app.registered_groups:
        if group.typer_instance is not None:
            if group.typer_instance.info.cls in (None, TyperGroup):
                group.typer_instance.info.cls = _Group
            _use_plain_flags(group.typer_instance)


def build_app() -> typer.Typer:
    """A new ``dteg`` app with every command registered."""
    app = typer.Typer(
        name="dteg", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
        help="YAML-first ELT and streaming pipelines, compiled to Apache Beam.", cls=_Group,
    )
    app.callback()(_root)
    for module in COMMAND_MODULES:
        module.register(app)
    _use_plain_flags(app)
    return app


app = build_app()
