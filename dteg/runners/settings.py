"""Which runner a run uses and its options, as given on the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUNNERS = ("direct", "prism", "portable", "flink", "dataflow", "spark")


@dataclass(frozen=True)
class RunnerSettings:
    name: str = "direct"
    # Prism (Beam's Go portable runner, started by Beam in this process) and any portable
    # job server (Prism standalone, a Flink or Spark job server) reached at job_endpoint
    prism_location: str | None = None
    job_endpoint: str | None = None
    # Flink (Beam's portable FlinkRunner through its job server)
    flink_master: str = "[local]"
    flink_job_server_jar: str | None = None
    parallelism: int | None = None
    checkpointing_interval_ms: int | None = None
    state_backend: str | None = None
    worker_pool: str | None = None  # host:port of an external SDK worker pool
    # Dataflow
    project: str | None = None
    region: str | None = None
    temp_location: str | None = None
    staging_location: str | None = None
    service_account: str | None = None
    sdk_container_image: str | None = None
    requirements_file: str | None = None
    dry_run: bool = False
    output_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def flink_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"flink_master": self.flink_master, **self.environment()}
        if self.flink_job_server_jar:
            options["flink_job_server_jar"] = self.flink_job_server_jar
        if self.parallelism:
            options["parallelism"] = self.parallelism
        if self.checkpointing_interval_ms:
            options["checkpointing_interval"] = self.checkpointing_interval_ms
        if self.state_backend:
            options["state_backend"] = self.state_backend
        return options

    def portable_options(self) -> dict[str, Any]:
        """Options of a PortableRunner submitting to the job server at ``job_endpoint``."""
        return {"job_endpoint": self.job_endpoint, **self.environment()}

    def environment(self) -> dict[str, Any]:
        if self.worker_pool:
            return {"environment_type": "EXTERNAL", "environment_config": self.worker_pool}
        return {"environment_type": "LOOPBACK"}

    def dataflow_options(self, job_name: str) -> dict[str, Any]:
        options: dict[str, Any] = {
            "project": self.project, "region": self.region,
            "temp_location": self.temp_location, "job_name": job_name,
        }
        optional = {
            "staging_location": self.staging_location,
            "service_account_email": self.service_account,
            "sdk_container_image": self.sdk_container_image,
            "requirements_file": self.requirements_file,
        }
        options.update({k: v for k, v in optional.items() if v})
        if self.sdk_container_image:
            options["sdk_location"] = "container"
        return options
