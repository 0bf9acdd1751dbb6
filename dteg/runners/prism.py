"""Run on Prism, Beam's portable runner (a Go binary), started by Beam in this process.

Beam's PrismRunner downloads a release binary from GitHub when it has no
``--prism_location``; this machine cannot reach GitHub, and the download may hang or fall
back silently. So dteg always passes a local binary: ``--prism-location``, else
``DTEG_PRISM_LOCATION``, else the one ``scripts/tools/prism`` built for this Beam version."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dteg.components.plan import RunPlan
from dteg.errors import ConfigError
from dteg.run.report import RunReport
from dteg.runners.jobserver import beam_version
from dteg.runners.settings import RunnerSettings
from dteg.spec.models import PipelineSpec

BUILD_HINT = "build it once with `scripts/tools/prism` (Go >= 1.24; ~7 min on 2 cores, from " \
    "the Go module proxy), or pass --prism-location PATH / set DTEG_PRISM_LOCATION"


def cached_binary() -> Path:
    """Where ``scripts/tools/prism`` puts the binary for the installed Beam version."""
    base = Path(os.environ.get("DTEG_CACHE_DIR", Path.home() / ".cache" / "dteg"))
    version = beam_version().split(".dev")[0].split("rc")[0]
    return base / "tools" / f"prism-v{version}" / "prism"


def locate(given: str | None = None) -> Path:
    """The Prism binary to run: ``given``, else DTEG_PRISM_LOCATION, else the cached build;
    a ConfigError saying how to build it when none is there."""
    for source, value in (("--prism-location", given),
                          ("DTEG_PRISM_LOCATION", os.environ.get("DTEG_PRISM_LOCATION"))):
        if value:
            path = Path(value).expanduser()
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise ConfigError(f"{source} names {path}, which is not an executable file",
                                  hint=f"Point it at a Prism binary, or {BUILD_HINT}.")
            return path
    path = cached_binary()
    if path.is_file() and os.access(path, os.X_OK):
        return path
    raise ConfigError(f"the prism runner needs the Prism binary (Beam {beam_version()}), and "
                      f"none was found at {path}", hint=f"Run `scripts/tools/prism`: {BUILD_HINT}.")


def run(spec: PipelineSpec, plan: RunPlan, settings: RunnerSettings, *,
        debug: bool = False) -> RunReport:
    """``--runner prism``: Beam starts the local Prism binary as its job server, submits,
    and stops it when the run ends."""
    from apache_beam.runners.portability.prism_runner import PrismRunner

    from dteg.runners import portable

    options = {"prism_location": str(locate(settings.prism_location)),
               "prism_log_level": "debug" if debug else "error", **settings.environment()}
    return portable.submit(spec, plan, PrismRunner(), options, runner_name="prism",
                           debug=debug)


def start_job_server(binary: Path, log: Path) -> tuple[Any, str]:
    """A private Prism job server on a free 127.0.0.1 port for one long-running stream
    (Beam's PrismRunner would leave its Prism behind if this process is killed): it dies
    with this process (PR_SET_PDEATHSIG on Linux) and shuts itself down when idle. Returns
    (process, HOST:PORT) once the port accepts connections."""
    import socket
    import subprocess
    import time

    from dteg.errors import RunError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])

    def die_with_parent() -> None:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [str(binary), "--job_port", str(port), "--serve_http=false",
         "--idle_shutdown_timeout", "60s", "--log_level", "warn"],
        stdout=subprocess.DEVNULL, stderr=open(log, "ab"),  # noqa: SIM115 - the child's
        preexec_fn=die_with_parent if os.name == "posix" else None)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunError(f"Prism ({binary}) exited with code {proc.returncode} at start",
                           hint=f"See {log}.")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RunError(f"Prism ({binary}) did not accept connections on port {port} in 60 s",
                   hint=f"See {log}.")
