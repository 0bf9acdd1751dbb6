"""The ``dteg`` command. Beam is imported only by commands that run a pipeline."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.errors import ConfigError, DtegError, RunError

app = typer.Typer(
    name="dteg", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="YAML-first ELT and streaming pipelines, compiled to Apache Beam.",
)
connectors_app = typer.Typer(help="Sources, sinks and transforms dteg knows.",
                             no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")

PipelineArg = Annotated[Path, typer.Argument(help="The pipeline file (pipeline.yaml).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show Python tracebacks.")]
RUNNERS = ("direct", "flink", "dataflow", "spark")


def _say(text: str) -> None:
    typer.echo(text)


def _warn(text: str) -> None:
    typer.echo(f"warning: {text}", err=True)


@app.callback()
def _root(debug: DebugOpt = False) -> None:
    """dteg: extract → validate/mask → load → dbt, on Beam's direct runner, Flink or Dataflow."""


@app.command()
def validate(pipeline: PipelineArg, debug: DebugOpt = False) -> None:
    """Check a pipeline file without running it (fast: does not import Beam)."""
    from dteg.engine.phases import compile_spec, run_blockers

    spec = compile_spec(pipeline)
    for warning in spec.warnings:
        _warn(warning)
    for blocker in run_blockers(spec):
        if blocker not in spec.warnings:
            _warn(blocker)
    _say(f"ok: {pipeline} is valid ({len(spec.steps)} steps: "
         f"{', '.join(s.name for s in spec.steps)})")


@app.command()
def plan(
    pipeline: PipelineArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, mermaid, dot or json")] = "text",
    debug: DebugOpt = False,
) -> None:
    """Show the steps the pipeline will run, in order, with their config (no secrets)."""
    from dteg.engine.phases import compile_spec
    from dteg.engine.plan import FORMATS, render

    if fmt not in FORMATS:
        raise ConfigError(f"unknown plan format `{fmt}`", hint=f"Use one of: {', '.join(FORMATS)}.")
    spec = compile_spec(pipeline)
    for warning in spec.warnings:
        _warn(warning)
    _say(render(spec, fmt))


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write to this file")] = None,
) -> None:
    """Print the JSON Schema of pipeline files (for editor autocompletion)."""
    from dteg.engine.json_schema import pipeline_json_schema

    text = json.dumps(pipeline_json_schema(), indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        _say(f"wrote {output}")
    else:
        _say(text)


@connectors_app.command("list")
def connectors_list() -> None:
    """List every source, sink and transform type, built-in or installed."""
    from dteg.engine.registry import default_registry

    registry = default_registry()
    for kind in ("source", "sink", "transform"):
        _say(f"{kind}s:")
        for info in sorted((c for c in registry.components if c.kind == kind),
                           key=lambda c: c.name):
            aliases = f" (also: {', '.join(info.aliases)})" if info.aliases else ""
            _say(f"  {info.name:<12} {info.summary}{aliases}  [{info.origin}]")


class _Progress:
    """A live 'rows read' line on a terminal; silent in pipes."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _Progress:
        if self.enabled:
            from dteg.engine import progress

            progress.rows_read.reset()
            self._started = time.perf_counter()
            self._thread.start()
        return self

    def _loop(self) -> None:
        from dteg.engine import progress

        while not self._stop.wait(0.5):
            rows = progress.rows_read.value
            rate = rows / max(time.perf_counter() - self._started, 1e-9)
            sys.stderr.write(f"\r  {rows:,} rows read · {rate:,.0f} rows/s   ")
            sys.stderr.flush()

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


@app.command()
def run(
    pipeline: PipelineArg,
    runner: Annotated[str, typer.Option(help="direct (embedded, default), flink, dataflow")]
    = "direct",
    run_id: Annotated[str | None, typer.Option(help="Name this run (default: time + random)")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors")] = False,
    report_json: Annotated[Path | None, typer.Option(
        "--report-json", help="Also write the run's counts as JSON to this file")] = None,
    debug: DebugOpt = False,
) -> None:
    """Run a bounded pipeline to completion and print what landed."""
    from dteg.engine.phases import compile_spec, run_blockers

    global _current_spec
    spec = compile_spec(pipeline)
    _current_spec = spec
    blockers = run_blockers(spec)
    if blockers:
        raise ConfigError("this pipeline cannot run yet:\n  - " + "\n  - ".join(blockers))
    for warning in spec.warnings:
        _warn(warning)
    if runner not in RUNNERS:
        raise ConfigError(f"unknown runner `{runner}`", hint=f"Use one of: {', '.join(RUNNERS)}.")
    if runner != "direct":
        raise ConfigError(f"the {runner} runner is not available in this version",
                          hint="Use `--runner direct` (the default).")
    from dteg.engine.compiler import new_run_id
    from dteg.runners import direct

    rid = run_id or new_run_id()
    with _Progress(enabled=sys.stderr.isatty() and not quiet):
        report = direct.run(spec, rid, debug=debug)
    if report_json:
        report_json.write_text(json.dumps({
            "pipeline": report.pipeline, "run_id": report.run_id, "seconds": report.seconds,
            "read": report.read, "loaded": report.loaded, "dead_lettered": report.dead_lettered,
            "filtered": report.filtered, "reconciles": report.reconciles(spec),
            "steps": [vars(s) for s in report.steps], "targets": report.targets,
            "dead_letter_target": report.dead_letter_target,
        }, indent=2), encoding="utf-8")
    if not quiet:
        _say(spec.redactor(report.render(spec)))


# The pipeline being run, so runtime errors can point at the step's line.
_current_spec: Any = None
_BEAM_SUFFIX = re.compile(r"\s*\[while running '[^']*'\]")


def _render(err: DtegError) -> str:
    text = _BEAM_SUFFIX.sub("", err.render())
    # Beam rebuilds errors raised inside a stage from their text, so read the step from it.
    named = re.match(r"step `([^`]+)`:", text)
    step = getattr(err, "step", None) or (named.group(1) if named else None)
    if _current_spec is not None:
        if step and not getattr(err, "location", None):
            try:
                where = _current_spec.step(step).location
                text = text.replace(f"step `{step}`:", f"step `{step}` ({where}):", 1)
            except KeyError:
                pass
        text = _current_spec.redactor(text)
    return text


def find_dteg_error(exc: BaseException) -> DtegError | None:
    """The DtegError behind ``exc`` (Beam wraps errors raised inside a stage)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DtegError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _describe_unexpected(exc: BaseException) -> DtegError:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    for line in text:  # Beam puts the stage's own error on a line of its own
        if "Error:" in line or "Exception:" in line:
            first = line.strip()
    return RunError(f"the run failed: {first}",
                    hint="Run again with --debug for the full traceback.")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # Typer handles usage errors itself (exit 2) and lets every other exception through.
        app(args=args, prog_name="dteg")
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        err = find_dteg_error(exc) or _describe_unexpected(exc)
        if debug:
            traceback.print_exc()
        typer.echo(f"error: {_render(err)}", err=True)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
