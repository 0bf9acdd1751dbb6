"""``dteg server``: the orchestrator's loop on a thread, the API and the UI on uvicorn in the
main thread, one port for all of it (``/``, ``/api/v1``, ``/metrics``, ``/healthz``)."""

from __future__ import annotations

import ipaddress
import signal
import socket
import threading
from collections.abc import Callable

from dteg.auth.service import AuthService
from dteg.auth.settings import AuthSettings
from dteg.errors import ConfigError
from dteg.orchestrator.runtime import build
from dteg.orchestrator.settings import OrchestratorSettings
from dteg.server.app import create_app
from dteg.server.context import ServerContext
from dteg.server.ui import is_built, ui_folder


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts (a taken port is a clear error,
    and port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, so asyncio sets TCP_NODELAY on each accepted connection: with proto 0 it
    # does not, and Nagle held every answer's body ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}",
                          hint="Another process has the port: stop it, or pass --port with "
                          "a free one (0 picks any).") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_exposure(host: str, auth: AuthSettings) -> None:
    """Refuse to serve without authentication anywhere but on this machine."""
    if not auth.enabled and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} with authentication switched off: anyone who "
            "reaches it could read every run and start any pipeline",
            hint="Keep authentication on (drop --no-auth / DTEG_AUTH=off), or listen on "
            "127.0.0.1.")


def serve(settings: OrchestratorSettings, log: Callable[[str], None],
          auth_enabled: bool | None = None) -> None:
    import uvicorn

    auth_settings = AuthSettings.from_env(enabled=auth_enabled)
    check_exposure(settings.host, auth_settings)
    sock = bind(settings.host, settings.port)
    orchestrator, _ = build(settings, log=log, serve_http=False)
    auth = None
    if auth_settings.enabled:
        auth = AuthService(orchestrator.store.engine, auth_settings)
        auth.bootstrap(log)
    orchestrator.reload(orchestrator.clock())
    metrics = orchestrator.metrics
    ui = ui_folder()
    context = ServerContext(store=orchestrator.store, catalog=orchestrator.catalog,
                            scheduler_healthy=orchestrator.healthy,
                            metrics_render=metrics.render if metrics else None, ui_dir=ui,
                            auth=auth)
    app = create_app(context)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}"
    count = len(orchestrator.catalog.revisions)
    log(f"dteg server: {count} pipeline(s) from {settings.pipelines_dir}; store "
        f"{orchestrator.store.url}; executor {settings.executor}"
        + (f" ({settings.workers} workers)" if settings.executor == "embedded" else ""))
    log(f"web UI {url}/ · API {url}/api/v1 (docs {url}/api/v1/docs) · metrics {url}/metrics"
        if is_built(ui) else
        f"API {url}/api/v1 (docs {url}/api/v1/docs) · metrics {url}/metrics — the web UI "
        "is not built: run `make ui` (needs Node.js 20+ and npm), then reload")
    if auth is None:
        log("authentication is off (loopback only): every request may do everything")
    loop = threading.Thread(target=orchestrator.serve, name="dteg-scheduler", daemon=True)
    loop.start()
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5, lifespan="off")
    server = uvicorn.Server(config)

    def stop(_signum: int, _frame: object) -> None:
        server.should_exit = True

    # uvicorn restores the handlers it found and raises the signal again once it has shut
    # down: with these, that second delivery is harmless and the runs in progress finish.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run(sockets=[sock])  # returns on SIGINT/SIGTERM
    finally:
        log("stopping: runs in progress finish first")
        orchestrator.stopping.set()
        loop.join()
        sock.close()
