"""`dteg privacy …`: GDPR/CCPA jobs over the pipelines of a folder — retention now; the
data-subject requests and reports build on the catalog."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt, compile_pipeline
from dteg.cli.context import say as _say
from dteg.errors import ConfigError


def pipeline_files(where: Path) -> list[Path]:
    """A pipeline file, or every pipeline file of a folder."""
    if where.is_file():
        return [where]
    if not where.is_dir():
        raise ConfigError(f"{where} does not exist",
                          hint="Give a pipeline file or the folder of your pipelines.")
    return sorted([*where.glob("*.yaml"), *where.glob("*.yml")])


def retention(
    where: Annotated[Path, typer.Argument(help="A pipeline file or a folder of them")]
    = Path("."),
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    debug: DebugOpt = False,
) -> None:
    """Delete the rows older than each pipeline's `retention:` allows, in the loads whose
    targets can delete rows (DuckDB, PostgreSQL, MySQL); say which loads it could not clean.
    Exits 1 when a load failed."""
    from dteg.governance.retention import RetentionOutcome, enforce

    if fmt not in ("text", "json"):
        raise ConfigError(f"unknown format `{fmt}`", hint="Use --format text or json.")
    outcomes: list[RetentionOutcome] = []
    for path in pipeline_files(where):
        spec = compile_pipeline(path)
        outcomes += enforce(spec)
    if fmt == "json":
        _say(json.dumps([asdict(o) for o in outcomes], indent=2))
    elif not outcomes:
        _say(f"no pipeline under {where} has a `retention:` limit")
    else:
        _say("retention:")
        for outcome in outcomes:
            _say(outcome.render())
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


SubjectOpt = Annotated[str, typer.Option(
    "--subject", help="column=value, e.g. email=ada@example.com (hashed or tokenized "
    "columns are matched with the pipeline's key)")]
WhereOpt = Annotated[Path, typer.Option(
    "--pipelines", help="A pipeline file or the folder of the pipelines whose loads to search")]
StoreOpt = Annotated[str | None, typer.Option(
    "--store", help="The dteg server database whose audit log gets the receipts (default: "
    "DTEG_STORE_URL or <pipelines>/.dteg/orchestrator.sqlite)")]


def _receipts(result: Any, folder: Path, store: str | None) -> int:
    """One audit entry per dataset: what was done where, never the subject's value."""
    import datetime as dt
    import getpass

    from dteg.auth import migrate
    from dteg.auth.audit import AuditLog
    from dteg.orchestrator.settings import OrchestratorSettings
    from dteg.orchestrator.store.store import Store

    settings = OrchestratorSettings.resolve(pipelines_dir=folder, store_url=store)
    engine = Store.open(settings.store_url).engine
    migrate.upgrade(engine)  # a folder no server has served yet gets the audit table now
    log = AuditLog(engine)
    actor = f"cli:{getpass.getuser()}"
    for outcome in result.outcomes:
        log.append(actor=actor, action=f"privacy.{result.kind}", resource=outcome.dataset,
                   result=outcome.status, at=dt.datetime.now(dt.timezone.utc),
                   detail={"request_id": result.request_id, **outcome.receipt()})
    return len(result.outcomes)


def _request(kind: str, subject: str, where: Path, store: str | None) -> Any:
    from dteg.governance.catalog_store import CatalogStore
    from dteg.governance.erasure import Subject, handle

    parsed = Subject.parse(subject)
    specs = [compile_pipeline(path) for path in pipeline_files(where)]
    folder = where if where.is_dir() else where.resolve().parent
    known = {d.key: {c["name"] for c in d.columns}
             for d in CatalogStore.for_folder(folder).datasets() if d.columns}
    result = handle(specs, parsed, kind, known)
    count = _receipts(result, folder, store)
    for outcome in result.outcomes:
        shown = {"erased": f"erased {outcome.rows:,} row(s)",
                 "exported": f"found {outcome.rows:,} row(s)",
                 "crypto-shredded": f"crypto-shredded ({outcome.message})",
                 "not_found": "no rows of the subject" + (
                     f" ({outcome.message})" if outcome.message else ""),
                 }.get(outcome.status, f"{outcome.status.upper()}: {outcome.message}")
        protection = f" [{outcome.protection}]" if outcome.protection else ""
        _say(f"  {outcome.dataset}{protection}: {shown}")
    _say(f"request {result.request_id}: {len(result.outcomes)} dataset(s) in "
         f"{result.seconds:.2f}s; {count} receipt(s) in the audit log")
    return result


def erase(subject: SubjectOpt, where: WhereOpt = Path("."), store: StoreOpt = None,
          debug: DebugOpt = False) -> None:
    """Delete a data subject's rows from every load of the pipelines (also where the column
    is hashed or tokenized); one receipt per dataset goes to the audit log. Exits 1 when a
    dataset could not be erased (it says why and what to do)."""
    result = _request("erase", subject, where, store)
    if not result.complete:
        raise typer.Exit(1)


def export(subject: SubjectOpt,
           output: Annotated[Path, typer.Option("--output", "-o", help="Write the rows here "
                                                "(JSON)")],
           where: WhereOpt = Path("."), store: StoreOpt = None,
           debug: DebugOpt = False) -> None:
    """Write a data subject's rows from every load of the pipelines to a JSON file (an
    access request); one receipt per dataset goes to the audit log."""
    result = _request("export", subject, where, store)
    payload = {"request_id": result.request_id, "column": result.column, "datasets": [
        {**o.receipt(), "records": o.records} for o in result.outcomes]}
    output.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    _say(f"wrote {sum(o.rows for o in result.outcomes):,} row(s) to {output}")


def report(
    where: Annotated[Path, typer.Argument(help="The pipelines' folder")] = Path("."),
    html_file: Annotated[Path | None, typer.Option(
        "--html", help="Also write the record of processing as an HTML page here")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    debug: DebugOpt = False,
) -> None:
    """The PII inventory: every cataloged dataset holding personal data, its columns'
    categories and protection, owners, retention and recipients."""
    import datetime as dt

    from dteg.governance.catalog_store import CatalogStore
    from dteg.governance.inventory import build, render_html, render_text

    if fmt not in ("text", "json"):
        raise ConfigError(f"unknown format `{fmt}`", hint="Use --format text or json.")
    folder = where if where.is_dir() else where.resolve().parent
    specs = [compile_pipeline(path) for path in pipeline_files(folder)]
    inventory = build(CatalogStore.for_folder(folder), specs)
    _say(json.dumps(inventory.to_dict(), indent=2) if fmt == "json" else
         render_text(inventory))
    if html_file is not None:
        at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        html_file.write_text(render_html(inventory, at), encoding="utf-8")
        _say(f"wrote the record of processing to {html_file}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="GDPR/CCPA: retention, data-subject requests, PII reports.",
                        no_args_is_help=True)
    group.command("retention")(retention)
    group.command("erase")(erase)
    group.command("export")(export)
    group.command("report")(report)
    app.add_typer(group, name="privacy")

