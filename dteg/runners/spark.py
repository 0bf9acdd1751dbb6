"""Run on Apache Spark through Beam's portable SparkRunner (``local[N]`` by default)."""

from __future__ import annotations

from dteg.components.plan import RunPlan
from dteg.run.report import RunReport
from dteg.runners.jobserver import job_server_jar
from dteg.runners.settings import RunnerSettings
from dteg.spec.models import PipelineSpec


def run(spec: PipelineSpec, plan: RunPlan, settings: RunnerSettings, *,
        debug: bool = False) -> RunReport:
    from apache_beam.runners.portability.spark_runner import SparkRunner

    from dteg.runners import portable

    jar = job_server_jar("spark", settings.extra.get("spark_job_server_jar"))
    options = {"spark_master_url": settings.extra.get("spark_master_url", "local[2]"),
               "spark_job_server_jar": str(jar), **settings.environment()}
    return portable.submit(spec, plan, SparkRunner(), options, runner_name="spark",
                           debug=debug)
