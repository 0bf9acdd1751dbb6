"""Prism, Beam's portable runner, for the integration tests: the binary built by
``scripts/tools/prism`` and the standalone job server of ``scripts/services/prism``. With
CI=true a missing binary or a job server that does not start fails the tests; elsewhere they
are skipped with the reason.

Use with ``from tests.integration.prism_service import prism_binary, prism_job_server  #
noqa: F401``."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.databases import REPO
from tests.integration.databases import _start as start_service
from tests.integration.service_guard import service_unavailable

TOOL = REPO / "scripts" / "tools" / "prism"


@pytest.fixture(scope="session")
def prism_binary() -> str:
    """The cached Prism binary (never built here: `.ci/run` builds it before the tests, a
    build inside a test would take ~7 minutes)."""
    done = subprocess.run([str(TOOL), "--cached"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or not done.stdout.strip():
        service_unavailable("the Prism binary is not built: run scripts/tools/prism")
    return done.stdout.strip()


@pytest.fixture(scope="session")
def prism_job_server(prism_binary: str) -> dict[str, str]:
    """Starts the shared standalone Prism job server (a no-op when it runs); returns what
    ``scripts/services/prism env`` prints (DTEG_PRISM_LOCATION, DTEG_PRISM_JOB_ENDPOINT)."""
    return start_service("prism")
