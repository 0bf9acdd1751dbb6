"""Registry tokens saved by ``dteg marketplace login`` and the user's marketplace settings, in
``$XDG_CONFIG_HOME/dteg/marketplace.json`` (``~/.config/…``), readable by the user only: one
entry per registry URL, and ``settings`` (e.g. ``usage_reports``)."""

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
    return _write(data)


def load_settings() -> dict[str, Any]:
    """The user's marketplace settings (``{}`` when none are saved)."""
    found = _load().get("settings")
    return found if isinstance(found, dict) else {}


def save_setting(key: str, value: Any) -> Path:
    """Save one marketplace setting."""
    data = _load()
    data["settings"] = {**load_settings(), key: value}
    return _write(data)


def _write(data: dict[str, Any]) -> Path:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(temporary, 0o600)  # O_CREAT keeps the mode of a leftover temporary file
    os.replace(temporary, path)
    return path
