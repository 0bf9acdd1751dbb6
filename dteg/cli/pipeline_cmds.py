"""`dteg validate`, `dteg plan`, `dteg schema`: read a pipeline file, never import Beam."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dteg.cli.context import DebugOpt, PipelineArg, compile_pipeline
from dteg.cli.context import say as _say
from dteg.cli.context import warn as _warn
from dteg.errors import ConfigError


def validate(pipeline: PipelineArg, debug: DebugOpt = False) -> None:
    """Check a pipeline file without running it (fast: does not import Beam)."""
    from dteg.spec.phases import run_blockers
    from dteg.spec.preflight import check_preflight

    spec = compile_pipeline(pipeline)
    check_preflight(spec)  # the inputs a run would fail on before reading a row
    for warning in spec.warnings:
        _warn(warning)
    for blocker in run_blockers(spec):
        if blocker not in spec.warnings:
            _warn(blocker)
    steps = [s for s in spec.steps if not s.is_dead_letter_sink]
    count = f"{len(steps)} step{'' if len(steps) == 1 else 's'}"
    _say(f"ok: {pipeline} is valid ({count}: {', '.join(s.name for s in steps)})")


def plan(
    pipeline: PipelineArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, mermaid, dot or json")] = "text",
    debug: DebugOpt = False,
) -> None:
    """Show the steps the pipeline will run, in order, with their config (no secrets)."""
    from dteg.spec.plan import FORMATS, render

    if fmt not in FORMATS:
        raise ConfigError(f"unknown plan format `{fmt}`", hint=f"Use one of: {', '.join(FORMATS)}.")
    spec = compile_pipeline(pipeline)
    for warning in spec.warnings:
        _warn(warning)
    _say(render(spec, fmt))


def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write to this file")] = None,
    component: Annotated[bool, typer.Option(
        "--component", help="The schema of dteg-component.yaml (marketplace manifests)")] = False,
    debug: DebugOpt = False,
) -> None:
    """Print the JSON Schema of pipeline files (for editor autocompletion)."""
    if component:
        from dteg.marketplace.manifest import manifest_json_schema

        text = json.dumps(manifest_json_schema(), indent=2)
    else:
        from dteg.spec.json_schema import pipeline_json_schema

        text = json.dumps(pipeline_json_schema(), indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        _say(f"wrote {output}")
    else:
        _say(text)


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(plan)
    app.command()(schema)
