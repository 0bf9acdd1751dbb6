"""Registry tokens saved by ``dteg marketplace login``: one entry per registry URL in
``$XDG_CONFIG_HOME/dteg/marketplace.json`` (``~/.config/…``), readable by the user only."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def credentials_path() -> Path:
    """Where registry tokens are kept."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dteg" / "marketplace.json"


def _load() -> dict[str, Any]:
    try:
        data = json.loads(credentials_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def saved_token(registry: str) -> str | None:
    """The token saved for ``registry`` (a URL without a trailing slash), if any."""
    entry = _load().get(registry)
    token = entry.get("token") if isinstance(entry, dict) else None
    return str(token) if token else None


def save_token(registry: str, token: str | None, user: str | None = None) -> Path:
    """Keep (or, with None, forget) the token of ``registry``; the file is created 0600 and
    replaced atomically, so it is never readable by others, not even for a moment."""
    data = _load()
    if token is None:
        data.pop(registry, None)
    else:
        data[registry] = {"token": token, "user": user}
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(temporary, 0o600)  # O_CREAT keeps the mode of a leftover temporary file
    os.replace(temporary, path)
    return path
