"""Failed logins slow down, then lock, per user and per address: after ``FREE_FAILURES``
failures within ``WINDOW`` each further attempt must wait 2^(n - FREE) seconds since the
last failure (up to 60 s); at ``LOCK_FAILURES`` the user (or the address) is locked until
the window has passed. A success clears the user's failures. Kept in the store, so every
server process sees the same counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, delete, func, insert, select

from dteg.auth.reading import reading
from dteg.auth.schema import login_failures

WINDOW = timedelta(minutes=15)
FREE_FAILURES = 3
LOCK_FAILURES = 10
MAX_DELAY_S = 60.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0
    reason: str = ""


class LoginThrottle:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _failures(self, column: str, value: str, since: datetime) -> tuple[int, datetime | None]:
        col = login_failures.c[column]
        with reading(self.engine) as connection:
            row = connection.execute(select(func.count(), func.max(login_failures.c.at))
                                     .where(col == value, login_failures.c.at >= since)).one()
        count, last = int(row[0] or 0), row[1]
        if isinstance(last, str):
            last = datetime.fromisoformat(last)
        if last is not None and last.tzinfo is None:  # SQLite's max() of UtcDateTime
            last = last.replace(tzinfo=timezone.utc)
        return count, last

    def check(self, username: str, address: str, now: datetime) -> Verdict:
        worst = Verdict(True)
        for column, value, what in (("username", username, f"user `{username}`"),
                                    ("address", address, f"address {address}")):
            count, last = self._failures(column, value, now - WINDOW)
            if count >= LOCK_FAILURES and last is not None:
                wait = (last + WINDOW - now).total_seconds()
                return Verdict(False, max(wait, 1.0), f"{what} is locked after {count} failed "
                               f"logins; try again in {int(wait // 60) + 1} min or ask an admin")
            if count >= FREE_FAILURES and last is not None:
                delay = min(2.0 ** (count - FREE_FAILURES + 1), MAX_DELAY_S)
                wait = (last + timedelta(seconds=delay) - now).total_seconds()
                if wait > worst.retry_after_s:
                    worst = Verdict(False, wait, f"too many failed logins for {what}; wait "
                                    f"{wait:.0f} s")
        return worst

    def failed(self, username: str, address: str, now: datetime) -> None:
        with self.engine.begin() as tx:
            tx.execute(insert(login_failures).values(username=username, address=address,
                                                     at=now))
            tx.execute(delete(login_failures).where(login_failures.c.at < now - WINDOW))

    def succeeded(self, username: str) -> None:
        with self.engine.begin() as tx:
            tx.execute(delete(login_failures).where(login_failures.c.username == username))

    def unlock(self, username: str | None = None, address: str | None = None) -> None:
        """Forget the failures of a user or an address (an admin's decision)."""
        with self.engine.begin() as tx:
            if username is not None:
                tx.execute(delete(login_failures).where(login_failures.c.username == username))
            if address is not None:
                tx.execute(delete(login_failures).where(login_failures.c.address == address))
