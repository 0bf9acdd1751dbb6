"""OpenLineage events for every run: START, then COMPLETE or FAIL, with input and output
datasets, their schemas, row counts and rule results; each dbt step is a child job.

Transports (``monitoring.lineage.transport``): ``file`` (default,
``.dteg/lineage/events.jsonl``), ``http`` (an OpenLineage endpoint such as Marquez),
``console``, ``none``. ``OPENLINEAGE_URL`` in the environment selects ``http``. Events carry
dataset names and schemas only: no config values, so no secrets.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import attr
from openlineage.client.facet_v2 import RunFacet

from dteg.governance.datasets import dataset_of
from dteg.run.report import RunReport
from dteg.spec.models import PipelineSpec

PRODUCER = "https://github.com/dteg/dteg"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


class LineageEmitter:
    def __init__(self, spec: PipelineSpec, run_id: str) -> None:
        from openlineage.client.uuid import generate_new_uuid

        self.spec = spec
        self.run_id = run_id
        self.run_uuid = str(generate_new_uuid())
        config = spec.body.monitoring.lineage
        self.namespace = config.namespace
        self.client = self._client()

    def _client(self) -> Any:
        from openlineage.client import OpenLineageClient
        from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport
        from openlineage.client.transport.file import FileConfig, FileTransport
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        config = self.spec.body.monitoring.lineage
        transport_kind = config.transport
        url = config.url
        if os.environ.get("OPENLINEAGE_URL") and config.transport == "file" and not config.url:
            transport_kind, url = "http", os.environ["OPENLINEAGE_URL"]
        if transport_kind == "none":
            return None
        if transport_kind == "console":
            return OpenLineageClient(transport=ConsoleTransport(ConsoleConfig()))
        if transport_kind == "http":
            params: dict[str, Any] = {"url": url, "endpoint": config.endpoint, "timeout": 5.0}
            if config.api_key is not None:
                params["auth"] = {"type": "api_key",
                                  "apiKey": config.api_key.get_secret_value()}
            return OpenLineageClient(transport=HttpTransport(HttpConfig.from_dict(params)))
        path = self.spec.base_dir / config.path
        path.parent.mkdir(parents=True, exist_ok=True)
        return OpenLineageClient(transport=FileTransport(
            FileConfig(log_file_path=str(path), append=True)))

    # -- events ----------------------------------------------------------------------------

    def _job(self, name: str, integration: str = "DTEG", job_type: str = "PIPELINE") -> Any:
        from openlineage.client.event_v2 import Job
        from openlineage.client.facet_v2 import job_type_job

        return Job(namespace=self.namespace, name=name, facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration=integration, jobType=job_type)})

    def _run(self, run_uuid: str, extra: dict[str, Any] | None = None) -> Any:
        from openlineage.client.event_v2 import Run
        from openlineage.client.facet_v2 import processing_engine_run

        from dteg.version import __version__

        facets: dict[str, Any] = {"processing_engine": processing_engine_run.
                                  ProcessingEngineRunFacet(version=__version__,
                                                           name="dteg")}
        facets.update(extra or {})
        return Run(runId=run_uuid, facets=facets)

    def _datasets(self, report: RunReport | None, schemas: dict[str, Any],
                  quality: dict[str, list[dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
        from openlineage.client.event_v2 import InputDataset, OutputDataset
        from openlineage.client.facet_v2 import (
            data_quality_assertions_dataset,
            output_statistics_output_dataset,
            schema_dataset,
        )

        counts = {s.name: s for s in report.steps} if report else {}

        def schema_facet(step: str) -> dict[str, Any]:
            fields = schemas.get(step)
            if not fields:
                return {}
            return {"schema": schema_dataset.SchemaDatasetFacet(fields=[
                schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f["type"])
                for f in fields])}

        inputs, outputs = [], []
        for step in self.spec.steps:
            if step.is_source:
                namespace, name = dataset_of(self.spec, step)
                input_facets: dict[str, Any] = {}
                assertions = [
                    data_quality_assertions_dataset.Assertion(
                        assertion=a["rule"], success=a["failed"] == 0, column=a.get("column"))
                    for a in quality.get(step.name, [])]
                if assertions:
                    input_facets["dataQualityAssertions"] = (
                        data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                            assertions=assertions))
                inputs.append(InputDataset(namespace=namespace, name=name,
                                           facets=schema_facet(step.name),
                                           inputFacets=input_facets))
            elif step.is_sink:
                namespace, name = dataset_of(self.spec, step)
                name = name.replace("{run_id}", self.run_id)
                output_facets: dict[str, Any] = {}
                rows = (report.dead_lettered_stored if report and step.is_dead_letter_sink
                        else counts[step.name].loaded if step.name in counts else None)
                if rows is not None:
                    output_facets["outputStatistics"] = (
                        output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                            rowCount=rows))
                outputs.append(OutputDataset(namespace=namespace, name=name,
                                             facets=schema_facet(step.name),
                                             outputFacets=output_facets))
        return inputs, outputs

    def _emit(self, event: Any) -> None:
        if self.client is not None:
            self.client.emit(event)

    def start(self) -> None:
        from openlineage.client.event_v2 import RunEvent, RunState

        inputs, outputs = self._datasets(None, {}, {})
        self._emit(RunEvent(eventType=RunState.START, eventTime=_now(), producer=PRODUCER,
                            run=self._run(self.run_uuid), job=self._job(self.spec.name),
                            inputs=inputs, outputs=outputs))

    def complete(self, report: RunReport, schemas: dict[str, Any],
                 quality: dict[str, list[dict[str, Any]]],
                 drift_facet: dict[str, Any] | None) -> None:
        from openlineage.client.event_v2 import RunEvent, RunState

        inputs, outputs = self._datasets(report, schemas, assertions_by_source(self.spec, quality))
        extra = {"dteg_schemaDrift": _custom_run_facet(drift_facet)} if drift_facet else None
        for outcome in report.post_load:
            self._emit_post_load(outcome)
        self._emit(RunEvent(eventType=RunState.COMPLETE, eventTime=_now(), producer=PRODUCER,
                            run=self._run(self.run_uuid, extra), job=self._job(self.spec.name),
                            inputs=inputs, outputs=outputs))

    def fail(self, message: str) -> None:
        from openlineage.client.event_v2 import RunEvent, RunState
        from openlineage.client.facet_v2 import error_message_run

        error = error_message_run.ErrorMessageRunFacet(
            message=self.spec.redactor(message), programmingLanguage="python")
        self._emit(RunEvent(eventType=RunState.FAIL, eventTime=_now(), producer=PRODUCER,
                            run=self._run(self.run_uuid, {"errorMessage": error}),
                            job=self._job(self.spec.name)))

    def _emit_post_load(self, outcome: Any) -> None:
        """A post-load step (dbt) as a child job of this run: reads the loaded tables, writes
        its outputs (dbt: the models)."""
        from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent, RunState
        from openlineage.client.facet_v2 import parent_run
        from openlineage.client.uuid import generate_new_uuid

        step = self.spec.step(outcome.step)
        parent = {"parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=self.run_uuid),
            job=parent_run.Job(namespace=self.namespace, name=self.spec.name))}
        loads = [self.spec.step(n) for n in step.inputs]
        inputs = [InputDataset(*dataset_of(self.spec, s)) for s in loads]
        namespace = dataset_of(self.spec, loads[0])[0] if loads else "dbt"
        outputs = [OutputDataset(namespace=namespace, name=name) for name in outcome.outputs()]
        child = str(generate_new_uuid())
        job = self._job(f"{self.spec.name}.{outcome.step}", integration=outcome.kind.upper(),
                        job_type="JOB")
        for state in (RunState.START, RunState.COMPLETE):
            self._emit(RunEvent(eventType=state, eventTime=_now(), producer=PRODUCER,
                                run=self._run(child, parent), job=job,
                                inputs=inputs, outputs=outputs))


def assertions_by_source(spec: PipelineSpec, quality: dict[str, Any]
                         ) -> dict[str, list[dict[str, Any]]]:
    """The quality report's rule results, attached to the source each validate step checks."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in quality.get("steps", []):
        try:
            step = spec.step(entry["step"])
        except KeyError:
            continue
        frontier, sources = list(step.inputs), []
        while frontier:
            upstream = spec.step(frontier.pop())
            if upstream.is_source:
                sources.append(upstream.name)
            frontier.extend(upstream.inputs)
        for rule in entry.get("rules", []):
            for column in rule.get("columns") or [None]:
                for source in sources:
                    found.setdefault(source, []).append(
                        {"rule": rule["rule"], "failed": rule["failed"], "column": column})
    return found


@attr.define
class SchemaDriftRunFacet(RunFacet):
    """dteg's facet: source columns added, removed or retyped since the last run."""

    changes: list[dict[str, Any]] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return "https://dteg.dev/spec/facets/1-0-0/SchemaDriftRunFacet.json"


def _custom_run_facet(payload: dict[str, Any]) -> Any:
    return SchemaDriftRunFacet(changes=json.loads(json.dumps(payload.get("changes", []))))
