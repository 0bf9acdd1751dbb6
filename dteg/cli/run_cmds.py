"""`dteg run`, `dteg stream`, `dteg backfill`: the commands that run a pipeline (and so
import Beam, inside their bodies only)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt, PipelineArg, compile_pipeline
from dteg.cli.context import say as _say
from dteg.cli.context import warn as _warn
from dteg.errors import ConfigError
from dteg.runners.settings import RUNNERS


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


# Shared by `run` and `backfill`.
PrismLocationOpt = Annotated[str | None, typer.Option(
    help="prism: the Prism binary (default: DTEG_PRISM_LOCATION, else the one "
    "scripts/tools/prism built)")]
BackfillRunnerOpt = Annotated[str, typer.Option(
    help="direct (embedded, the default), prism, or portable (with --job-endpoint)")]


def run(
    pipeline: PipelineArg,
    runner: Annotated[str, typer.Option(
        help=f"One of: {', '.join(RUNNERS)} (direct: embedded, the default; `dteg runners` "
        "shows what each needs)")]
    = "direct",
    run_id: Annotated[str | None, typer.Option(help="Name this run (default: time + random)")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors")] = False,
    report_json: Annotated[Path | None, typer.Option(
        "--report-json", help="Also write the run's counts as JSON to this file")] = None,
    prism_location: PrismLocationOpt = None,
    job_endpoint: Annotated[str | None, typer.Option(
        help="portable: HOST:PORT of a Beam job server (Prism standalone, Flink, Spark)")]
    = None,
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
    server: Annotated[str | None, typer.Option(
        "--server", help="Run it on a dteg server that serves this pipeline (after `dteg "
        "login`), and follow its log here")] = None,
    debug: DebugOpt = False,
) -> None:
    """Run a bounded pipeline to completion and print what landed."""
    if server:
        _run_on_server(server, compile_pipeline(pipeline), quiet)
        return
    spec = _runnable(pipeline)
    if runner not in RUNNERS:
        raise ConfigError(f"unknown runner `{runner}`", hint=f"Use one of: {', '.join(RUNNERS)}.")
    from dteg.components.plan import new_run_id
    from dteg.governance.listeners import default_listeners
    from dteg.run.lifecycle import execute
    from dteg.runners.launch import launcher
    from dteg.runners.settings import RunnerSettings

    settings = RunnerSettings(
        name=runner, flink_master=flink_master, flink_job_server_jar=flink_job_server_jar,
        parallelism=parallelism, checkpointing_interval_ms=checkpointing_interval,
        state_backend=state_backend, project=project, region=region,
        temp_location=temp_location, staging_location=staging_location,
        service_account=service_account, sdk_container_image=sdk_container_image,
        requirements_file=requirements_file, dry_run=dry_run,
        output_dir=str(output_dir) if output_dir else None,
        worker_pool=worker_pool, prism_location=prism_location, job_endpoint=job_endpoint,
        extra={"spark_job_server_jar": spark_job_server_jar} if spark_job_server_jar else {})
    rid = run_id or new_run_id()
    if runner == "dataflow":
        _run_on_dataflow(spec, rid, settings)
        return
    from dteg.marketplace.usage_reports import usage_listeners

    listeners = [*default_listeners(spec), *usage_listeners()]  # usage reports: opt-in
    if report_json:
        from dteg.run.records import ReportFile

        listeners.append(ReportFile(report_json))
    with _Progress(enabled=sys.stderr.isatty() and not quiet):
        report = execute(spec, rid, launch=launcher(settings, debug=debug),
                         listeners=listeners, runner=runner)
    if not quiet:
        _say(spec.redactor(report.render(spec)))


def _run_on_server(server: str, spec: Any, quiet: bool) -> None:
    """Queue a run on the server (the revision it serves), follow it, exit by how it ended."""
    from dteg.cli.client import ServerClient
    from dteg.errors import RunError

    client = ServerClient(server)
    run = client.post(f"/api/v1/pipelines/{spec.name}/runs")
    _say(f"queued run {run['id']} of {spec.name} on {client.server}")
    final = run
    for kind, data in client.events(f"/api/v1/runs/{run['id']}/events"):
        if kind == "log" and not quiet:
            _say(f"{data['at'][11:19]} {data['level']:<7} {data['message']}")
        elif kind in ("run", "end"):
            final = data
    if final["status"] != "succeeded":
        raise RunError(f"run {final['id']} {final['status']}: {final.get('error') or ''}"
                       .rstrip(": "), hint=f"`dteg runs show {final['id']} --server "
                       f"{client.server}` has its attempts and log.")
    _say(f"run {final['id']} succeeded: read {final['rows_read'] or 0}, loaded "
         f"{final['rows_loaded'] or 0}, dead-lettered {final['rows_dead_lettered'] or 0}")


def _runnable(pipeline: Path) -> Any:
    """Compile for running: blockers stop here (exit 2), warnings are shown."""
    from dteg.spec.phases import run_blockers, run_notices

    spec = compile_pipeline(pipeline)
    blockers = run_blockers(spec)
    if blockers:
        raise ConfigError("this pipeline cannot run yet:\n  - " + "\n  - ".join(blockers))
    for warning in [*spec.warnings, *run_notices(spec)]:
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
    from dteg.components.plan import new_run_id
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


def backfill(
    pipeline: PipelineArg,
    start: Annotated[str, typer.Option(help="First cursor value (inclusive): 2024-01-01, "
                                       "2024-01-01T06:00:00 or a number")],
    end: Annotated[str, typer.Option(help="Last cursor value (exclusive)")],
    step: Annotated[str, typer.Option(help="Partition width: 1d, 6h, 30m, 1w, or a number")]
    = "1d",
    restart: Annotated[bool, typer.Option(
        "--restart", help="Forget the partitions this range already finished")] = False,
    server: Annotated[bool, typer.Option(
        "--server", help="Queue the partitions as runs of the dteg server that serves this "
        "file (retries, alerts and history as for scheduled runs) instead of running them "
        "here")] = False,
    store: Annotated[str | None, typer.Option(
        "--store", help="--server: the server's database (default: DTEG_STORE_URL, else "
        "<folder>/.dteg/orchestrator.sqlite)")] = None,
    runner: BackfillRunnerOpt = "direct",
    prism_location: PrismLocationOpt = None,
    job_endpoint: Annotated[str | None, typer.Option(
        help="portable: HOST:PORT of a Beam job server")] = None,
    debug: DebugOpt = False,
) -> None:
    """Run the pipeline over [start, end) of its cursor, one partition at a time, in order;
    run it again after a crash to resume at the first unfinished partition."""
    if server:
        _queue_backfill(pipeline, start, end, step, restart, store)
        return
    from dteg.components.plan import new_run_id
    from dteg.governance.listeners import default_listeners
    from dteg.run.backfill import run_backfill
    from dteg.run.lifecycle import execute
    from dteg.runners.launch import launcher
    from dteg.runners.settings import RunnerSettings

    if runner not in ("direct", "prism", "portable"):
        raise ConfigError(f"backfill cannot use the runner `{runner}`",
                          hint="Use --runner direct, prism or portable.")
    spec = _runnable(pipeline)
    launch = launcher(RunnerSettings(name=runner, prism_location=prism_location,
                                     job_endpoint=job_endpoint), debug=debug)
    ran, skipped = run_backfill(
        spec, start, end, step, restart=restart, new_run_id=new_run_id, say=_say,
        execute=lambda plan: execute(spec, plan, launch=launch, runner=runner,
                                     listeners=default_listeners(spec), kind="backfill"))
    _say(f"backfill finished: {ran} partition(s) run, {skipped} done earlier")


def _queue_backfill(pipeline: Path, start: str, end: str, step: str, restart: bool,
                    store: str | None) -> None:
    import os
    from datetime import datetime, timezone

    from dteg.orchestrator.backfill import queue_backfill
    from dteg.orchestrator.store.store import Store, default_store_url
    from dteg.run.backfill import plan_backfill

    spec = _runnable(pipeline)
    plan = plan_backfill(spec, start, end, step, restart)
    url = store or os.environ.get("DTEG_STORE_URL") or default_store_url(
        pipeline.resolve().parent)
    result = queue_backfill(Store.open(url), spec, plan, datetime.now(timezone.utc))
    _say(plan.describe())
    _say(f"queued {len(result.queued)} partition run(s) on the server"
         + (f"; {result.already_queued} were queued before" if result.already_queued else "")
         + (f": {', '.join(r.id for r in result.queued[:3])}"
            + ("…" if len(result.queued) > 3 else "") if result.queued else "")
         + " — `dteg runs list` follows them")


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(stream)
    app.command()(backfill)
