"""fake-gcs-server for the integration tests: a private instance per test session, started
through ``scripts/services/gcs`` on a free port with its own state folder, talked to with the
real google-cloud-storage client (anonymous credentials + ``api_endpoint``). Under CI=true a
server that cannot be built or started fails the tests (``service_guard``)."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.cloud_services import SERVICES, free_port
from tests.integration.service_guard import service_unavailable


@dataclass
class GcsServer:
    port: int
    state: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, command: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DTEG_GCS_PORT": str(self.port), "DTEG_GCS_DIR": str(self.state),
               "DTEG_SERVICE_TIMEOUT": "120"}
        # A cold build of the server from Go modules takes a few minutes on 2 cores.
        return subprocess.run([str(SERVICES / "gcs"), command], env=env, text=True,
                              capture_output=True, timeout=1800)

    def settings(self) -> dict[str, Any]:
        """What a pipeline's gs:// step needs to reach this server."""
        return {"gcs_api_endpoint": self.endpoint, "gcs_anonymous": True,
                "gcs_project": "dteg-test"}

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(project="dteg-test", credentials=AnonymousCredentials(),
                              client_options={"api_endpoint": self.endpoint})

    def bucket(self, name: str) -> str:
        gcs = self.client()
        if gcs.lookup_bucket(name) is None:
            gcs.create_bucket(name)
        return name

    def put(self, bucket: str, key: str, data: bytes | str) -> None:
        self.client().bucket(bucket).blob(key).upload_from_string(data)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(b.name for b in self.client().list_blobs(bucket, prefix=prefix or None))

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(self.client().bucket(bucket).blob(key).download_as_bytes())

    def parquet(self, bucket: str, prefix: str) -> pa.Table:
        tables = [pq.read_table(io.BytesIO(self.read(bucket, k)))
                  for k in self.keys(bucket, prefix) if k.endswith(".parquet")]
        return pa.concat_tables(tables) if tables else pa.table({})


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsServer]:
    """One fake-gcs-server for the session (tests use their own buckets)."""
    try:
        import google.cloud.storage  # noqa: F401
    except ImportError:
        service_unavailable("google-cloud-storage is not installed: pip install 'dteg[gcs]'")
    server = GcsServer(free_port(), tmp_path_factory.mktemp("gcs-state"))
    started = server.script("start")
    if started.returncode != 0:
        service_unavailable(f"fake-gcs-server did not start (scripts/services/gcs start): "
                            f"{started.stderr[-1500:]}")
    yield server
    server.script("stop")
