"""The ``dteg`` command. Beam is imported only by commands that run a pipeline.

``root`` builds the typer app from one module per command group (``pipeline_cmds``,
``run_cmds``, ``runs_cmds``, ``state_cmds``, ``dbt_cmds``, ``connectors_cmds``,
``profile_cmd``, ``runners_cmd``); ``errors`` holds ``main()`` and prints failures.
"""

from __future__ import annotations

from dteg.cli.errors import main
from dteg.cli.root import app

__all__ = ["app", "main"]
