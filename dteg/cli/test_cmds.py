"""`dteg test TARGET`: a pipeline file's own `tests:` block, or a marketplace component's tests.

The argument decides: an existing ``.yaml``/``.yml`` file is a pipeline whose tests run
offline on the embedded runner; anything else names a component (``dteg.cli.
component_test_cmd``, imported only then).
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Annotated

import typer

from dteg.cli.context import DebugOpt, invocation
from dteg.cli.context import say as _say
from dteg.errors import ConfigError, SpecError

_PIPELINE_SUFFIXES = (".yaml", ".yml")


def test(
    target: Annotated[str, typer.Argument(
        help="A pipeline file (runs its `tests:` block) or a component's name or folder.")],
    only: Annotated[list[str] | None, typer.Option(
        "--test", "-t", help="Run only the test of this name (repeatable).")] = None,
    debug: DebugOpt = False,
) -> None:
    """Run a pipeline file's `tests:` offline (given rows in, expected rows out), or test a
    component."""
    path = Path(target)
    if path.suffix.lower() in _PIPELINE_SUFFIXES:
        if not path.is_file():
            raise SpecError(f"no pipeline file at {path}",
                            hint="Check the path; relative paths are taken from the current "
                            "directory.")
        raise typer.Exit(_pipeline_tests(path, only or [], debug=invocation().debug))
    if only:
        raise ConfigError("`--test` selects tests of a pipeline file",
                          hint=f"`{target}` is not a .yaml file; leave `--test` out.")
    raise typer.Exit(_component_tests(target))


def _pipeline_tests(path: Path, names: list[str], *, debug: bool) -> int:
    from dteg.run.pipeline_tests.runner import run_pipeline_tests

    report = run_pipeline_tests(path, names)
    _say(report.render())
    if debug:
        for outcome in report.failed:
            if outcome.exception is not None:
                text = "".join(traceback.format_exception(outcome.exception))
                typer.echo(f"--- traceback of `{outcome.name}`:\n{report.redact(text)}",
                           err=True)
    return 0 if report.passed else 1


def _component_tests(target: str) -> int:
    try:
        from dteg.cli.component_test_cmd import test_component
    except ImportError:
        raise ConfigError(
            f"`{target}` is not a pipeline file, and component tests are not available in "
            "this build of dteg (dteg.cli.component_test_cmd is missing)",
            hint="Give a pipeline file (`dteg test pipeline.yaml`) to run its `tests:` block.",
        ) from None
    return int(test_component(target))


def register(app: typer.Typer) -> None:
    app.command()(test)
