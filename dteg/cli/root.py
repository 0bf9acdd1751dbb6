"""The ``dteg`` typer app: the root callback and the one place every command is registered."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from dteg.cli.context import DebugOpt, begin

# Every command module (under dteg.cli) and the commands and groups its `register(app)` adds,
# in the order `dteg --help` lists them. Nothing registers on import, so a module can be
# imported, e.g. by a test, without touching the app. `main()` builds the app with the one
# module its command line names: importing the others and building their click commands would
# be most of what typer costs `dteg validate`. A test checks the names against the modules.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "pipeline_cmds": ("validate", "plan", "schema"),
    "test_cmds": ("test",),
    "connectors_cmds": ("connectors",),
    "runs_cmds": ("runs",),
    "dbt_cmds": ("dbt",),
    "state_cmds": ("state",),
    "profile_cmd": ("profile",),
    "catalog_cmds": ("catalog",),
    "privacy_cmds": ("privacy",),
    "run_cmds": ("run", "stream", "backfill"),
    "runners_cmd": ("runners",),
    "server_cmds": ("server", "scheduler", "worker", "pipelines"),
    "auth_cmds": ("login", "logout", "whoami", "users", "tokens", "audit"),
    "marketplace_cmds": ("search", "install", "update", "uninstall", "components",
                         "marketplace"),
    "marketplace_author_cmds": ("create", "publish", "publisher-key"),
    "marketplace_community_cmds": ("review", "reviews", "support"),
}
# Root options that may stand before the command (`dteg --debug run x.yaml`).
_ROOT_FLAGS = ("--debug",)


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


def build_app(command: str | None = None) -> typer.Typer:
    """A new ``dteg`` app: with every command, or with the commands of the module that
    registers ``command`` when one does (what a command line needs, see ``command_of``)."""
    app = typer.Typer(
        name="dteg", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
        help="YAML-first ELT and streaming pipelines, compiled to Apache Beam.", cls=_Group,
    )
    app.callback()(_root)
    wanted = [m for m, names in COMMAND_MODULES.items() if command in names]
    for module in wanted or COMMAND_MODULES:
        importlib.import_module(f"dteg.cli.{module}").register(app)
    _use_plain_flags(app)
    return app


def command_of(args: Sequence[str]) -> str | None:
    """The command (or group) a ``dteg`` command line names, after the root flags; None for
    ``--help``, ``--version`` or no command at all."""
    for arg in args:
        if arg not in _ROOT_FLAGS:
            return None if arg.startswith("-") else arg
    return None


@lru_cache(maxsize=1)
def _whole_app() -> typer.Typer:
    return build_app()


def __getattr__(name: str) -> typer.Typer:
    # `app`, the app with every command, is built on first use (tests, `from dteg.cli import
    # app`); `main()` builds its own with only the module it needs.
    if name == "app":
        return _whole_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
