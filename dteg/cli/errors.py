"""``main()``: run the ``dteg`` app and turn a failure into one paragraph on stderr.

A ``DtegError`` prints as ``err.render()`` (it carries its own step and file:line), with the
secrets of the command's pipeline redacted. Anything else is unexpected: it is summed up in
one line by ``_describe_unexpected``. Tracebacks only with ``--debug`` (or DTEG_DEBUG=1).
"""

from __future__ import annotations

import re
import sys
import traceback

import typer

from dteg.cli.context import Invocation
from dteg.cli.root import build_app, command_of
from dteg.errors import DtegError, RunError, find_error

# Runners append the Beam stage's label to an error's text; users know steps, not labels.
_BEAM_SUFFIX = re.compile(r"\s*\[while running '[^']*'\]")


def render_error(err: DtegError, state: Invocation) -> str:
    """What the user reads for ``err``: its own rendering (step and file:line come from its
    typed fields, attached by the stage and the launcher), secrets hidden."""
    return state.redact(err.render())


def _describe_unexpected(exc: BaseException) -> DtegError:
    text = _BEAM_SUFFIX.sub("", str(exc)).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    for line in text:  # Beam puts the stage's own error on a line of its own
        if "Error:" in line or "Exception:" in line:
            first = line.strip()
    return RunError(f"the run failed: {first}",
                    hint="Run again with --debug for the full traceback.")


def main(argv: list[str] | None = None) -> None:
    """The ``dteg`` console script (and ``python -m dteg.cli``)."""
    args = sys.argv[1:] if argv is None else argv
    state = Invocation()
    try:
        # Not standalone: click would turn an EOFError raised inside a run into "Aborted.".
        app = build_app(command_of(args))  # only the commands this command line can run
        code = app(args=args, prog_name="dteg", standalone_mode=False, obj=state)
        sys.exit(code if isinstance(code, int) else 0)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        kind = type(exc).__name__
        if kind == "Exit":  # typer/click: a command asked to exit with a code
            sys.exit(getattr(exc, "exit_code", 0))
        if kind == "Abort" and not isinstance(exc.__cause__, EOFError):
            typer.echo("interrupted", err=True)
            sys.exit(130)
        if kind == "NoArgsIsHelpError":
            # `dteg` (or a group) alone asks for help: typer printed it (rich help goes
            # straight to stdout), which is a success, not a usage error.
            sys.exit(0)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # usage errors
            exc.show()
            sys.exit(exc.exit_code)
        cause: BaseException = exc
        if kind == "Abort" and exc.__cause__ is not None:
            cause = exc.__cause__
        err = find_error(cause) or _describe_unexpected(cause)
        if state.debug:  # redacted too: debug output ends up in CI logs
            sys.stderr.write(state.redact(traceback.format_exc()))
        typer.echo(f"error: {render_error(err, state)}", err=True)
        sys.exit(err.exit_code)
