"""A run's full record: attempts, step counts, quality, drift, dbt results, the datasets it
read and wrote, and a sample of its dead letters."""

from __future__ import annotations

import contextlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.store.records import RunRow
from dteg.orchestrator.store.store import Store
from dteg.server.convert import attempt_model, run_model, summary_part, within
from dteg.server.models import DatasetRef, DeadLetterSample, RunDetail, StepCount
from dteg.spec.models import PipelineSpec


@lru_cache(maxsize=64)
def _compiled(text: str, file: str) -> PipelineSpec | None:
    from dteg.errors import DtegError
    from dteg.spec.phases import compile_spec

    try:
        return compile_spec(file, text=text)
    except DtegError:
        return None


def spec_of_run(run: RunRow, store: Store, catalog: Catalog) -> PipelineSpec | None:
    """The compiled revision the run ran (the current one, or the stored text of an older
    one); None when it no longer compiles here."""
    revision = catalog.get(run.pipeline)
    if revision is not None and revision.sha256 == run.sha256:
        return revision.spec
    text = store.revision_text(run.sha256)
    if text is None:
        return None
    path = str(revision.path) if revision is not None else f"{run.pipeline}.yaml"
    return _compiled(text, path)


def datasets_of(spec: PipelineSpec) -> list[DatasetRef]:
    from dteg.governance.datasets import dataset_of

    found = []
    for step in spec.steps:
        if step.is_dead_letter_sink or not (step.is_source or step.is_sink):
            continue
        namespace, name = dataset_of(spec, step)
        found.append(DatasetRef(id=f"{namespace}/{name}", namespace=namespace, name=name,
                                direction="input" if step.is_source else "output",
                                step=step.name))
    return found


def _steps(run: RunRow, store: Store) -> list[StepCount]:
    counted = summary_part(run.summary, "steps", [])
    if counted:
        return [StepCount(step=s["name"], kind=s["kind"], attempt=run.attempt,
                          rows_in=s.get("rows_in", 0), rows_out=s.get("rows_out", 0),
                          dead_letter=s.get("dead_letter", 0), filtered=s.get("filtered", 0),
                          loaded=s.get("loaded", 0)) for s in counted]
    rows = store.step_counts(run.id)
    newest = max((r["attempt"] for r in rows), default=None)
    return [StepCount(step=r["step"], kind=r["kind"], attempt=r["attempt"],
                      rows_in=r["rows_in"], rows_out=r["rows_out"],
                      dead_letter=r["dead_letter"], loaded=r["loaded"])
            for r in rows if r["attempt"] == newest]


def run_detail(run: RunRow, store: Store, catalog: Catalog) -> RunDetail:
    summary = run.summary
    quality = summary_part(summary, "quality", None)
    if quality is None:
        stored = store.quality(run.id)
        quality = stored[-1]["result"] if stored else None
    spec = spec_of_run(run, store, catalog)
    return RunDetail(
        **run_model(run, catalog.folder).model_dump(),
        attempts=[attempt_model(a, catalog.folder) for a in store.attempts(run.id)],
        steps=_steps(run, store), reconciles=summary_part(summary, "reconciles", None),
        quality=quality, schema_drift=summary_part(summary, "schema_drift", []),
        dbt=summary_part(summary, "dbt", []),
        targets={step: within(target, catalog.folder) or target
                 for step, target in summary_part(summary, "targets", {}).items()},
        dead_letter_target=within(summary_part(summary, "dead_letter_target", None),
                                  catalog.folder),
        datasets=datasets_of(spec) if spec is not None else [])


def _record(line: str) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(line)
    record = entry.get("record")
    if isinstance(record, str) and record.startswith("{"):
        with contextlib.suppress(ValueError):
            entry["record"] = json.loads(record)
    return entry


def dead_letter_sample(run: RunRow, store: Store, catalog: Catalog, limit: int
                       ) -> DeadLetterSample:
    """The first ``limit`` dead letters of a run, as they landed (masked like the loaded
    rows), with the pipeline's secrets redacted."""
    target = summary_part(run.summary, "dead_letter_target", None)
    if not target:
        note = ("the run has not finished" if not run.finished
                else "the run sent no record to the dead-letter output")
        return DeadLetterSample(run_id=run.id, target=None, readable=True, total=0, note=note)
    path = Path(target)
    if "://" in target or path.suffix != ".jsonl":
        return DeadLetterSample(run_id=run.id, target=target, readable=False,
                                note="the dead letters went to a sink this server does not "
                                "read back; query it there")
    if not path.is_file():
        return DeadLetterSample(run_id=run.id, target=target, readable=False,
                                total=run.rows_dead_lettered,
                                note="the file is not on this machine (another worker wrote "
                                "it, or it was removed)")
    spec = spec_of_run(run, store, catalog)
    redact = spec.redactor if spec is not None else (lambda text: text)
    records: list[dict[str, Any]] = []
    total = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            total += 1
            if len(records) < limit:
                records.append(_record(redact(line)))
    return DeadLetterSample(run_id=run.id, target=within(target, catalog.folder),
                            readable=True, total=total, records=records)
