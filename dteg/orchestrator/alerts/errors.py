"""The error of an alert that was not delivered."""

from __future__ import annotations

from dteg.errors import DtegError


class AlertDeliveryError(DtegError):
    """A receiver did not take an alert. ``retriable``: trying again later may help (it was
    unreachable, busy or rate-limiting), as opposed to a refusal of the message or login."""

    def __init__(self, message: str, *, hint: str | None = None, retriable: bool = False
                 ) -> None:
        self.retriable = retriable
        super().__init__(message, hint=hint)
