"""Fixtures for tests that run real pipelines on Beam's embedded runner."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dteg.cli import main

# Real PostgreSQL/MariaDB fixtures (pg, my), started by scripts/services.
from tests.integration.databases import mariadb_server, my, pg, postgres_server  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / "pipelines"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of pipelines/ (files and data) so runs never write into the repo."""
    target = tmp_path / "pipelines"
    shutil.copytree(PIPELINES, target, ignore=shutil.ignore_patterns(".dteg", "out"))
    return target


RunResult = tuple[int, dict[str, Any] | None, str]


def run_in_process(capsys: pytest.CaptureFixture[str], args: list[str], report: Path
                   ) -> RunResult:
    """``dteg ARGS --report-json REPORT`` in this process: (exit code, report, output)."""
    report.unlink(missing_ok=True)
    code = 0
    try:
        main([*args, "--report-json", str(report)])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    data = json.loads(report.read_text()) if report.exists() else None
    return code, data, out.out + out.err


@pytest.fixture
def run_pipeline(capsys: pytest.CaptureFixture[str], tmp_path: Path
                 ) -> Callable[..., RunResult]:
    """Run ``dteg run`` in-process; returns (exit code, the JSON report, stdout+stderr)."""

    def _run(path: Path, *extra: str) -> RunResult:
        return run_in_process(capsys, ["run", str(path), *extra],
                              tmp_path / f"report-{path.stem}.json")

    return _run


@pytest.fixture
def dteg(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Callable[..., RunResult]:
    """Run any dteg command in-process (``dteg("stream", path, "--until", …)``): (exit code,
    its --report-json, output)."""

    def _run(*args: str) -> RunResult:
        report = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.json"
        return run_in_process(capsys, list(args), report)

    return _run
