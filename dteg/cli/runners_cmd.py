"""`dteg runners`: which runners this machine can use."""

from __future__ import annotations

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say


def runners(debug: DebugOpt = False) -> None:
    """Which runners this machine can use, and what each still needs."""
    from dteg.runners.availability import check_all

    for status in check_all():
        mark = "usable" if status.usable else "not usable"
        _say(f"  {status.name:<9} {mark:<11} {status.detail}")


def register(app: typer.Typer) -> None:
    app.command()(runners)
