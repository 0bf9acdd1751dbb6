"""The catalog in the shape of Amundsen's databuilder models: one record per table (columns
with types and PII notes as descriptions, owners, tags, the last write as a watermark) and
the lineage between tables (a pipeline's inputs → its outputs).

dteg does not import databuilder (it pins versions dteg cannot share); this module writes
the neutral JSON that ``scripts/amundsen/databuilder_job.py`` turns into databuilder's own
``TableMetadata``, ``TableOwner``, ``Watermark`` and ``TableLineage`` records, run in
databuilder's own virtualenv and pointed at a user's Amundsen loader/publisher."""

from __future__ import annotations

import re
from typing import Any

from dteg.governance.catalog_store import CatalogStore

CLUSTER = "dteg"


def _ident(text: str) -> str:
    """An Amundsen key part: no ``/``, ``.`` or ``:`` (they separate the key's parts)."""
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", text).strip("_") or "default"


def table_ref(namespace: str, name: str, component: str) -> dict[str, str]:
    """database, cluster, schema, table and the Amundsen key of a dataset."""
    schema, _, table = name.replace("\\", "/").rpartition("/") if "/" in name else (
        namespace.split("://")[-1], "", name)
    if "." in table and "/" not in name:
        schema, table = table.rsplit(".", 1)
    database, schema, table = _ident(component), _ident(schema or namespace), _ident(table)
    return {"database": database, "cluster": CLUSTER, "schema": schema, "table": table,
            "key": f"{database}://{CLUSTER}.{schema}/{table}"}


def export(store: CatalogStore) -> dict[str, Any]:
    """Every non-dead-letter dataset as an Amundsen table, with lineage."""
    datasets = [d for d in store.datasets() if not d.dead_letter]
    refs = {d.key: table_ref(d.namespace, d.name, d.component) for d in datasets}
    reads: dict[str, set[str]] = {}
    writes: dict[str, set[str]] = {}
    tables: list[dict[str, Any]] = []
    for d in datasets:
        detail = store.dataset(d.key, runs=0)
        users = detail.users if detail else []
        for u in users:
            (reads if u["role"] == "read" else writes).setdefault(u["pipeline"], set()).add(
                d.key)
        columns = []
        for order, c in enumerate(d.columns):
            note = ""
            if c.get("pii"):
                note = f"personal data: {c['pii']}; " + (
                    f"protected: {c['protection']}" if c.get("protection") else "UNPROTECTED")
            columns.append({"name": c["name"], "type": c["type"], "description": note,
                            "sort_order": order})
        tables.append({**refs[d.key], "dteg_key": d.key,
                       "description": d.description or f"{d.component} dataset {d.name}",
                       "columns": columns, "owners": d.owners, "tags": d.tags,
                       "watermark": d.last_written, "downstream": []})
    downstream: dict[str, set[str]] = {}
    for pipeline, inputs in reads.items():
        for source in inputs:
            downstream.setdefault(source, set()).update(
                refs[k]["key"] for k in writes.get(pipeline, ()) if k in refs)
    for table in tables:
        table["downstream"] = sorted(downstream.get(table["dteg_key"], set()))
    return {"cluster": CLUSTER, "tables": tables}
