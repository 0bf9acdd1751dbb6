"""Governance as run listeners: schema drift against the last successful run, OpenLineage
events, and the standard set of listeners every recorded run gets."""

from __future__ import annotations

from dteg.components.registry import Kind, default_registry, import_ref
from dteg.governance.catalog_listener import Catalog
from dteg.governance.catalog_store import CatalogStore
from dteg.governance.drift import compare, write_alert
from dteg.governance.lineage import LineageEmitter
from dteg.governance.quality_listener import QualityHistory
from dteg.governance.quality_store import QualityStore
from dteg.run.events import Committed, RunEvent, RunFailed, RunFinished, RunListener, RunStarted
from dteg.run.records import RunRecords, RunStore
from dteg.spec.models import PipelineSpec


class DriftDetector(RunListener):
    """Compares each source's schema with the last successful run of the pipeline; a change
    is added to the report (and so to the run record and lineage) and appended to
    ``.dteg/alerts.jsonl``."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def on_event(self, event: RunEvent) -> None:
        if not isinstance(event, Committed):
            return
        spec, run_id, report = event.run.spec, event.run.run_id, event.report
        previous = self.store.last_succeeded(spec.name, before=run_id)
        if previous is None or not previous.report:
            return
        before = previous.report.get("schemas", {})
        for step in spec.sources():
            if step.name in report.schemas and step.name in before:
                drift = compare(step.name, before[step.name], report.schemas[step.name])
                if drift:
                    report.drift.append(drift)
                    write_alert(spec.state_dir / "alerts.jsonl", pipeline=spec.name,
                                run_id=run_id, drift=drift)


class Lineage(RunListener):
    """OpenLineage START, then COMPLETE (datasets, schemas, quality, drift, dbt) or FAIL."""

    def __init__(self) -> None:
        self.emitters: dict[str, LineageEmitter] = {}

    def on_event(self, event: RunEvent) -> None:
        run = event.run
        if isinstance(event, RunStarted):
            started = self.emitters[run.run_id] = LineageEmitter(run.spec, run.run_id)
            started.start()
            return
        emitter = self.emitters.get(run.run_id)
        if emitter is None:
            return
        if isinstance(event, RunFailed):
            emitter.fail(event.message)
        elif isinstance(event, RunFinished):
            self.emitters.pop(run.run_id, None)
            report = event.report
            if event.status == "succeeded" and report is not None:
                drift = {"changes": [vars(d) for d in report.drift]} if report.drift else None
                emitter.complete(report, report.schemas, report.quality or {}, drift)


def default_listeners(spec: PipelineSpec) -> list[RunListener]:
    """What every recorded run reports to: drift first (it adds to the report), then the run
    records, then lineage, then the catalog and the quality history."""
    store = RunStore.for_folder(spec.base_dir)
    return [*component_listeners(spec), DriftDetector(store), RunRecords(store), Lineage(),
            Catalog(CatalogStore.for_folder(spec.base_dir)),
            QualityHistory(QualityStore.for_folder(spec.base_dir))]


def component_listeners(spec: PipelineSpec) -> list[RunListener]:
    """The listeners the pipeline's components ask for (``Capabilities.run_listener``), one
    per step, first: a component that refuses the run (no licence) does so before a record
    says it started."""
    registry = default_registry()
    found: list[RunListener] = []
    for step in spec.steps:
        if not step.capabilities.run_listener:
            continue
        kind: Kind = "source" if step.is_source else "sink" if step.is_sink else "transform"
        info = registry.find(kind, step.component or step.type)
        if info is None:
            continue
        factory = import_ref(step.capabilities.run_listener, extra=step.capabilities.extra)
        found.append(factory(spec, step, info))
    return found
