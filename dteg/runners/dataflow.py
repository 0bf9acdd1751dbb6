"""Google Cloud Dataflow: submit a pipeline, or (``--dry-run``) write what would be submitted
without contacting Google: the job request, the portable pipeline graph, the options and a
Flex Template spec.

Dataflow workers cannot see this machine's files: sources, sinks and the dead-letter target of
a pipeline run there must use ``gs://`` paths (or remote services)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dteg.errors import ConfigError, ConnectorError
from dteg.runners.settings import RunnerSettings
from dteg.spec.models import PipelineSpec
from dteg.spec.secrets import MASK

_GCS_PATH = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/.*)?$")
_REQUIRED = {"project": "--project", "region": "--region", "temp_location": "--temp-location"}


@dataclass
class DryRun:
    folder: Path
    files: list[Path]


def job_name(spec: PipelineSpec, run_id: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", f"dteg-{spec.name}-{run_id}".lower()).strip("-")
    return name[:63].rstrip("-")


def check(settings: RunnerSettings) -> None:
    missing = [flag for attr, flag in _REQUIRED.items() if not getattr(settings, attr)]
    if missing:
        raise ConfigError(f"the dataflow runner needs {', '.join(missing)}",
                          hint="e.g. --project my-project --region europe-west1 "
                          "--temp-location gs://my-bucket/tmp")
    for flag, value in (("--temp-location", settings.temp_location),
                        ("--staging-location", settings.staging_location)):
        if value and not _GCS_PATH.match(value):
            # Beam would otherwise spend minutes trying to create a default bucket.
            raise ConfigError(f"{flag} must be a gs://bucket/folder path with a valid bucket "
                              f"name (3-63 characters: a-z, 0-9, -, _, .), not {value}",
                              hint="Dataflow stages files in Cloud Storage.")


def _runner() -> Any:
    try:
        from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
    except ImportError:
        raise ConfigError("the dataflow runner needs Beam's GCP extras",
                          hint="pip install 'dteg[dataflow]'") from None
    return DataflowRunner()


def _pipeline(spec: PipelineSpec, run_id: str, options: dict[str, Any]) -> tuple[Any, Any]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from dteg.beam.compiler import DtegPipeline

    runner = _runner()
    try:
        pipeline = beam.Pipeline(runner=runner, options=PipelineOptions(flags=[], **options))
    except ValueError as exc:
        problems = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
        raise ConfigError("Dataflow refuses these options: " + "; ".join(problems or [str(exc)]),
                          hint="Fix the flags named above.") from None
    _ = pipeline | DtegPipeline(spec, run_id)
    return pipeline, runner


def flex_template(spec: PipelineSpec, settings: RunnerSettings) -> dict[str, Any]:
    image = settings.sdk_container_image or "REGION-docker.pkg.dev/PROJECT/dteg/launcher:TAG"
    return {
        "image": image,
        "sdkInfo": {"language": "PYTHON"},
        "metadata": {
            "name": f"dteg {spec.name}",
            "description": spec.body.description or f"dteg pipeline {spec.name}",
            "parameters": [{
                "name": "pipeline", "label": "Pipeline file",
                "helpText": "gs:// path of the dteg pipeline YAML to run",
                "isOptional": True,
            }],
        },
        "defaultEnvironment": {"tempLocation": settings.temp_location},
    }


def dry_run(spec: PipelineSpec, run_id: str, settings: RunnerSettings, out: Path) -> DryRun:
    import logging

    from google.protobuf import json_format

    check(settings)
    options = settings.dataflow_options(job_name(spec, run_id))
    # Nothing may be staged or looked up in a dry run: name the staging folder and use the
    # worker image's SDK instead of uploading one.
    options.setdefault("staging_location", f"{(settings.temp_location or '').rstrip('/')}/staging")
    options.setdefault("sdk_container_image",
                       "REGION-docker.pkg.dev/PROJECT/dteg/worker:TAG")
    options["sdk_location"] = "container"
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    pipeline, runner = _pipeline(spec, run_id, {**options, "dry_run": True})
    result = pipeline.run()
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "job.json": json.loads(result.job.json()),
        "pipeline.json": json.loads(json_format.MessageToJson(runner.proto_pipeline)),
        "options.json": {k: (MASK if "key" in k or "secret" in k else v)
                         for k, v in options.items()},
        "flex-template.json": flex_template(spec, settings),
    }
    written = []
    for name, content in files.items():
        path = out / name
        path.write_text(spec.redactor(json.dumps(content, indent=2, default=str)) + "\n",
                        encoding="utf-8")
        written.append(path)
    return DryRun(out, written)


def submit(spec: PipelineSpec, run_id: str, settings: RunnerSettings) -> str:
    check(settings)
    options = settings.dataflow_options(job_name(spec, run_id))
    options.setdefault("staging_location", f"{(settings.temp_location or '').rstrip('/')}/staging")
    pipeline, _ = _pipeline(spec, run_id, options)
    try:
        result = pipeline.run()
    except Exception as exc:
        raise ConnectorError(
            f"submitting to Dataflow failed: {str(exc).strip().splitlines()[0][:300]}",
            hint="Check Google credentials (gcloud auth application-default login), the "
            "project, region and bucket; `--dry-run` shows what would be submitted.",
        ) from None
    return str(getattr(result, "job_id", lambda: "")())
