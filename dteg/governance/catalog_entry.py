"""What one successful run tells the catalog: per dataset it read or wrote, its columns with
their PII classes and protection, the row count, the pipeline's owners and tags, the dbt
models built on it, and a profile (for the sources a sample was read from). Pure: built from
the compiled spec, the run's report and the profiles, so it is tested without a database."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from dteg.governance.datasets import dataset_of
from dteg.governance.protection import protections, sources_of
from dteg.run.report import RunReport
from dteg.spec.models import PipelineSpec, StepSpec


def dataset_key(namespace: str, name: str) -> str:
    """The catalog's id of a dataset: its OpenLineage namespace and name."""
    return f"{namespace}::{name}"


@dataclass
class ColumnEntry:
    name: str
    type: str
    pii: str | None = None          # email, phone, card_number, … or "declared" (masked)
    protection: str | None = None   # hash, tokenize, partial, encrypted, … None: stored as is
    protected_by: str | None = None  # the step that protects it


@dataclass
class DatasetEntry:
    key: str
    namespace: str
    name: str
    role: str                 # read | write
    pipeline: str
    step: str
    component: str
    rows: int | None
    columns: list[ColumnEntry]
    owners: list[str]
    tags: list[str]
    description: str | None
    models: list[str] = field(default_factory=list)
    profile: dict[str, Any] | None = None
    dead_letter: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunEntry:
    """Everything one run adds to the catalog."""

    pipeline: str
    run_id: str
    at: str
    datasets: list[DatasetEntry]
    yaml_file: str = ""


def _pii_by_column(profiles: dict[str, dict[str, Any]], sources: list[StepSpec]
                   ) -> dict[str, str]:
    found: dict[str, str] = {}
    for source in sources:
        for column in (profiles.get(source.name) or {}).get("columns", []):
            if column.get("pii"):
                found.setdefault(column["name"], column["pii"])
    return found


def dead_letter_columns(spec: PipelineSpec, profiles: dict[str, dict[str, Any]]
                        ) -> list[ColumnEntry]:
    """The columns of a pipeline's dead-letter dataset: dteg's dead-letter record (fixed),
    with ``record`` — the rejected row as JSON, masked as the loads mask it — carrying the
    PII classes of the sources' columns, so the inventory and erasure see it."""
    from dteg.components.records import DEAD_LETTER_SCHEMA

    classes = sorted(set(_pii_by_column(profiles, spec.sources()).values()))
    masked = any(protections(spec, s.name) for s in spec.sinks())
    return [ColumnEntry(
        name=f.name, type=str(f.type),
        pii=(", ".join(classes) or None) if f.name == "record" else None,
        protection="masked like the loads" if f.name == "record" and classes and masked
        else None) for f in DEAD_LETTER_SCHEMA]


def _rows(report: RunReport, step: StepSpec) -> int | None:
    if step.is_dead_letter_sink:
        return report.dead_lettered_stored
    for counts in report.steps:
        if counts.name == step.name:
            return counts.loaded if step.is_sink else counts.rows_out + counts.dead_letter
    return None


def collect(spec: PipelineSpec, report: RunReport, profiles: dict[str, dict[str, Any]],
            at: dt.datetime | None = None) -> RunEntry:
    """The catalog entry of a succeeded run. ``profiles``: source step → its profile
    (``dteg.quality.profile`` JSON form, already without raw values of PII columns)."""
    when = (at or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    body = spec.body
    models: dict[str, list[str]] = {}
    for outcome in report.post_load:
        for load in spec.step(outcome.step).inputs:
            models.setdefault(load, []).extend(outcome.outputs())
    datasets = []
    for step in spec.steps:
        if not (step.is_source or step.is_sink):
            continue
        namespace, name = dataset_of(spec, step)
        schema = report.schemas.get(step.name) or []
        if step.is_source:
            pii = _pii_by_column(profiles, [step])
            guarded: dict[str, Any] = {}
        else:
            pii = _pii_by_column(profiles, sources_of(spec, step.name))
            guarded = protections(spec, step.name)
        columns = []
        for f in schema:
            guard = guarded.get(f["name"])
            kind = pii.get(f["name"]) or ("declared" if guard is not None else None)
            columns.append(ColumnEntry(
                name=f["name"], type=f["type"], pii=kind,
                protection=guard.strategy if guard else None,
                protected_by=guard.step if guard else None))
        if step.is_dead_letter_sink:  # also when the run wrote none: the shape is fixed
            columns = dead_letter_columns(spec, profiles)
        datasets.append(DatasetEntry(
            key=dataset_key(namespace, name), namespace=namespace, name=name,
            role="read" if step.is_source else "write", pipeline=spec.name, step=step.name,
            component=step.component or step.type, rows=_rows(report, step), columns=columns,
            owners=list(body.owners), tags=list(body.tags), description=body.description,
            models=sorted(set(models.get(step.name, []))),
            profile=profiles.get(step.name) if step.is_source else None,
            dead_letter=step.is_dead_letter_sink))
    return RunEntry(pipeline=spec.name, run_id=report.run_id, at=when, datasets=datasets,
                    yaml_file=spec.file)
