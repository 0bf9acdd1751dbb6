"""Real PostgreSQL and MariaDB servers for integration tests, started by scripts/services.

Each test gets its own schema (PostgreSQL, via ``search_path`` in the URL) or database
(MariaDB), so tests never see each other's tables, even when several suites share a server.
Without a server the tests are skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.service_guard import service_unavailable

REPO = Path(__file__).resolve().parents[2]


def _start(service: str) -> dict[str, str]:
    script = REPO / "scripts" / "services" / service
    try:
        subprocess.run([str(script), "start"], check=True, capture_output=True, text=True,
                       timeout=600)
        out = subprocess.run([str(script), "env"], check=True, capture_output=True,
                             text=True, timeout=60).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        service_unavailable(f"{service} could not be started: {str(detail).strip()[-800:]}")
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


@pytest.fixture(scope="session")
def postgres_server() -> dict[str, str]:
    return _start("postgres")


@pytest.fixture(scope="session")
def mariadb_server() -> dict[str, str]:
    return _start("mariadb")


@pytest.fixture
def pg(postgres_server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A psycopg connection (autocommit) whose search_path is a fresh schema; the schema's
    URL is in ``pg.url`` and in DTEG_POSTGRES_URL for pipelines."""
    import psycopg

    base = postgres_server["DTEG_POSTGRES_URL"]
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(base, autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{base}?options=-csearch_path%3D{schema}"
    con = psycopg.connect(url, autocommit=True)
    con.url = url  # type: ignore[attr-defined]
    con.schema = schema  # type: ignore[attr-defined]
    monkeypatch.setenv("DTEG_POSTGRES_URL", url)
    try:
        yield con
    finally:
        con.close()
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture
def my(mariadb_server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A PyMySQL connection (autocommit) to a fresh database, whose URL is in ``my.url`` and
    in DTEG_MARIADB_URL for pipelines."""
    import pymysql

    env = mariadb_server
    database = f"t_{uuid.uuid4().hex[:10]}"
    params = dict(host=env["DTEG_MARIADB_HOST"], port=int(env["DTEG_MARIADB_PORT"]),
                  user=env["DTEG_MARIADB_USER"], password=env["DTEG_MARIADB_PASSWORD"],
                  autocommit=True)
    admin = pymysql.connect(**params)
    admin.cursor().execute(f"CREATE DATABASE {database}")
    con = pymysql.connect(database=database, **params)
    url = (f"mysql://{params['user']}:{params['password']}@{params['host']}:"
           f"{params['port']}/{database}")
    con.url = url  # type: ignore[attr-defined]
    con.database = database  # type: ignore[attr-defined]
    monkeypatch.setenv("DTEG_MARIADB_URL", url)
    try:
        yield con
    finally:
        con.close()
        admin.cursor().execute(f"DROP DATABASE {database}")
        admin.close()


def rows(con: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = con.cursor()
    cur.execute(sql)
    return list(cur.fetchall())
