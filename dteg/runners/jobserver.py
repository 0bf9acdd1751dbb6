"""Find or fetch the Beam job-server jar a portable runner (Flink, Spark) needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from dteg.errors import ConfigError

JOB_SERVERS = {
    "flink": "org.apache.beam:beam-runners-flink-1.19-job-server",
    "spark": "org.apache.beam:beam-runners-spark-3-job-server",
}


def beam_version() -> str:
    from importlib.metadata import version

    return version("apache-beam")


def cache_dir() -> Path:
    return Path(os.environ.get("DTEG_CACHE_DIR", Path.home() / ".cache" / "dteg")) / "jobserver"


def cached_jar(runner: str) -> Path | None:
    artifact = JOB_SERVERS[runner].split(":")[1]
    candidate = cache_dir() / f"{artifact}-{beam_version()}.jar"
    return candidate if candidate.exists() else None


def java_available() -> bool:
    return shutil.which("java") is not None


def fetch_jar(runner: str) -> Path:
    """Download the job server with Maven into the cache; a clear error if it can't."""
    coordinates = f"{JOB_SERVERS[runner]}:{beam_version()}"
    if not shutil.which("mvn"):
        raise ConfigError(
            f"the {runner} runner needs the Beam job server {coordinates}, and Maven is not "
            "installed to fetch it",
            hint=f"Install Maven, or download the jar yourself and pass "
            f"--{runner}-job-server-jar PATH.")
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    command = ["mvn", "-q", "dependency:copy", f"-Dartifact={coordinates}",
               f"-DoutputDirectory={target}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    jar = cached_jar(runner)
    if done.returncode != 0 or jar is None:
        reason = "not found in the Maven repositories this machine reaches" \
            if "Could not find artifact" in done.stdout + done.stderr else "download failed"
        raise ConfigError(
            f"the {runner} runner needs the Beam job server {coordinates}: {reason}",
            hint=f"Fetch it where Maven Central is reachable (`{' '.join(command)}`) and pass "
            f"--{runner}-job-server-jar PATH, or use `--runner direct`.")
    return jar


def job_server_jar(runner: str, given: str | None) -> Path:
    if not java_available():
        raise ConfigError(f"the {runner} runner needs Java 11 or newer (`java` is not on PATH)",
                          hint="Install a JDK (e.g. `apt-get install openjdk-17-jre-headless`).")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise ConfigError(f"no job-server jar at {path}",
                              hint=f"Check --{runner}-job-server-jar.")
        return path
    return cached_jar(runner) or fetch_jar(runner)
