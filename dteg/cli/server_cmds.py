"""`dteg server`, `dteg scheduler`, `dteg worker` and `dteg pipelines …`: the orchestrator."""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say
from dteg.errors import ConfigError

PipelinesOpt = Annotated[Path | None, typer.Option(
    "--pipelines", help="The folder of pipeline files (default: ./pipelines or "
    "DTEG_PIPELINES_DIR)")]
StoreOpt = Annotated[str | None, typer.Option(
    "--store", help="The orchestrator's database: sqlite:///path or postgresql://… (default: "
    "<pipelines>/.dteg/orchestrator.sqlite, or DTEG_STORE_URL)")]
BrokerOpt = Annotated[str | None, typer.Option(
    "--broker", help="celery: the Redis broker, redis://host:port/db (or DTEG_BROKER_URL)")]


def _log(text: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
    sys.stderr.write(f"{stamp} {text}\n")
    sys.stderr.flush()


def _settings(*, need_folder: bool = True, **options: Any) -> Any:
    from dteg.orchestrator.settings import OrchestratorSettings

    settings = OrchestratorSettings.resolve(**options)
    if need_folder and not settings.pipelines_dir.is_dir():
        raise ConfigError(f"{settings.pipelines_dir} is not a folder",
                          hint="Pass --pipelines DIR, the folder that holds your pipeline "
                          "files.")
    return settings


def _stop_on_signals(orchestrator: Any) -> None:
    def stop(signum: int, _frame: Any) -> None:
        _log(f"stopping ({signal.Signals(signum).name}): runs in progress finish first")
        orchestrator.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _serve(settings: Any, executor_for: Any, role: str) -> None:
    from dteg.orchestrator.runtime import build

    orchestrator, endpoint = build(settings, executor_for, log=_log)
    _stop_on_signals(orchestrator)
    orchestrator.reload(orchestrator.clock())
    count = len(orchestrator.catalog.revisions)
    _log(f"dteg {role}: {count} pipeline(s) from {settings.pipelines_dir}; store "
         f"{orchestrator.store.url}; executor {settings.executor}"
         + (f" ({settings.workers} workers)" if settings.executor == "embedded" else "")
         + (f"; metrics on {endpoint.url}/metrics" if endpoint else ""))
    try:
        orchestrator.serve()
    finally:
        if endpoint is not None:
            endpoint.stop()


def server(
    pipelines: PipelinesOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port of the web UI, the API (/api/v1), "
                                             "/metrics and /healthz; default 8265")] = None,
    store: StoreOpt = None,
    executor: Annotated[str | None, typer.Option(
        help="embedded (worker processes of this server, the default) or celery")] = None,
    workers: Annotated[int | None, typer.Option(
        help="embedded: how many worker processes (default 2)")] = None,
    broker: BrokerOpt = None,
    keep_runs: Annotated[str | None, typer.Option(
        help="Purge finished runs older than this: 90d (the default), 12w, never "
        "(or DTEG_KEEP_RUNS)")] = None,
    auth: Annotated[bool | None, typer.Option(
        "--auth/--no-auth", help="Sign-in and roles for the API and the UI (default on, or "
        "DTEG_AUTH); --no-auth only on a loopback address")] = None,
    debug: DebugOpt = False,
) -> None:
    """Serve every pipeline under a folder: schedules, retries, runs, alerts, metrics, the
    REST API and the web UI."""
    settings = _settings(pipelines_dir=pipelines, host=host, port=port, store_url=store,
                         executor=executor, workers=workers, broker_url=broker,
                         keep_runs=keep_runs)
    from dteg.server.serve import serve

    serve(settings, _log, auth_enabled=auth)


def scheduler(
    pipelines: PipelinesOpt = None,
    store: StoreOpt = None,
    broker: BrokerOpt = None,
    host: Annotated[str | None, typer.Option(help="Address of /metrics")] = None,
    port: Annotated[int | None, typer.Option(help="Port of /metrics and /healthz")] = None,
    debug: DebugOpt = False,
) -> None:
    """Only the scheduler: queue due runs and dispatch them to `dteg worker` processes on
    Celery + Redis (run two for high availability: they never double a run)."""
    settings = _settings(pipelines_dir=pipelines, store_url=store, executor="celery",
                         broker_url=broker, host=host, port=port)
    _serve(settings, None, "scheduler")


def worker(
    store: StoreOpt = None,
    broker: BrokerOpt = None,
    pipelines: PipelinesOpt = None,
    name: Annotated[str | None, typer.Option(help="Worker name (default: host and pid)")]
    = None,
    debug: DebugOpt = False,
) -> None:
    """A Celery worker that runs dispatched runs, one at a time (start several for more)."""
    from dteg.orchestrator.executors.celery import run_worker

    settings = _settings(pipelines_dir=pipelines, store_url=store, executor="celery",
                         broker_url=broker, need_folder=_needs_folder(pipelines, store))
    _log(f"dteg worker: broker {_redact(settings.broker_url)}; store {_redact(settings.store_url)}")
    run_worker(settings.broker_url, settings.store_url, name)


def _needs_folder(pipelines: Path | None, store: str | None) -> bool:
    """A worker or a `pipelines` command reads the folder only for the default store in it."""
    return pipelines is not None or not (store or os.environ.get("DTEG_STORE_URL"))


def _redact(url: str) -> str:
    from dteg.orchestrator.store.store import redacted_url

    return redacted_url(url)


def _store(store: str | None, pipelines: Path | None) -> Any:
    from dteg.orchestrator.store.store import Store

    settings = _settings(pipelines_dir=pipelines, store_url=store,
                         need_folder=_needs_folder(pipelines, store))
    return Store.open(settings.store_url)


def pipelines_list(pipelines: PipelinesOpt = None, store: StoreOpt = None,
                   debug: DebugOpt = False) -> None:
    """The pipelines the server knows: schedule, paused, last success, current error."""
    rows = _store(store, pipelines).pipelines()
    if not rows:
        _say("no pipelines recorded yet (start `dteg server --pipelines DIR`)")
        return
    _say(f"{'pipeline':<24}{'schedule':<22}{'paused':<8}{'last success':<22}revision")
    for row in rows:
        success = f"{row.last_success:%Y-%m-%d %H:%M:%S}" if row.last_success else "never"
        _say(f"{row.name:<24}{row.schedule or '-':<22}{'yes' if row.paused else 'no':<8}"
             f"{success:<22}{row.sha256[:12]}")
        if row.error:
            _say(f"  error (newest revision, not running): {row.error.splitlines()[0]}")


def _pause(name: str, paused: bool, store: str | None, pipelines: Path | None) -> None:
    if not _store(store, pipelines).set_paused(name, paused, datetime.now(timezone.utc)):
        raise ConfigError(f"no pipeline `{name}` is recorded in the store",
                          hint="`dteg pipelines list` shows the pipelines the server serves.")
    _say(f"{name}: {'paused' if paused else 'resumed'}")


def pipelines_pause(name: Annotated[str, typer.Argument(help="pipeline.name")],
                    pipelines: PipelinesOpt = None, store: StoreOpt = None,
                    debug: DebugOpt = False) -> None:
    """Stop scheduling a pipeline (its ticks are skipped until resumed)."""
    _pause(name, True, store, pipelines)


def pipelines_resume(name: Annotated[str, typer.Argument(help="pipeline.name")],
                     pipelines: PipelinesOpt = None, store: StoreOpt = None,
                     debug: DebugOpt = False) -> None:
    """Schedule a paused pipeline again (from its next tick; catchup applies)."""
    _pause(name, False, store, pipelines)


def pipelines_run(name: Annotated[str, typer.Argument(help="pipeline.name")],
                  pipelines: PipelinesOpt = None, store: StoreOpt = None,
                  debug: DebugOpt = False) -> None:
    """Queue a manual run; the server runs it like a scheduled one (retries, alerts)."""
    from dteg.orchestrator.store.store import new_run_id

    handle = _store(store, pipelines)
    row = handle.pipeline(name)
    if row is None:
        raise ConfigError(f"no pipeline `{name}` is recorded in the store",
                          hint="`dteg pipelines list` shows the pipelines the server serves.")
    now = datetime.now(timezone.utc)
    text = handle.revision_text(row.sha256) or ""
    from dteg.orchestrator.catalog import sha256_text

    if sha256_text(text) != row.sha256:
        raise ConfigError(f"the store lacks the text of {name}'s revision {row.sha256[:12]}",
                          hint="Let `dteg server` re-read the pipeline folder, then try "
                          "again.")
    rid = new_run_id(now)
    from dteg.spec.phases import compile_spec

    spec = compile_spec(row.path, text=text)
    run = handle.create_run(pipeline=name, dedupe_key=rid, sha256=row.sha256, kind="manual",
                            now=now, run_id=rid, max_attempts=spec.body.retries.max_attempts)
    assert run is not None
    _say(f"queued run {run.id} of {name}; `dteg runs show {run.id} --store …` follows it")


def register(app: typer.Typer) -> None:
    app.command("server")(server)
    app.command("scheduler")(scheduler)
    app.command("worker")(worker)
    group = typer.Typer(help="The pipelines a dteg server serves.", no_args_is_help=True)
    group.command("list")(pipelines_list)
    group.command("pause")(pipelines_pause)
    group.command("resume")(pipelines_resume)
    group.command("run")(pipelines_run)
    app.add_typer(group, name="pipelines")
