"""Connections to the source database through psycopg2 (the Python driver that speaks the
replication protocol; psycopg 3 does not): a plain one for set-up and the snapshot, and a
``LogicalReplicationConnection`` that streams pgoutput. Errors become one ConnectorError."""

from __future__ import annotations

from typing import Any

from dteg.connectors.sql.config import Endpoint
from dteg.errors import ConfigError, ConnectorError
from dteg.spec.secrets import redact_url_passwords

_UNREACHABLE = ("connection refused", "could not translate host name", "timeout expired",
                "no route to host", "network is unreachable", "server closed the connection",
                "terminating connection", "connection to server", "could not receive data",
                "ssl syscall error", "eof detected", "connection already closed",
                "the database system is shutting down", "the database system is starting up")
_AUTH = ("password authentication failed", "no pg_hba.conf entry", "authentication failed",
         "no password supplied")


def psycopg2() -> Any:
    try:
        import psycopg2.extras
    except ModuleNotFoundError:
        raise ConfigError("PostgreSQL change data capture needs psycopg2, which is not "
                          "installed", hint="Install it with `pip install 'dteg[postgres]'`.") \
            from None
    import psycopg2 as module

    return module


def _dsn(endpoint: Endpoint, timeout: int) -> dict[str, Any]:
    from urllib.parse import parse_qsl

    given = dict(parse_qsl(endpoint.options))  # the URL's sslmode=…, options=-csearch_path…
    # Text values of timestamptz come in UTC, dates in ISO (the decoder relies on it).
    options = " ".join(o for o in (given.pop("options", ""), "-c TimeZone=UTC -c DateStyle=ISO")
                       if o)
    return {**given, "host": endpoint.host, "port": endpoint.port, "user": endpoint.user,
            "password": endpoint.password, "dbname": endpoint.database,
            "connect_timeout": given.get("connect_timeout", timeout),
            "application_name": "dteg-cdc", "options": options}


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    for prefix in ("ERROR:", "FATAL:"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return redact_url_passwords(text.strip().splitlines()[0].strip())


def is_unreachable(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(s in text for s in _UNREACHABLE) or type(exc).__name__ in (
        "InterfaceError",) or ("closed" in text and "connection" in text)


def error(exc: BaseException, endpoint: Endpoint, step: str, doing: str) -> ConnectorError:
    """One clear error for a failure of the source database while ``doing``."""
    where = f"{endpoint.host}:{endpoint.port}"
    text = str(exc).lower()
    reason = first_line(exc)
    if any(s in text for s in _AUTH):
        return ConnectorError(
            f"PostgreSQL at {where} refused the login of user `{endpoint.user}`: {reason}",
            step=step, hint="Check `user:` and `password:` (or the URL's user:password part).")
    if "replication role" in text or "must be superuser or replication" in text or \
            "permission to use replication slots" in text:
        return ConnectorError(
            f"user `{endpoint.user}` may not use logical replication on {where} ({doing}): "
            f"{reason}", step=step,
            hint=f"Grant it: ALTER ROLE {endpoint.user} REPLICATION; (and allow it in "
            "pg_hba.conf for `replication` connections if those are restricted).")
    if "permission denied" in text or "must be owner" in text:
        return ConnectorError(
            f"user `{endpoint.user}` lacks a privilege on {where} while {doing}: {reason}",
            step=step, hint="The CDC user needs SELECT on the tables and, to create the "
            "publication, ownership of them (or create the publication as its owner and name "
            "it in `publication:`).")
    if "wal_level" in text:
        return ConnectorError(
            f"PostgreSQL at {where} cannot decode changes: {reason}", step=step,
            hint="Set wal_level = logical in postgresql.conf and restart the server.")
    if is_unreachable(exc):
        return ConnectorError(
            f"lost or cannot reach PostgreSQL at {where} while {doing}: {reason}", step=step,
            retriable=True, hint="Check that the server runs and accepts connections; "
            "`dteg stream` retries by itself and reads on from the last committed LSN.")
    return ConnectorError(f"PostgreSQL at {where} failed while {doing}: {reason}", step=step)


def connect(endpoint: Endpoint, step: str, timeout: int, *, replication: bool = False) -> Any:
    """A psycopg2 connection (autocommit), logical replication if asked, or a ConnectorError."""
    pg = psycopg2()
    kwargs = _dsn(endpoint, timeout)
    try:
        if replication:
            con = pg.connect(connection_factory=pg.extras.LogicalReplicationConnection, **kwargs)
        else:
            con = pg.connect(**kwargs)
            con.autocommit = True
    except Exception as exc:
        raise error(exc, endpoint, step, "connecting" + (" for replication" if replication
                                                         else "")) from None
    return con
