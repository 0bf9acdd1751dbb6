"""The one portable code path: a pipeline submitted over Beam's Job API to a job server —
Prism (standalone or started by Beam), Flink's or Spark's. Workers run in this process
(LOOPBACK) unless ``--worker-pool`` names an external SDK worker pool."""

from __future__ import annotations

import re
from typing import Any

from dteg.components.plan import RunPlan
from dteg.errors import ConfigError, RunError
from dteg.run.report import RunReport
from dteg.runners.settings import RunnerSettings
from dteg.spec.models import PipelineSpec

_ENDPOINT = re.compile(r"^[A-Za-z0-9._-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")


def check_endpoint(endpoint: str | None) -> str:
    """``HOST:PORT`` of a job server, or a ConfigError saying what to pass."""
    if not endpoint:
        raise ConfigError("the portable runner needs the job server's address",
                          hint="Pass --job-endpoint HOST:PORT (e.g. 127.0.0.1:8073 for "
                          "`prism --job_port 8073`, 127.0.0.1:8099 for a Flink job server).")
    if not _ENDPOINT.match(endpoint):
        raise ConfigError(f"--job-endpoint must be HOST:PORT, not `{endpoint}`",
                          hint="e.g. --job-endpoint 127.0.0.1:8073")
    return endpoint


def submit(spec: PipelineSpec, plan: RunPlan, runner: Any, options: dict[str, Any], *,
           runner_name: str, debug: bool = False) -> RunReport:
    """Run the compiled pipeline on a Beam portable ``runner`` (PortableRunner or one of its
    subclasses) and report it under ``runner_name``; a job server that cannot be reached is a
    RunError naming it, not a gRPC traceback."""
    from dteg.errors import DtegError
    from dteg.runners import direct

    # Name the job after the run: a job server's job list then says which run each job was.
    options = {"job_name": f"dteg-{spec.name}-{plan.run_id}", **options}
    try:
        return direct.run(spec, plan, options=options, runner=runner,
                          runner_name=runner_name, debug=debug)
    except DtegError:
        raise
    except Exception as exc:
        text = str(exc) or type(exc).__name__
        lowered = text.lower()
        unreachable = type(exc).__name__ == "FutureTimeoutError" or any(
            sign in lowered for sign in ("failed to connect", "unavailable",
                                         "timed out waiting for"))
        if not unreachable:
            raise
        where = options.get("job_endpoint") or "the job server Beam started"
        raise RunError(f"the {runner_name} runner could not reach {where}: "
                       f"{text.strip().splitlines()[0][:200]}",
                       hint="Start the job server (for Prism: `scripts/services/prism "
                       "start`) or check --job-endpoint.") from None


def check_reachable(endpoint: str, timeout: float = 15.0) -> None:
    """A RunError at once when nothing accepts connections at ``endpoint`` (Beam itself
    would wait a minute, then raise a bare FutureTimeoutError)."""
    import socket

    host, _, port = endpoint.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RunError(f"the portable runner could not reach {endpoint}: {exc}",
                       hint="Start the job server (for Prism: `scripts/services/prism "
                       "start`) or check --job-endpoint.") from None


def run(spec: PipelineSpec, plan: RunPlan, settings: RunnerSettings, *,
        debug: bool = False) -> RunReport:
    """``--runner portable``: submit to the job server at ``settings.job_endpoint``."""
    from apache_beam.runners.portability.portable_runner import PortableRunner

    endpoint = check_endpoint(settings.job_endpoint)
    check_reachable(endpoint)
    return submit(spec, plan, PortableRunner(), {**settings.portable_options(),
                                                 "job_endpoint": endpoint},
                  runner_name="portable", debug=debug)
