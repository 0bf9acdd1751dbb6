"""``RowStore``: the rows a sink's target holds, found and deleted in place — what retention
and data-subject requests (erasure, export) need. A sink declares it can with the
``row_store`` capability ("module:function" building one from (settings, base_dir, step));
the privacy jobs ask the capability, never the sink's name."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any


class RowStore(ABC):
    """One table's rows. Every method commits what it changed before it returns."""

    #: What the store is, for reports ("PostgreSQL table public.orders").
    description: str = "table"

    @abstractmethod
    def delete_older(self, column: str, cutoff: dt.datetime) -> int:
        """Delete rows whose ``column`` is before ``cutoff``; how many went."""

    @abstractmethod
    def find(self, column: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """The rows whose ``column`` is one of ``values`` (a subject's rows)."""

    @abstractmethod
    def delete_matching(self, column: str, values: Sequence[Any]) -> int:
        """Delete the rows whose ``column`` is one of ``values``; how many went."""

    @abstractmethod
    def columns(self) -> list[str]:
        """The table's columns (empty when it does not exist yet)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection."""
