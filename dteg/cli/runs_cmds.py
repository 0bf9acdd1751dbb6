"""`dteg runs …`: the recorded runs of the pipelines in a folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt, compile_pipeline
from dteg.cli.context import say as _say
from dteg.errors import ConfigError


def _run_store(where: Path) -> Any:
    from dteg.run.records import RunStore

    folder = where if where.is_dir() else where.resolve().parent
    return RunStore.for_folder(folder)


StoreOpt = Annotated[str | None, typer.Option(
    "--store", help="Read a dteg server's runs from its database (sqlite:///… or "
    "postgresql://…; or DTEG_STORE_URL). Default: the server's store in the folder's .dteg/ "
    "when there is one, else the runs `dteg run` recorded")]


LocalOpt = Annotated[bool, typer.Option(
    "--local", help="The runs `dteg run` recorded in the folder, even when a dteg server's "
    "store is there")]


def _orchestrator_store(where: Path, store: str | None, local: bool = False) -> Any:
    """The dteg server store to read, or None (then the folder's own run records)."""
    if local:
        return None
    url = store or os.environ.get("DTEG_STORE_URL")
    if url is None:
        folder = where if where.is_dir() else where.resolve().parent
        candidate = folder / ".dteg" / "orchestrator.sqlite"
        if not candidate.exists():
            return None
        url = f"sqlite:///{candidate.resolve()}"
    from dteg.orchestrator.store.store import Store

    return Store.open(url)


def _when(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else "-"


def _server_runs_list(handle: Any, pipeline: str | None, limit: int) -> None:
    rows = handle.runs(pipeline, limit=limit)
    if not rows:
        _say("no runs in the server's store yet")
        return
    _say(f"{'run':<27}{'pipeline':<20}{'kind':<9}{'status':<11}{'try':>4}{'read':>9}"
         f"{'loaded':>9}{'dead':>6}  {'scheduled':<20}started")
    for r in rows:
        _say(f"{r.id:<27}{r.pipeline:<20}{r.kind:<9}{r.status:<11}{r.attempt:>4}"
             f"{r.rows_read or 0:>9,}{r.rows_loaded or 0:>9,}{r.rows_dead_lettered or 0:>6,}"
             f"  {_when(r.scheduled_at):<20}{_when(r.started_at)}")


def _server_run_show(handle: Any, run_id: str, logs: int) -> bool:
    from dataclasses import asdict

    run = handle.run(run_id)
    if run is None:
        return False
    lines = handle.logs(run_id, limit=100_000)[-logs:] if logs else []
    data = {
        "run": asdict(run),
        "attempts": [asdict(a) for a in handle.attempts(run_id)],
        "steps": handle.step_counts(run_id),
        "quality": handle.quality(run_id),
        "alerts": [d for d in handle.deliveries(run.pipeline, 500) if d["run_id"] == run_id],
        "log": [f"{line.at:%H:%M:%S} {line.level:<7} {line.message}" for line in lines],
    }
    _say(json.dumps(data, indent=2, default=str))
    return True


ServerOpt = Annotated[str | None, typer.Option(
    "--server", help="Ask a running dteg server's API (after `dteg login`), e.g. "
    "http://127.0.0.1:8265")]


def _api_runs_list(server: str, pipeline: str | None, limit: int) -> None:
    from urllib.parse import urlencode

    from dteg.cli.client import ServerClient

    query = {"limit": str(limit), **({"pipeline": pipeline} if pipeline else {})}
    items = ServerClient(server).get(f"/api/v1/runs?{urlencode(query)}")["items"]
    if not items:
        _say("no runs on the server yet (or none you may see)")
        return
    _say(f"{'run':<27}{'pipeline':<20}{'kind':<9}{'status':<11}{'try':>4}{'read':>9}"
         f"{'loaded':>9}{'dead':>6}  created")
    for r in items:
        _say(f"{r['id']:<27}{r['pipeline']:<20}{r['kind']:<9}{r['status']:<11}"
             f"{r['attempt']:>4}{r['rows_read'] or 0:>9,}{r['rows_loaded'] or 0:>9,}"
             f"{r['rows_dead_lettered'] or 0:>6,}  {r['created_at']}")


def runs_list(
    where: Annotated[Path, typer.Argument(help="A pipeline file or its folder")] = Path("."),
    limit: Annotated[int, typer.Option(help="How many runs")] = 20,
    store: StoreOpt = None,
    local: LocalOpt = False,
    server: ServerOpt = None,
    pipeline_name: Annotated[str | None, typer.Option(
        "--pipeline", help="--server: only this pipeline's runs")] = None,
    debug: DebugOpt = False,
) -> None:
    """The latest runs, newest first (of one pipeline when a file is given)."""
    pipeline = pipeline_name
    if where.is_file():
        pipeline = compile_pipeline(where).name
    if server:
        _api_runs_list(server, pipeline, limit)
        return
    handle = _orchestrator_store(where, store, local)
    if handle is not None:
        _server_runs_list(handle, pipeline, limit)
        _say(f"(runs of the dteg server in {handle.url}; `--local` lists the runs `dteg run` "
             "recorded here)")
        return
    records = _run_store(where).list(pipeline, limit)
    if not records:
        _say(f"no runs recorded under {where}")
        return
    _say(f"{'run':<30}{'pipeline':<20}{'status':<11}{'read':>10}{'loaded':>10}"
         f"{'dead':>8}  started")
    for r in records:
        _say(f"{r.run_id:<30}{r.pipeline:<20}{r.status:<11}{r.rows_read or 0:>10,}"
             f"{r.rows_loaded or 0:>10,}{r.rows_dead_lettered or 0:>8,}  {r.started_at}")


def runs_show(
    run_id: Annotated[str, typer.Argument(help="The run id (from `dteg runs list`)")],
    where: Annotated[Path, typer.Argument(help="A pipeline file or its folder")] = Path("."),
    store: StoreOpt = None,
    logs: Annotated[int, typer.Option(help="dteg server runs: how many of the last log "
                                      "lines to include")] = 200,
    local: LocalOpt = False,
    server: ServerOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Everything recorded about one run, as JSON (a server run: its attempts, step counts,
    quality, alerts and log)."""
    from dataclasses import asdict

    if server:
        from dteg.cli.client import ServerClient

        client = ServerClient(server)
        detail = client.get(f"/api/v1/runs/{run_id}")
        lines = client.get(f"/api/v1/runs/{run_id}/logs?limit=5000")["items"][-logs:] \
            if logs else []
        detail["log"] = [f"{line['at'][11:19]} {line['level']:<7} {line['message']}"
                         for line in lines]
        _say(json.dumps(detail, indent=2, default=str))
        return

    handle = _orchestrator_store(where, store, local)
    if handle is not None and _server_run_show(handle, run_id, logs):
        return

    record = _run_store(where).get(run_id)
    if record is None:
        raise ConfigError(f"no run `{run_id}` is recorded under {where}",
                          hint="`dteg runs list <pipeline folder>` shows the recorded runs.")
    _say(json.dumps(asdict(record), indent=2, default=str))


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Past runs of the pipelines in a folder.", no_args_is_help=True)
    group.command("list")(runs_list)
    group.command("show")(runs_show)
    app.add_typer(group, name="runs")
