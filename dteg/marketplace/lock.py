"""``dteg.lock``: what ``dteg install`` put into this environment, from which registry, with
which sha256 and signing key, so ``update``, ``uninstall`` and ``components list`` know it.

JSON, sorted, written to a temporary file and renamed into place: an interrupted install never
leaves a half-written lock. ``DTEG_LOCK_FILE`` or ``--lock`` picks another path.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dteg.errors import ConfigError

LOCK_FORMAT = 1


@dataclass(frozen=True)
class LockedComponent:
    """One installed marketplace component."""

    name: str
    version: str
    package: str
    registry: str
    wheel: str
    sha256: str
    key_id: str
    tier: str = "community"
    kind: str = ""
    installed_at: str = ""
    pricing: str = "free"  # Pricing.label(): "premium 49.00 USD/month", …
    licence: str = ""  # the licence it was installed under (premium/enterprise)


def default_lock_path() -> Path:
    return Path(os.environ.get("DTEG_LOCK_FILE") or "dteg.lock")


def read_lock(path: Path) -> dict[str, LockedComponent]:
    """The components recorded in ``path`` (none when it does not exist)."""
    if not path.exists():
        return {}
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return {name: LockedComponent(**entry) for name, entry in data["components"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a dteg lock file ({type(exc).__name__}: {exc})",
                          hint="Restore it from version control, or delete it and run "
                               "`dteg install -f pipeline.yaml` again.") from None


def write_lock(path: Path, components: dict[str, LockedComponent]) -> None:
    """Replace ``path`` atomically with these components."""
    body = {"format": LOCK_FORMAT,
            "components": {n: asdict(c) for n, c in sorted(components.items())}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dteg.lock-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(body, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(tmp, path)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
