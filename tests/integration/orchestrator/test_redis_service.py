"""scripts/services/redis: the shared server answers PING through the `redis` client, `start`
is idempotent, and a private instance survives a stale pid file and a SIGKILL with its data
(append-only file)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.redis_service import SCRIPT, redis_server  # noqa: F401
from tests.integration.service_guard import service_unavailable

pytestmark = pytest.mark.integration


def script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def client(url: str):  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis.from_url(url, socket_timeout=10, decode_responses=True)


def test_shared_server_answers_and_start_is_idempotent(redis_server: dict[str, str]) -> None:  # noqa: F811
    assert redis_server["DTEG_REDIS_URL"] == (
        f"redis://127.0.0.1:{redis_server['DTEG_REDIS_PORT']}/0")
    r = client(redis_server["DTEG_REDIS_URL"])
    assert r.ping() is True
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    status = script("status")
    assert status.returncode == 0, status.stderr
    assert "running (pid" in status.stderr
    pid = status.stderr.split("(pid ", 1)[1].split(")", 1)[0]
    again = script("start")
    assert again.returncode == 0, again.stderr
    assert f"already running (pid {pid})" in again.stderr
    assert r.ping() is True
    env = script("env").stdout
    assert f"export DTEG_REDIS_URL={redis_server['DTEG_REDIS_URL']}" in env.splitlines()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_private_instance_survives_stale_pid_file_and_sigkill(tmp_path: Path) -> None:
    port = _free_port()
    env = {"DTEG_REDIS_DIR": str(tmp_path / "redis"), "DTEG_REDIS_PORT": str(port)}
    url = f"redis://127.0.0.1:{port}/0"
    try:
        started = script("start", env=env)
        if started.returncode != 0:
            service_unavailable(f"redis could not be started: {started.stderr[-800:]}")
        r = client(url)
        r.set("kept", "yes")
        pid = int((tmp_path / "redis" / "launch.pid").read_text())

        # Stale pid files (a pid that is no redis of this folder): the server is still found.
        (tmp_path / "redis" / "launch.pid").write_text("999999\n")
        (tmp_path / "redis" / "redis.pid").write_text("1\n")
        assert script("status", env=env).returncode == 0
        assert f"already running (pid {pid})" in script("start", env=env).stderr

        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while script("status", env=env).returncode != 3:
            assert time.monotonic() < deadline, "a killed redis still counts as running"
            time.sleep(0.2)
        restarted = script("start", env=env)
        assert restarted.returncode == 0, restarted.stderr
        assert "starting on" in restarted.stderr
        assert client(url).get("kept") == "yes"  # replayed from the append-only file
    finally:
        stopped = script("stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert script("status", env=env).returncode == 3
    wiped = script("wipe", env=env)
    assert wiped.returncode == 0 and not (tmp_path / "redis").exists()
