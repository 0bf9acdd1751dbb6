"""Fixtures of the marketplace tests: a real registry process (``dteg marketplace serve``) on
FerretDB (MongoDB wire protocol) with its artifacts on the S3 server, and a throwaway Python
environment to install into (it sees the shared venv's packages through a ``.pth`` file, so
installs land in the throwaway one and the shared venv stays untouched)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cloud_services import REPO, S3Server, free_port, s3_server
from tests.integration.databases import _start as start_service
from tests.integration.service_guard import service_unavailable

__all__ = ["s3_server"]
ADMIN_TOKEN = "test-admin-" + uuid.uuid4().hex


def _answers(url: str) -> bool:
    try:
        import pymongo

        client: Any = pymongo.MongoClient(url, serverSelectionTimeoutMS=5_000)
        client.admin.command("ping")
        client.close()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def mongodb_url() -> str:
    """FerretDB: the one DTEG_MONGODB_URL points at, else scripts/services/ferretdb's."""
    given = os.environ.get("DTEG_MONGODB_URL")
    if given and _answers(given):
        return given
    if not (REPO / "scripts" / "services" / "ferretdb").exists():
        service_unavailable("no MongoDB-protocol server: DTEG_MONGODB_URL does not answer and "
                            "scripts/services/ferretdb is missing")
    return start_service("ferretdb")["DTEG_MONGODB_URL"]


@dataclass
class Registry:
    url: str
    database: str
    bucket: str
    process: subprocess.Popen[bytes]
    s3: S3Server
    log: Path

    def client(self, token: str | None = None) -> Any:
        from dteg.marketplace.client import RegistryClient

        return RegistryClient(self.url, token)

    def publisher(self, name: str) -> tuple[Any, Any, str]:
        """A new publisher: (client with its token, its signing key, the key id)."""
        from dteg.marketplace import signing

        token = self.client().create_publisher(name, ADMIN_TOKEN)
        client = self.client(token)
        key = signing.generate_key()
        key_id = client.add_publisher_key(name, key.public_b64)["key_id"]
        return client, key, key_id


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 180  # a busy 2-core machine imports slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the registry exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/simple/", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the registry did not answer within 180 s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def running_registry(mongodb_url: str, s3_server: S3Server, folder: Path,
                     extra_env: dict[str, str] | None = None) -> Iterator[Registry]:
    """`dteg marketplace serve` on its own port and database, artifacts in its own bucket
    (``extra_env``: more of its environment, e.g. a payment provider)."""
    port = free_port()
    database = f"mkt_{uuid.uuid4().hex[:10]}"
    bucket = s3_server.bucket(f"mkt-{uuid.uuid4().hex[:8]}")
    log = folder / "registry.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "DTEG_MONGODB_URL": mongodb_url,
           "DTEG_MARKETPLACE_ADMIN_TOKEN": ADMIN_TOKEN,
           "AWS_ACCESS_KEY_ID": "dteg", "AWS_SECRET_ACCESS_KEY": "dteg-secret",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": s3_server.endpoint,
           **(extra_env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dteg.cli", "marketplace", "serve", "--port", str(port),
             "--database", database, "--artifacts", f"s3://{bucket}/artifacts"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, log)
        yield Registry(url, database, bucket, process, s3_server, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        import pymongo

        client: Any = pymongo.MongoClient(mongodb_url, serverSelectionTimeoutMS=10_000)
        client.drop_database(database)
        client.close()


@pytest.fixture(scope="module")
def registry(mongodb_url: str, s3_server: S3Server,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """`dteg marketplace serve` on its own port and database, artifacts in its own bucket."""
    with running_registry(mongodb_url, s3_server, tmp_path_factory.mktemp("registry")) as found:
        yield found


@dataclass
class Env:
    """A throwaway environment: ``dteg`` runs from it, installs go into it."""

    root: Path
    python: Path
    dteg: Path
    workdir: Path
    registry_url: str

    def run(self, *args: str, stdin: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO), "DTEG_MARKETPLACE_URL": self.registry_url,
               "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env.pop("DTEG_LOCK_FILE", None)
        done = subprocess.run([str(self.dteg), *args], cwd=self.workdir, env=env, text=True,
                              capture_output=True, input=stdin, timeout=600, check=False)
        if check and done.returncode != 0:
            pytest.fail(f"dteg {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n"
                        f"{done.stderr}")
        return done

    def has_package(self, name: str) -> bool:
        code = ("import importlib.metadata as m, sys\n"
                f"try: m.version({name!r})\nexcept m.PackageNotFoundError: sys.exit(3)\n")
        return subprocess.run([str(self.python), "-c", code], timeout=120,
                              check=False).returncode == 0

    def own_site_packages(self) -> Path:
        return Path(subprocess.run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True, timeout=60).stdout.strip())


@pytest.fixture
def env(tmp_path: Path, registry: Registry) -> Env:
    """A venv without pip of its own; a ``.pth`` adds the shared venv's site-packages after its
    own, so pip, Beam and dteg's dependencies come from there and installs stay here."""
    root = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True,
                   timeout=120)
    python = root / "bin" / "python"
    own = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    # addsitedir (not a bare path line) so the shared venv's own .pth files apply too.
    shared = sysconfig.get_paths()["purelib"]
    (own / "shared-venv.pth").write_text(f"import site; site.addsitedir({shared!r})\n")
    dteg = root / "bin" / "dteg"
    dteg.write_text(f"#!{python}\nimport sys\nfrom dteg.cli import main\nsys.exit(main())\n")
    dteg.chmod(0o755)
    workdir = tmp_path / "work"
    workdir.mkdir()
    return Env(root, python, dteg, workdir, registry.url)
