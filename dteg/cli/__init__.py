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

from dteg.errors import ConfigError, DtegError, RunError, find_error

app = typer.Typer(
    name="dteg", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="YAML-first ELT and streaming pipelines, compiled to Apache Beam.",
)
connectors_app = typer.Typer(help="Sources, sinks and transforms dteg knows.",
                             no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")
runs_app = typer.Typer(help="Past runs of the pipelines in a folder.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
dbt_app = typer.Typer(help="dbt helpers.", no_args_is_help=True)
app.add_typer(dbt_app, name="dbt")
state_app = typer.Typer(help="Incremental cursors and backfill progress of a pipeline.",
                        no_args_is_help=True)
app.add_typer(state_app, name="state")

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
    from dteg.spec.phases import compile_spec, run_blockers

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
    from dteg.spec.phases import compile_spec
    from dteg.spec.plan import FORMATS, render

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
    from dteg.spec.json_schema import pipeline_json_schema

    text = json.dumps(pipeline_json_schema(), indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        _say(f"wrote {output}")
    else:
        _say(text)


@connectors_app.command("list")
def connectors_list() -> None:
    """List every source, sink and transform type, built-in or installed."""
    from dteg.components.registry import default_registry

    registry = default_registry()
    for kind in ("source", "sink", "transform"):
        _say(f"{kind}s:")
        for info in sorted((c for c in registry.components if c.kind == kind),
                           key=lambda c: c.name):
            aliases = f" (also: {', '.join(info.aliases)})" if info.aliases else ""
            _say(f"  {info.name:<12} {info.summary}{aliases}  [{info.origin}]")


def _run_store(where: Path) -> Any:
    from dteg.run.records import RunStore

    folder = where if where.is_dir() else where.resolve().parent
    return RunStore.for_folder(folder)


@runs_app.command("list")
def runs_list(
    where: Annotated[Path, typer.Argument(help="A pipeline file or its folder")] = Path("."),
    limit: Annotated[int, typer.Option(help="How many runs")] = 20,
) -> None:
    """The latest runs, newest first (of one pipeline when a file is given)."""
    pipeline = None
    if where.is_file():
        from dteg.spec.phases import compile_spec

        pipeline = compile_spec(where).name
    records = _run_store(where).list(pipeline, limit)
    if not records:
        _say(f"no runs recorded under {where}")
        return
    _say(f"{'run':<30}{'pipeline':<20}{'status':<11}{'read':>10}{'loaded':>10}"
         f"{'dead':>8}  started")
    for r in records:
        _say(f"{r.run_id:<30}{r.pipeline:<20}{r.status:<11}{r.rows_read or 0:>10,}"
             f"{r.rows_loaded or 0:>10,}{r.rows_dead_lettered or 0:>8,}  {r.started_at}")


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="The run id (from `dteg runs list`)")],
    where: Annotated[Path, typer.Argument(help="A pipeline file or its folder")] = Path("."),
) -> None:
    """Everything recorded about one run, as JSON."""
    from dataclasses import asdict

    record = _run_store(where).get(run_id)
    if record is None:
        raise ConfigError(f"no run `{run_id}` is recorded under {where}",
                          hint="`dteg runs list <pipeline folder>` shows the recorded runs.")
    _say(json.dumps(asdict(record), indent=2, default=str))


@dbt_app.command("sources")
def dbt_sources(
    pipeline: PipelineArg,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write here (default: print)")] = None,
) -> None:
    """A dbt sources.yml for the DuckDB tables this pipeline loads (after a run)."""
    from dteg.governance.dbt_sources import sources_yaml
    from dteg.spec.phases import compile_spec

    text = sources_yaml(compile_spec(pipeline))
    if output:
        output.write_text(text, encoding="utf-8")
        _say(f"wrote {output}")
    else:
        _say(text.rstrip())


@app.command()
def profile(
    target: Annotated[Path, typer.Argument(
        help="A pipeline file (profiles what its extract steps read) or a data file "
        "(csv, tsv, jsonl, parquet, avro; .gz/.zst/.bz2)")],
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows to sample per source")]
    = 10_000,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    debug: DebugOpt = False,
) -> None:
    """Per-column nulls, distinct values, min/max, and columns that look like personal data
    (emails, phones, card numbers, national ids), with a data_masking block to mask them."""
    from dteg.quality.profile import profile as run_profile
    from dteg.quality.profile import render_json, render_text

    if fmt not in ("text", "json"):
        raise ConfigError(f"unknown profile format `{fmt}`", hint="Use text or json.")
    profiles = run_profile(target, rows)
    _say(render_json(profiles) if fmt == "json" else render_text(profiles))


class _Progress:
    """A live 'rows read' line on a terminal; silent in pipes."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _Progress:
        if self.enabled:
            from dteg.beam import progress

            progress.rows_read.reset()
            self._started = time.perf_counter()
            self._thread.start()
        return self

    def _loop(self) -> None:
        from dteg.beam import progress

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
    flink_master: Annotated[str, typer.Option(
        help="flink: [local] (embedded) or host:port of a cluster")] = "[local]",
    flink_job_server_jar: Annotated[str | None, typer.Option(
        help="flink: the Beam Flink job-server jar (default: fetched with Maven)")] = None,
    spark_job_server_jar: Annotated[str | None, typer.Option(
        help="spark: the Beam Spark job-server jar (default: fetched with Maven)")] = None,
    worker_pool: Annotated[str | None, typer.Option(
        help="flink/spark: host:port of a Beam SDK worker pool (else workers run in this "
        "process)")] = None,
    parallelism: Annotated[int | None, typer.Option(help="flink: parallelism")] = None,
    checkpointing_interval: Annotated[int | None, typer.Option(
        help="flink (streaming): checkpoint interval in ms")] = None,
    state_backend: Annotated[str | None, typer.Option(
        help="flink: state backend (hashmap, rocksdb)")] = None,
    project: Annotated[str | None, typer.Option(help="dataflow: GCP project")] = None,
    region: Annotated[str | None, typer.Option(help="dataflow: region")] = None,
    temp_location: Annotated[str | None, typer.Option(
        help="dataflow: gs:// folder for temporary files")] = None,
    staging_location: Annotated[str | None, typer.Option(help="dataflow: gs:// staging")]
    = None,
    service_account: Annotated[str | None, typer.Option(help="dataflow: worker account")]
    = None,
    sdk_container_image: Annotated[str | None, typer.Option(
        help="dataflow: worker image with dteg installed (see deploy/Dockerfile)")] = None,
    requirements_file: Annotated[str | None, typer.Option(
        help="dataflow: requirements.txt staged for workers")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="dataflow: write the job, graph and Flex Template spec; submit "
        "nothing")] = False,
    output_dir: Annotated[Path | None, typer.Option(
        help="dataflow --dry-run: where to write (default .dteg/dataflow/<run>)")] = None,
    debug: DebugOpt = False,
) -> None:
    """Run a bounded pipeline to completion and print what landed."""
    spec = _runnable(pipeline)
    if runner not in RUNNERS:
        raise ConfigError(f"unknown runner `{runner}`", hint=f"Use one of: {', '.join(RUNNERS)}.")
    from dteg.beam.compiler import new_run_id
    from dteg.run.lifecycle import execute
    from dteg.runners.settings import RunnerSettings

    settings = RunnerSettings(
        name=runner, flink_master=flink_master, flink_job_server_jar=flink_job_server_jar,
        parallelism=parallelism, checkpointing_interval_ms=checkpointing_interval,
        state_backend=state_backend, project=project, region=region,
        temp_location=temp_location, staging_location=staging_location,
        service_account=service_account, sdk_container_image=sdk_container_image,
        requirements_file=requirements_file, dry_run=dry_run,
        output_dir=str(output_dir) if output_dir else None,
        worker_pool=worker_pool,
        extra={"spark_job_server_jar": spark_job_server_jar} if spark_job_server_jar else {})
    rid = run_id or new_run_id()
    if runner == "dataflow":
        _run_on_dataflow(spec, rid, settings)
        return
    with _Progress(enabled=sys.stderr.isatty() and not quiet):
        report = execute(spec, rid, runner=runner, debug=debug, settings=settings)
    if report_json:
        from dteg.run.lifecycle import report_dict

        report_json.write_text(json.dumps(report_dict(report, spec), indent=2, default=str),
                               encoding="utf-8")
    if not quiet:
        _say(spec.redactor(report.render(spec)))


def _runnable(pipeline: Path) -> Any:
    """Compile for running: blockers stop here (exit 2), warnings are shown."""
    from dteg.spec.phases import compile_spec, run_blockers

    global _current_spec
    spec = compile_spec(pipeline)
    _current_spec = spec
    blockers = run_blockers(spec)
    if blockers:
        raise ConfigError("this pipeline cannot run yet:\n  - " + "\n  - ".join(blockers))
    for warning in spec.warnings:
        _warn(warning)
    return spec


def _run_on_dataflow(spec: Any, run_id: str, settings: Any) -> None:
    from dteg.runners import dataflow

    if settings.dry_run:
        out = Path(settings.output_dir) if settings.output_dir else \
            spec.state_dir / "dataflow" / run_id
        written = dataflow.dry_run(spec, run_id, settings, out)
        _say(f"dry run: nothing was submitted; job {dataflow.job_name(spec, run_id)} written "
             f"to {written.folder}:")
        for path in written.files:
            _say(f"  {path.name}")
        return
    job_id = dataflow.submit(spec, run_id, settings)
    _say(f"submitted Dataflow job {job_id} ({dataflow.job_name(spec, run_id)})")


@app.command()
def runners() -> None:
    """Which runners this machine can use, and what each still needs."""
    from dteg.runners.availability import check_all

    for status in check_all():
        mark = "usable" if status.usable else "not usable"
        _say(f"  {status.name:<9} {mark:<11} {status.detail}")


@app.command()
def stream(
    pipeline: PipelineArg,
    max_records: Annotated[int | None, typer.Option(
        "--max-records", min=1, help="Stop after this many records (bounded test runs)")]
    = None,
    max_seconds: Annotated[float | None, typer.Option(
        "--max-seconds", min=0, help="Stop after this many seconds")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", help="Serve Prometheus metrics on this port (default: "
        "monitoring.metrics_port)")] = None,
    run_id: Annotated[str | None, typer.Option(help="Name this run (default: time + random)")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors")] = False,
    report_json: Annotated[Path | None, typer.Option(
        "--report-json", help="Also write the stream's counts as JSON to this file")] = None,
    debug: DebugOpt = False,
) -> None:
    """Run a pipeline with unbounded sources (Kafka) until SIGINT/SIGTERM, in micro-batches;
    each one's offsets are committed once every sink has committed its rows."""
    spec = _runnable(pipeline)
    from dteg.beam.compiler import new_run_id
    from dteg.streaming.launcher import StreamOptions
    from dteg.streaming.summary import execute_stream, render, stream_report

    options = StreamOptions(
        max_records=max_records, max_seconds=max_seconds,
        metrics_port=metrics_port if metrics_port is not None
        else spec.body.monitoring.metrics_port,
        live=sys.stderr.isatty() and not quiet, debug=debug)
    # Stream run ids start with `stream-` (a restart cleans up dead streams' folders by it).
    rid = run_id if run_id and run_id.startswith("stream-") else \
        f"stream-{run_id or new_run_id()}"
    result = execute_stream(spec, rid, options, say=_say, warn=_warn)
    if report_json:
        from dteg.run.lifecycle import report_dict

        data = {**report_dict(result.report, spec), **stream_report(result)}
        report_json.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    if not quiet:
        _say(spec.redactor(render(result, spec)))


@app.command()
def backfill(
    pipeline: PipelineArg,
    start: Annotated[str, typer.Option(help="First cursor value (inclusive): 2024-01-01, "
                                       "2024-01-01T06:00:00 or a number")],
    end: Annotated[str, typer.Option(help="Last cursor value (exclusive)")],
    step: Annotated[str, typer.Option(help="Partition width: 1d, 6h, 30m, 1w, or a number")]
    = "1d",
    restart: Annotated[bool, typer.Option(
        "--restart", help="Forget the partitions this range already finished")] = False,
    debug: DebugOpt = False,
) -> None:
    """Run the pipeline over [start, end) of its cursor, one partition at a time, in order;
    run it again after a crash to resume at the first unfinished partition."""
    from dteg.beam.compiler import new_run_id
    from dteg.run.backfill import run_backfill
    from dteg.run.lifecycle import execute
    spec = _runnable(pipeline)
    ran, skipped = run_backfill(
        spec, start, end, step, restart=restart, new_run_id=new_run_id, say=_say,
        execute=lambda s, rid: execute(s, rid, debug=debug))
    _say(f"backfill finished: {ran} partition(s) run, {skipped} done earlier")


@state_app.command("show")
def state_show(pipeline: PipelineArg) -> None:
    """Saved cursors and finished backfill partitions."""
    from dteg.run.backfill import describe_entry
    from dteg.run.state import open_store
    from dteg.spec.phases import compile_spec

    spec = compile_spec(pipeline)
    store = open_store(spec)
    entries = store.entries(spec.name)
    if not entries:
        _say(f"no state saved for {spec.name} ({store.describe()})")
        return
    _say(f"state of {spec.name} ({store.describe()}):")
    for e in entries:
        _say(f"  {e.key:<34} {describe_entry(e.key, e.value)}  (run {e.run_id}, {e.updated_at})")


@state_app.command("reset")
def state_reset(
    pipeline: PipelineArg,
    step: Annotated[str | None, typer.Option(help="Only this extract step's cursor")] = None,
) -> None:
    """Forget saved cursors (the next run reads everything) and backfill progress."""
    from dteg.run.state import cursor_key, open_store
    from dteg.spec.phases import compile_spec

    spec = compile_spec(pipeline)
    if step is not None and step not in {s.name for s in spec.sources()}:
        raise ConfigError(f"`{step}` is not an extract step of {spec.name}",
                          hint=f"Extract steps: {', '.join(s.name for s in spec.sources())}.")
    removed = open_store(spec).delete(spec.name, cursor_key(step) if step else "")
    _say(f"removed {removed} state entr{'y' if removed == 1 else 'ies'} of {spec.name}")


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
        # Not standalone: click would turn an EOFError raised inside a run into "Aborted.".
        code = app(args=args, prog_name="dteg", standalone_mode=False)
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
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # usage errors
            exc.show()
            sys.exit(exc.exit_code)
        cause: BaseException = exc
        if kind == "Abort" and exc.__cause__ is not None:
            cause = exc.__cause__
        err = find_error(cause) or _describe_unexpected(cause)
        if debug:
            traceback.print_exc()
        typer.echo(f"error: {_render(err)}", err=True)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
