"""An S3-compatible server for tests: moto's server mode (a real HTTP server, talked to with
boto3), plus what moto lacks for restart tests: its S3 state is saved to a file when the
server is stopped (SIGTERM/SIGINT) and loaded again on start, so a stopped and restarted
server still holds its buckets and objects, as a real object store would.

    python scripts/services/s3_server.py --host 127.0.0.1 --port 59000 --state DIR

``--delay-ms N`` (or ``DTEG_S3_DELAY_MS``) answers every request N ms late: a slow store, so a
test can stop the server while a run is still talking to it.

Started and stopped by ``scripts/services/s3``; not imported by dteg.
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def load_state(path: Path) -> None:
    from moto.s3.models import s3_backends

    if not path.exists():
        return
    with path.open("rb") as fh:
        saved = pickle.load(fh)
    for account, regions in saved.items():
        s3_backends[account] = regions


def save_state(path: Path) -> None:
    from moto.s3.models import s3_backends

    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(dict(s3_backends), fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=59000)
    parser.add_argument("--state", type=Path, required=True, help="folder for s3.pickle")
    parser.add_argument("--delay-ms", type=int,
                        default=int(os.environ.get("DTEG_S3_DELAY_MS", "0") or 0))
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    args.state.mkdir(parents=True, exist_ok=True)
    state_file = args.state / "s3.pickle"
    load_state(state_file)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    moto_app = DomainDispatcherApplication(create_backend_app)
    delay = args.delay_ms / 1000
    # Requests run on threads; a write that finished after the state was saved would be
    # acknowledged and then lost at the next start. So every request's work and the save
    # take one lock, and once the server is stopping, requests get 503 (clients retry).
    busy = threading.Lock()
    stopping = threading.Event()

    def app(environ: Any, start_response: Any) -> Any:
        if delay and not environ.get("PATH_INFO", "").startswith("/moto-api"):
            time.sleep(delay)
        with busy:
            if stopping.is_set():
                start_response("503 Service Unavailable",
                               [("Content-Type", "text/plain"), ("Retry-After", "1")])
                return [b"the server is stopping"]
            return list(moto_app(environ, start_response))

    print(f"s3 server on http://{args.host}:{args.port} (state {state_file})", flush=True)
    try:
        run_simple(args.host, args.port, app, threaded=True,
                   request_handler=MotoRequestHandler)
    finally:
        stopping.set()
        with busy:
            save_state(state_file)
        print("state saved", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
