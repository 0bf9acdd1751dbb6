"""Cloud stand-ins for the integration tests, each a real server process on 127.0.0.1:

* ``S3Server``: moto's server mode through ``scripts/services/s3`` (state survives a
  stop/start, like a real object store), talked to with boto3;
* ``FakeSnowflake``: fakesnow's server mode (``python -m fakesnow -s``), talked to with the
  real ``snowflake-connector-python``;

Fixtures start their own instance on a free port, so tests need no service started
beforehand and never touch a developer's running servers.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.service_guard import require_module

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "scripts" / "services"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    port: int
    state: Path
    delay_ms: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _script(self, command: str) -> None:
        env = {**os.environ, "DTEG_S3_PORT": str(self.port), "DTEG_S3_DIR": str(self.state),
               "DTEG_S3_DELAY_MS": str(self.delay_ms), "DTEG_PYTHON": sys.executable,
               "DTEG_SERVICE_TIMEOUT": "60"}
        subprocess.run([str(SERVICES / "s3"), command], check=True, env=env,
                       capture_output=True, timeout=120)

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="dteg", aws_secret_access_key="dteg-secret",
                            config=Config(s3={"addressing_style": "path"}))

    def settings(self) -> dict[str, Any]:
        """What a pipeline's s3:// step needs to reach this server."""
        return {"endpoint_url": self.endpoint, "region": "us-east-1",
                "access_key_id": "dteg", "secret_access_key": "dteg-secret"}

    def bucket(self, name: str) -> str:
        s3 = self.client()
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if name not in existing:
            s3.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        s3 = self.client()
        found: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(found)

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(self.client().get_object(Bucket=bucket, Key=key)["Body"].read())

    def parquet(self, bucket: str, prefix: str) -> pa.Table:
        tables = [pq.read_table(io.BytesIO(self.read(bucket, k)))
                  for k in self.keys(bucket, prefix) if k.endswith(".parquet")]
        return pa.concat_tables(tables) if tables else pa.table({})


def _started(tmp: Path, delay_ms: int = 0) -> S3Server:
    require_module("moto.server", "moto[server] is installed by `make setup`")
    server = S3Server(free_port(), tmp, delay_ms)
    server.start()
    return server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3 server for the session (tests use their own buckets)."""
    server = _started(tmp_path_factory.mktemp("s3-state"))
    yield server
    server.stop()


@pytest.fixture
def slow_s3_server(tmp_path: Path) -> Iterator[S3Server]:
    """A server of its own (20 ms per request), for tests that stop and restart it."""
    server = _started(tmp_path / "s3-state", delay_ms=20)
    yield server
    server.stop()


@dataclass
class FakeSnowflake:
    """fakesnow's server mode: a real HTTP server that the unmodified Snowflake connector
    talks to (login, queries, PUT uploads), with DuckDB behind it."""

    port: int
    process: subprocess.Popen[bytes]

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"account": "fakesnow", "user": "fake", "password": "snow",
                "host": "127.0.0.1", "port": self.port, "protocol": "http",
                "database": "ANALYTICS", "connect_args": {"network_timeout": 30}, **extra}

    def connect(self) -> Any:
        import snowflake.connector

        return snowflake.connector.connect(
            account="fakesnow", user="fake", password="snow", host="127.0.0.1",
            port=self.port, protocol="http", network_timeout=30,
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False})

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = self.connect()
        try:
            cur = con.cursor()
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            con.close()


@pytest.fixture(scope="session")
def fake_snowflake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSnowflake]:
    require_module("fakesnow", "fakesnow[server] is installed by `make setup`")
    port = free_port()
    log = tmp_path_factory.mktemp("fakesnow") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fakesnow", "-s", "--host", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"fakesnow did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    yield FakeSnowflake(port, process)
    process.terminate()
    process.wait(timeout=30)
