"""Run on Apache Flink through Beam's portable FlinkRunner: ``[local]`` starts an embedded
Flink inside the job server; ``--flink-master host:port`` submits to a cluster. Workers run in
this process (LOOPBACK), so no Docker is needed."""

from __future__ import annotations

from dteg.components.plan import RunPlan
from dteg.run.report import RunReport
from dteg.runners.jobserver import job_server_jar
from dteg.runners.settings import RunnerSettings
from dteg.spec.models import PipelineSpec


def run(spec: PipelineSpec, plan: RunPlan, settings: RunnerSettings, *,
        debug: bool = False) -> RunReport:
    from dataclasses import replace

    from apache_beam.runners.portability.flink_runner import FlinkRunner

    from dteg.runners import portable

    jar = job_server_jar("flink", settings.flink_job_server_jar)
    settings = replace(settings, flink_job_server_jar=str(jar))
    return portable.submit(spec, plan, FlinkRunner(), settings.flink_options(),
                           runner_name="flink", debug=debug)
