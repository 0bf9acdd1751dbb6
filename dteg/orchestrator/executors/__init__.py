"""Where dispatched runs go: ``embedded`` (worker processes of the server) or ``celery``
(``dteg worker`` processes on a Redis broker). Both take a ``RunTask`` and have a worker call
``dteg.orchestrator.worker.execute_task``; the store decides who runs what."""

from __future__ import annotations

from typing import Protocol

from dteg.orchestrator.task import RunTask


class Executor(Protocol):
    #: Seconds a dispatched task may wait before a worker claims it; after that the
    #: dispatcher takes it back (the worker that received it died) and dispatches it again.
    claim_timeout_s: float

    def free_slots(self) -> int:
        """How many more tasks it takes now."""

    def submit(self, task: RunTask) -> None:
        """Hand the task to a worker (returns at once)."""

    def close(self) -> None:
        """Stop; tasks not yet claimed are taken back by the next dispatcher."""
