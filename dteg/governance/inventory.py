"""The PII inventory and the record of processing (GDPR art. 30): which datasets and columns
hold which categories of personal data, protected how, kept how long, by whom, for what
(the writing pipeline's description), and who receives them (the pipelines that read them
and the dbt models built on them). Built from the catalog and the pipeline files."""

from __future__ import annotations

import html
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

from dteg.governance.catalog_store import CatalogStore
from dteg.spec.durations import format_duration
from dteg.spec.models import PipelineSpec


@dataclass
class InventoryEntry:
    dataset: str
    columns: dict[str, str]            # column → PII class
    protection: dict[str, str | None]  # column → strategy (None: stored as is)
    owners: list[str]
    purposes: list[str]
    writers: list[str]
    recipients: list[str]
    models: list[str]
    retention: str
    last_written: str | None

    @property
    def unprotected(self) -> list[str]:
        return sorted(c for c, p in self.protection.items() if not p)


@dataclass
class Inventory:
    entries: list[InventoryEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"datasets": [{**asdict(e), "unprotected": e.unprotected}
                             for e in self.entries]}


def _retention(specs: dict[str, PipelineSpec], pipeline: str, step: str) -> str:
    spec = specs.get(pipeline)
    if spec is None or spec.body.retention is None:
        return "not set"
    rule = spec.body.retention.for_sink(step)
    if rule is None:
        return "kept until erased"
    column, keep = rule
    return f"{format_duration(keep)} by {column}"


def build(store: CatalogStore, specs: list[PipelineSpec],
          pipelines: Collection[str] | None = None) -> Inventory:
    """The inventory of every cataloged dataset that holds personal data. With
    ``pipelines`` (what a caller may see), only those are named as writers and recipients."""
    by_name = {s.name: s for s in specs}
    entries = []
    for summary in store.datasets(pii_only=True):
        detail = store.dataset(summary.key, runs=0)
        if detail is None:
            continue
        users = [u for u in detail.users if pipelines is None or u["pipeline"] in pipelines]
        writes = [u for u in users if u["role"] == "write"]
        reads = sorted({u["pipeline"] for u in users if u["role"] == "read"})
        purposes = sorted({by_name[u["pipeline"]].body.description or u["pipeline"]
                           for u in writes if u["pipeline"] in by_name})
        retention = "; ".join(sorted({_retention(by_name, u["pipeline"], u["step"])
                                      for u in writes})) or "source (read only)"
        classes = summary.pii_classes
        entries.append(InventoryEntry(
            dataset=summary.key, columns=classes,
            protection={c["name"]: c.get("protection") for c in summary.columns
                        if c["name"] in classes},
            owners=summary.owners, purposes=purposes,
            writers=sorted({u["pipeline"] for u in writes}), recipients=reads,
            models=[m["model"] for m in detail.models], retention=retention,
            last_written=summary.last_written))
    return Inventory(entries)


def render_text(inventory: Inventory) -> str:
    if not inventory.entries:
        return "no cataloged dataset holds personal data"
    lines = []
    for e in inventory.entries:
        lines.append(e.dataset)
        for column, kind in sorted(e.columns.items()):
            lines.append(f"    {column}: {kind} · {e.protection.get(column) or 'UNPROTECTED'}")
        lines.append(f"    owners {', '.join(e.owners) or '-'} · retention {e.retention} · "
                     f"recipients {', '.join(e.recipients + e.models) or '-'}")
    return "\n".join(lines)


def render_html(inventory: Inventory, generated_at: str) -> str:
    """The record of processing as one self-contained HTML page (no scripts, no assets)."""
    def esc(value: Any) -> str:
        return html.escape(str(value))

    rows = []
    for e in inventory.entries:
        categories = "<br>".join(
            f"<code>{esc(c)}</code>: {esc(k)} — "
            + (esc(e.protection.get(c)) if e.protection.get(c)
               else '<strong class="bad">unprotected</strong>')
            for c, k in sorted(e.columns.items()))
        rows.append(
            f"<tr><td><code>{esc(e.dataset)}</code></td><td>{esc('; '.join(e.purposes) or '-')}"
            f"</td><td>{categories}</td><td>{esc(', '.join(e.owners) or '-')}</td>"
            f"<td>{esc(', '.join(e.recipients + e.models) or '-')}</td>"
            f"<td>{esc(e.retention)}</td><td>{esc(e.last_written or '-')}</td></tr>")
    body = "\n".join(rows) or '<tr><td colspan="7">No dataset holds personal data.</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Record of processing — dteg</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#111}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.4rem;
vertical-align:top;text-align:left}}th{{background:#f3f4f6}}.bad{{color:#b91c1c}}</style>
</head><body>
<h1>Record of processing activities</h1>
<p>Generated by dteg at {esc(generated_at)} from its catalog: every dataset its pipelines
read or wrote that holds personal data, with categories, protection, retention and
recipients.</p>
<table><thead><tr><th>Dataset</th><th>Purpose</th><th>Categories (column: class —
protection)</th><th>Controller contact (owners)</th><th>Recipients</th><th>Retention</th>
<th>Last written</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""
