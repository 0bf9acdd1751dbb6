"""`dteg catalog …`: the datasets dteg read or wrote in a folder, with their PII classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say
from dteg.errors import ConfigError

WhereArg = Annotated[Path, typer.Argument(
    help="The pipelines' folder (or a pipeline file in it); its .dteg/catalog.sqlite")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="text or json")]


def _store(where: Path) -> Any:
    from dteg.governance.catalog_store import CatalogStore

    folder = where if where.is_dir() else where.resolve().parent
    return CatalogStore.for_folder(folder)


def _format(fmt: str) -> str:
    if fmt not in ("text", "json"):
        raise ConfigError(f"unknown format `{fmt}`", hint="Use --format text or json.")
    return fmt


def _pii_text(classes: dict[str, str], columns: list[dict[str, Any]]) -> str:
    if not classes:
        return "-"
    protection = {c["name"]: c.get("protection") for c in columns}
    return ", ".join(f"{col}:{kind}" + (f" ({protection[col]})" if protection.get(col)
                                         else " (UNPROTECTED)")
                     for col, kind in sorted(classes.items()))


def catalog_list(
    where: WhereArg = Path("."),
    search: Annotated[str | None, typer.Option(
        "--search", "-s", help="Only datasets whose name, owners, tags or columns match")]
    = None,
    pii: Annotated[bool, typer.Option("--pii", help="Only datasets holding personal data")]
    = False,
    fmt: FormatOpt = "text",
    debug: DebugOpt = False,
) -> None:
    """Every dataset the pipelines here read or wrote: freshness, rows, owners and the PII
    class of each column that holds personal data (and how it is protected)."""
    datasets = _store(where).datasets(search, pii_only=pii)
    if _format(fmt) == "json":
        _say(json.dumps([d.to_dict() for d in datasets], indent=2, default=str))
        return
    if not datasets:
        _say(f"no datasets cataloged under {where} yet: they are recorded by every successful "
             "`dteg run`")
        return
    for d in datasets:
        kind = " [dead letters]" if d.dead_letter else ""
        _say(f"{d.key}{kind}")
        _say(f"    rows {d.last_rows if d.last_rows is not None else '-'} · written "
             f"{d.last_written or '-'} · read {d.last_read or '-'} · owners "
             f"{', '.join(d.owners) or '-'} · tags {', '.join(d.tags) or '-'}")
        _say(f"    PII: {_pii_text(d.pii_classes, d.columns)}")


def catalog_show(
    dataset: Annotated[str, typer.Argument(
        help="A dataset key (from `dteg catalog list`) or a unique name such as a table")],
    where: WhereArg = Path("."),
    runs: Annotated[int, typer.Option(help="How many of the latest runs to include")] = 20,
    debug: DebugOpt = False,
) -> None:
    """One dataset as JSON: columns, PII classes, schema history, the pipelines that read
    and write it, the dbt models on it, and its row counts and profiles per run."""
    detail = _store(where).dataset(dataset, runs=runs)
    if detail is None:
        raise ConfigError(f"no dataset `{dataset}` (or more than one matches) in the catalog "
                          f"under {where}", hint="`dteg catalog list` shows the dataset keys; "
                          "give the whole key when a name matches several.")
    _say(json.dumps(detail.to_dict(), indent=2, default=str))


def catalog_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the JSON here")],
    where: WhereArg = Path("."),
    debug: DebugOpt = False,
) -> None:
    """The catalog as Amundsen tables (columns, descriptions, owners, watermarks, lineage)
    in JSON, for `scripts/amundsen/databuilder_job.py` (run in databuilder's own venv)."""
    from dteg.governance.amundsen import export

    payload = export(_store(where))
    output.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    _say(f"wrote {len(payload['tables'])} table(s) to {output}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The datasets the pipelines in a folder read and write.",
                        no_args_is_help=True)
    group.command("list")(catalog_list)
    group.command("show")(catalog_show)
    group.command("export")(catalog_export)
    app.add_typer(group, name="catalog")
