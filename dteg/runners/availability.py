"""`dteg runners`: what each runner needs and whether this machine has it."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

from dteg.runners.jobserver import JOB_SERVERS, beam_version, cached_jar, java_available


@dataclass(frozen=True)
class RunnerStatus:
    name: str
    usable: bool
    detail: str


def _portable(name: str) -> RunnerStatus:
    coordinates = f"{JOB_SERVERS[name]}:{beam_version()}"
    if not java_available():
        return RunnerStatus(name, False, "needs Java 11+ (`java` is not on PATH)")
    jar = cached_jar(name)
    if jar is None:
        return RunnerStatus(name, False, f"job server not cached; `dteg run --runner {name}` "
                            f"fetches {coordinates} with Maven, or pass "
                            f"--{name}-job-server-jar")
    return RunnerStatus(name, True, f"job server {jar}")


def _prism() -> RunnerStatus:
    from dteg.errors import ConfigError
    from dteg.runners.prism import locate

    try:
        return RunnerStatus("prism", True, f"Prism binary {locate()}")
    except ConfigError as exc:
        return RunnerStatus("prism", False, f"{exc.message}; {exc.hint}")


def _job_server() -> RunnerStatus:
    endpoint = os.environ.get("DTEG_PRISM_JOB_ENDPOINT")
    detail = "any Beam job server: pass --job-endpoint HOST:PORT (Prism: " \
        "`scripts/services/prism start`)"
    if endpoint:
        detail += f"; DTEG_PRISM_JOB_ENDPOINT is {endpoint}"
    return RunnerStatus("portable", True, detail)


def check_all() -> list[RunnerStatus]:
    statuses = [RunnerStatus("direct", True, f"embedded FnApiRunner (Beam {beam_version()})")]
    statuses.append(_prism())
    statuses.append(_job_server())
    statuses.append(_portable("flink"))
    if importlib.util.find_spec("apache_beam.runners.dataflow.internal.apiclient") and \
            importlib.util.find_spec("google.cloud"):
        creds = "GOOGLE_APPLICATION_CREDENTIALS" in os.environ
        statuses.append(RunnerStatus(
            "dataflow", True, "GCP extras installed; --dry-run works offline; submitting needs "
            + ("the credentials in GOOGLE_APPLICATION_CREDENTIALS" if creds
               else "Google credentials (none found in GOOGLE_APPLICATION_CREDENTIALS)")))
    else:
        statuses.append(RunnerStatus("dataflow", False,
                                     "needs Beam's GCP extras: pip install 'dteg[dataflow]'"))
    statuses.append(_portable("spark"))
    return statuses
