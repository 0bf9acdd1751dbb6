"""The ``dteg`` command. Beam is imported only by commands that run a pipeline.

``root`` builds the typer app from one module per command group (``pipeline_cmds``,
``run_cmds``, ``runs_cmds``, ``state_cmds``, ``dbt_cmds``, ``connectors_cmds``,
``profile_cmd``, ``runners_cmd``); ``errors`` holds ``main()`` and prints failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dteg.cli.errors import main

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main"]


def __getattr__(name: str) -> typer.Typer:
    # `app` (every command registered) is built on first use: `main()` does not need it.
    if name == "app":
        from dteg.cli.root import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
