"""The performance test's Salesforce: the org at $DTEG_SALESFORCE_LOGIN_URL with the connected
app of $DTEG_SALESFORCE_CLIENT_ID / $DTEG_SALESFORCE_CLIENT_SECRET (``eval "$(scripts/services/
salesforce env)"`` points them at dteg's local Bulk API 2.0 stand-in)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

NAMES = ("DTEG_SALESFORCE_LOGIN_URL", "DTEG_SALESFORCE_CLIENT_ID",
         "DTEG_SALESFORCE_CLIENT_SECRET")


def login(batches: list[Any], work: Path) -> dict[str, str]:
    """``login_url``, ``client_id`` and ``client_secret`` for the manifest's config."""
    missing = [n for n in NAMES if not os.environ.get(n)]
    if missing:
        raise RuntimeError(f"set {', '.join(missing)} (scripts/services/salesforce start; "
                           "eval \"$(scripts/services/salesforce env)\")")
    url, client_id, secret = (os.environ[n] for n in NAMES)
    return {"login_url": url.rstrip("/"), "client_id": client_id, "client_secret": secret}
