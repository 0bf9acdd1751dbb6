"""`dteg state …`: incremental cursors and backfill progress of a pipeline."""

from __future__ import annotations

from typing import Annotated

import typer

from dteg.cli.context import DebugOpt, PipelineArg, compile_pipeline
from dteg.cli.context import say as _say
from dteg.errors import ConfigError


def state_show(pipeline: PipelineArg, debug: DebugOpt = False) -> None:
    """Saved cursors and finished backfill partitions."""
    from dteg.run.backfill import describe_entry
    from dteg.run.state import open_store

    spec = compile_pipeline(pipeline)
    store = open_store(spec)
    entries = store.entries(spec.name)
    if not entries:
        _say(f"no state saved for {spec.name} ({store.describe()})")
        return
    _say(f"state of {spec.name} ({store.describe()}):")
    for e in entries:
        _say(f"  {e.key:<34} {describe_entry(e.key, e.value)}  (run {e.run_id}, {e.updated_at})")


def state_reset(
    pipeline: PipelineArg,
    step: Annotated[str | None, typer.Option(help="Only this extract step's cursor")] = None,
    debug: DebugOpt = False,
) -> None:
    """Forget saved cursors (the next run reads everything) and backfill progress."""
    from dteg.run.state import cursor_key, open_store

    spec = compile_pipeline(pipeline)
    if step is not None and step not in {s.name for s in spec.sources()}:
        raise ConfigError(f"`{step}` is not an extract step of {spec.name}",
                          hint=f"Extract steps: {', '.join(s.name for s in spec.sources())}.")
    removed = open_store(spec).delete(spec.name, cursor_key(step) if step else "")
    _say(f"removed {removed} state entr{'y' if removed == 1 else 'ies'} of {spec.name}")


# The pipeline being run, so runtime errors can point at the step's line.


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Incremental cursors and backfill progress of a pipeline.",
                        no_args_is_help=True)
    group.command("show")(state_show)
    group.command("reset")(state_reset)
    app.add_typer(group, name="state")
