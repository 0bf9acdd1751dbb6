"""The built web UI (``web/`` → ``scripts/build_ui`` → ``dteg/server/ui/``), served at ``/``.
Without it the server still serves the API and says at ``/`` how to build the UI."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from dteg.server.access import requires

PACKAGED_UI = Path(__file__).with_name("ui")

NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8"><title>dteg</title></head>
<body style="font-family: system-ui; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>dteg server</h1>
<p>The API is up at <a href="/api/v1/pipelines">/api/v1</a>
(<a href="/api/v1/docs">interactive docs</a>), but the web UI is not built.</p>
<p>Build it with <code>make ui</code> (or <code>scripts/build_ui</code>; needs Node.js 20+ and
npm), then reload this page. A <code>pip install dteg</code> wheel includes it.</p>
</body></html>"""


def ui_folder() -> Path:
    return Path(os.environ.get("DTEG_UI_DIR") or PACKAGED_UI)


def is_built(folder: Path | None) -> bool:
    return folder is not None and (folder / "index.html").is_file()


def mount_ui(app: FastAPI, folder: Path | None) -> None:
    """Mount last: every path the API does not answer is a UI file."""
    if folder is not None and is_built(folder):
        app.mount("/", StaticFiles(directory=folder, html=True), name="ui")
        return

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def not_built(_: str = requires("ui.read", public=True)) -> HTMLResponse:
        return HTMLResponse(NOT_BUILT)
