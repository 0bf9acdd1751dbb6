"""One run from start to finish: record it, announce it (OpenLineage START), run the Beam
part, run the post-load steps (dbt), compare schemas with the last run, then record and
announce how it ended, whatever happened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from dteg.components.contracts import RunContext
from dteg.errors import ConfigError, DtegError
from dteg.governance.drift import SchemaDrift, compare, write_alert
from dteg.run.records import RunStore
from dteg.run.report import RunReport
from dteg.run.state import commit_pending_state, prepare_run, warn_partial_commits
from dteg.spec.models import PipelineSpec, StepSpec
from dteg.streaming.bounded import prepare_offsets


def duckdb_databases(spec: PipelineSpec, step: StepSpec) -> list[Path]:
    databases = []
    for name in step.inputs:
        load = spec.step(name)
        if load.component == "duckdb":
            database = str(load.config.get("database", "warehouse.duckdb"))
            path = Path(database)
            databases.append(path if path.is_absolute() else (spec.base_dir / path).resolve())
    return databases


def run_post_load_steps(spec: PipelineSpec, run_id: str, report: RunReport) -> None:
    """dbt steps, in file order, after every load has committed."""
    from dteg.transforms.dbt import DbtConfig, run_dbt

    for step in spec.steps:
        if not step.runs_after_load:
            continue
        ctx = RunContext(pipeline=spec.name, step=step.name, base_dir=spec.base_dir,
                         run_id=run_id)
        outcome = run_dbt(DbtConfig.model_validate(step.config), ctx,
                          duckdb_databases=duckdb_databases(spec, step))
        report.post_load.append(outcome)


def read_schemas(run_dir: Path) -> dict[str, list[dict[str, str]]]:
    folder = run_dir / "schemas"
    if not folder.is_dir():
        return {}
    return {f.stem: json.loads(f.read_text(encoding="utf-8")) for f in folder.glob("*.json")}


def detect_drift(spec: PipelineSpec, store: RunStore, run_id: str,
                 schemas: dict[str, Any]) -> list[SchemaDrift]:
    previous = store.last_succeeded(spec.name, before=run_id)
    if previous is None or not previous.report:
        return []
    before = previous.report.get("schemas", {})
    drifts = []
    for step in spec.sources():
        if step.name in schemas and step.name in before:
            drift = compare(step.name, before[step.name], schemas[step.name])
            if drift:
                drifts.append(drift)
                write_alert(spec.state_dir / "alerts.jsonl", pipeline=spec.name,
                            run_id=run_id, drift=drift)
    return drifts


def report_dict(report: RunReport, spec: PipelineSpec) -> dict[str, Any]:
    return {
        "pipeline": report.pipeline, "run_id": report.run_id, "runner": report.runner,
        "seconds": report.seconds, "read": report.read, "loaded": report.loaded,
        "dead_lettered": report.dead_lettered, "filtered": report.filtered,
        "reconciles": report.reconciles(spec), "steps": [vars(s) for s in report.steps],
        "targets": report.targets, "dead_letter_target": report.dead_letter_target,
        "schemas": report.schemas,
        "schema_drift": [vars(d) for d in report.drift],
        "dbt": [{"step": o.step, "command": o.command, "seconds": o.seconds,
                 "passed": o.passed, "failed": o.failed} for o in report.post_load],
        **({"quality": quality} if (quality := getattr(report, "quality", None)) else {}),
    }


def _launch(spec: PipelineSpec, run_id: str, settings: Any, debug: bool) -> RunReport:
    from dteg.runners import direct

    if settings is None or settings.name == "direct":
        return direct.run(spec, run_id, debug=debug)
    if settings.name == "flink":
        from dteg.runners import flink

        return flink.run(spec, run_id, settings, debug=debug)
    if settings.name == "spark":
        from dteg.runners import spark

        return spark.run(spec, run_id, settings, debug=debug)
    raise ConfigError(f"`{settings.name}` runs are launched with their own command",
                      hint="Use `dteg run --runner dataflow …`.")


def execute(spec: PipelineSpec, run_id: str, *, runner: str = "direct",
            debug: bool = False, settings: Any = None) -> RunReport:
    from dteg.governance.lineage import LineageEmitter

    store = RunStore.for_folder(spec.base_dir)
    store.start(run_id=run_id, pipeline=spec.name, yaml_text=spec.yaml_text, runner=runner)
    lineage = LineageEmitter(spec, run_id)
    lineage.start()
    run_dir = spec.state_dir / "runs" / run_id
    try:
        # Incremental state (dteg.run.state): fix this run's cursor bounds before it
        # starts, save the new cursors once every sink has committed.
        spec = prepare_run(spec, run_id)
        # Kafka sources: fix the offsets now, commit them to the group after the sinks.
        spec, commit_offsets = prepare_offsets(spec, run_id)
        report = _launch(spec, run_id, settings, debug)
        commit_pending_state(spec, run_id)
        commit_offsets()
        report.schemas = read_schemas(run_dir)
        run_post_load_steps(spec, run_id, report)
        report.drift = detect_drift(spec, store, run_id, report.schemas)
    except BaseException as exc:
        warn_partial_commits(spec, run_id)
        message = exc.render() if isinstance(exc, DtegError) else f"{type(exc).__name__}: {exc}"
        store.finish(run_id, status="failed", error=spec.redactor(message))
        lineage.fail(message)
        raise
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    summary = report_dict(report, spec)
    store.finish(run_id, status="succeeded", report=summary, counts={
        "read": report.read, "loaded": report.loaded,
        "dead_lettered": report.dead_lettered, "filtered": report.filtered})
    drift_facet = {"changes": [vars(d) for d in report.drift]} if report.drift else None
    lineage.complete(report, report.schemas, getattr(report, "quality", {}) or {}, drift_facet)
    return report
