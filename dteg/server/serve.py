"""``dteg server``: the orchestrator's loop on a thread, the API and the UI on uvicorn in the
main thread, one port for all of it (``/``, ``/api/v1``, ``/metrics``, ``/healthz``)."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable

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
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


def serve(settings: OrchestratorSettings, log: Callable[[str], None]) -> None:
    import uvicorn

    sock = bind(settings.host, settings.port)
    orchestrator, _ = build(settings, log=log, serve_http=False)
    orchestrator.reload(orchestrator.clock())
    metrics = orchestrator.metrics
    ui = ui_folder()
    context = ServerContext(store=orchestrator.store, catalog=orchestrator.catalog,
                            scheduler_healthy=orchestrator.healthy,
                            metrics_render=metrics.render if metrics else None, ui_dir=ui)
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
    if not is_loopback(str(host)):
        log(f"warning: listening on {host}, not only this machine: anyone who reaches it can "
            "read runs and start them")
    loop = threading.Thread(target=orchestrator.serve, name="dteg-scheduler", daemon=True)
    loop.start()
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])  # returns on SIGINT/SIGTERM
    finally:
        log("stopping: runs in progress finish first")
        orchestrator.stopping.set()
        loop.join()
        sock.close()
