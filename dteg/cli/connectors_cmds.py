"""`dteg connectors …`: the components dteg knows."""

from __future__ import annotations

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say


def connectors_list(debug: DebugOpt = False) -> None:
    """List every source, sink and transform type, built-in or installed."""
    from dteg.components.registry import default_registry

    registry = default_registry()
    for kind in ("source", "sink", "transform"):
        _say(f"{kind}s:")
        for info in sorted((c for c in registry.components if c.kind == kind),
                           key=lambda c: c.name):
            aliases = f" (also: {', '.join(info.aliases)})" if info.aliases else ""
            _say(f"  {info.name:<12} {info.summary}{aliases}  [{info.origin}]")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Sources, sinks and transforms dteg knows.", no_args_is_help=True)
    group.command("list")(connectors_list)
    app.add_typer(group, name="connectors")
