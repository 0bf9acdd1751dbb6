"""Opaque cursors for keyset pagination: the (created_at, id) of the last item of a page."""

from __future__ import annotations

import base64
from datetime import datetime

from dteg.server.errors import ApiError


def encode(created_at: datetime, run_id: str) -> str:
    raw = f"{created_at.isoformat()}|{run_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, run_id = raw.split("|", 1)
        at = datetime.fromisoformat(moment)
        if at.tzinfo is None or not run_id:
            raise ValueError("no zone or no id")
        return at, run_id
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "invalid_request", "the cursor is not one this API handed out",
                       hint="Pass the next_cursor of the previous page unchanged, or leave "
                       "it out for the first page.") from None
