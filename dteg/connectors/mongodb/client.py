"""pymongo plumbing shared by the MongoDB source and sink: importing the driver with a helpful
message, connecting with bounded timeouts, and turning the driver's exceptions into one clear
``ConnectorError`` (the password never appears: only hosts and the user name are named)."""

from __future__ import annotations

from typing import Any

from dteg.connectors.mongodb.config import MongoConnection
from dteg.errors import ConfigError, ConnectorError
from dteg.spec.secrets import redact_url_passwords

# Server error codes (src/mongo/base/error_codes.yml) the messages treat specially.
AUTH_FAILED = (18, 13)  # AuthenticationFailed, Unauthorized
DUPLICATE_KEY = 11000
VALIDATION_FAILED = 121  # DocumentValidationFailure


def pymongo() -> Any:
    """The ``pymongo`` module, or a message that says what to install."""
    try:
        import pymongo as driver
    except ModuleNotFoundError:
        raise ConfigError("the MongoDB connector needs the pymongo package",
                          hint="Install it with `pip install 'dteg[mongodb]'`.") from None
    return driver


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # pymongo appends the topology description (", Timeout: 10s, Topology Description: …").
    text = text.split(", Timeout:", 1)[0].split("\n", 1)[0]
    text = text.split(" (configured timeouts:", 1)[0]
    return redact_url_passwords(text)


def connect(config: MongoConnection, step: str | None) -> Any:
    """A ``MongoClient`` that has answered a ping, or one clear ``ConnectorError``."""
    driver = pymongo()
    timeout_ms = config.connect_timeout * 1000
    try:
        client = driver.MongoClient(
            config.url.get_secret_value(), appname="dteg", tz_aware=True,
            serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    except driver.errors.ConfigurationError as exc:
        raise ConfigError(f"the MongoDB `url:` is not valid: {first_line(exc)}", step=step,
                          hint="Write it as mongodb://user:password@host:27017/database.") \
            from None
    try:
        client.admin.command("ping")
        # A ping needs no login on every server: ask the database itself, which does.
        client[config.database_name()].list_collection_names(filter={"name": "_dteg_probe"})
    except Exception as exc:
        client.close()
        raise error(exc, config, "connecting", step) from None
    return client


def error(exc: BaseException, config: MongoConnection, doing: str,
          step: str | None) -> ConnectorError:
    """The driver's exception as a ``ConnectorError`` that says what to do."""
    driver = pymongo()
    errors = driver.errors
    endpoint = config.endpoint()
    where = endpoint.hosts
    reason = first_line(exc)
    code = getattr(exc, "code", None)
    if (isinstance(exc, errors.OperationFailure) and code in AUTH_FAILED) or (
            "authentication failed" in reason.lower()):
        who = f"user `{endpoint.user}`" if endpoint.user else "a client without credentials"
        return ConnectorError(
            f"MongoDB at {where} refused {who} while {doing}: {reason}", step=step,
            hint="Check the user and password in `url:` (mongodb://user:password@host/db), "
            "the authSource, and that the user may use database "
            f"`{endpoint.database}`.")
    if isinstance(exc, errors.ServerSelectionTimeoutError):
        return ConnectorError(
            f"cannot reach MongoDB at {where} while {doing} (no answer within "
            f"{config.connect_timeout}s): {reason}", step=step, retriable=True,
            hint="Check the host and port in `url:`, and that the server is running (for "
            "local runs: `scripts/services/ferretdb start`).")
    if isinstance(exc, errors.ConnectionFailure):  # AutoReconnect, NetworkTimeout, …
        return ConnectorError(
            f"lost the connection to MongoDB at {where} while {doing}: {reason}", step=step,
            retriable=True, hint="Run again once the server is back.")
    return ConnectorError(f"MongoDB at {where} failed while {doing}: {reason}", step=step)
