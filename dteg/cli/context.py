"""What every command shares: the options they declare, how they print, and ``Invocation``,
the state of one ``dteg …`` call (is ``--debug`` on, how to redact secrets from errors).

``Invocation`` lives on typer's context (``ctx.obj``): ``main()`` creates one per call and
keeps it to print errors; the root callback makes it the current one for as long as the
command runs (``begin``), so helpers without a ``ctx`` parameter (``compile_pipeline``) reach
it. It is a ``ContextVar`` reset when the command ends, not a module global that outlives the
call (typer vendors click, so click's own ``get_current_context`` does not see typer's).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer


def _debug_from_env() -> bool:
    return os.environ.get("DTEG_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def _no_redaction(text: str) -> str:
    return text


@dataclass
class Invocation:
    """One run of the ``dteg`` command.

    ``debug`` is the one source of truth for ``--debug``: set by the flag in either position
    (``dteg --debug run x.yaml`` or ``dteg run x.yaml --debug``) or by ``DTEG_DEBUG=1``.
    ``redact`` hides the secrets of the pipeline the command compiled (identity until then).
    """

    debug: bool = field(default_factory=_debug_from_env)
    redact: Callable[[str], str] = _no_redaction

    def use_spec(self, spec: Any) -> None:
        """Errors printed from now on are redacted with this spec's secrets."""
        self.redact = spec.redactor


_CURRENT: ContextVar[Invocation | None] = ContextVar("dteg_invocation", default=None)


def begin(ctx: typer.Context) -> Invocation:
    """Make this command's ``Invocation`` (``ctx.obj``) current until its context closes."""
    state = ctx.ensure_object(Invocation)
    token = _CURRENT.set(state)
    ctx.call_on_close(lambda: _CURRENT.reset(token))
    return state


def invocation() -> Invocation:
    """The ``Invocation`` of the running command (a throwaway one outside a command)."""
    return _CURRENT.get() or Invocation()


def _debug_flag(ctx: typer.Context, value: bool) -> bool:
    # Every `--debug` (root or command) lands here, so the parameter a command receives and
    # the error printer agree: the flag given anywhere, or DTEG_DEBUG=1.
    state = ctx.ensure_object(Invocation)
    if value:
        state.debug = True
    return state.debug


PipelineArg = Annotated[Path, typer.Argument(help="The pipeline file (pipeline.yaml).")]
DebugOpt = Annotated[bool, typer.Option(
    "--debug", callback=_debug_flag,
    help="Show Python tracebacks (also: `dteg --debug …` or DTEG_DEBUG=1).")]


def compile_pipeline(pipeline: Path) -> Any:
    """Compile a pipeline file (no Beam) and redact its secrets from any later error."""
    from dteg.spec.phases import compile_spec

    spec = compile_spec(pipeline)
    invocation().use_spec(spec)
    return spec


def say(text: str) -> None:
    typer.echo(text)


def warn(text: str) -> None:
    typer.echo(f"warning: {text}", err=True)
