"""Run the registry: ``dteg marketplace serve`` (uvicorn on one host and port)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dteg.errors import ConfigError


@dataclass(frozen=True)
class ServeSettings:
    """Where the registry listens and keeps its data. ``artifacts``: a folder or ``s3://…``
    (S3 credentials and endpoint from the standard AWS variables, e.g. AWS_ENDPOINT_URL_S3)."""

    mongodb_url: str
    database: str = "dteg_marketplace"
    artifacts: str = "marketplace-artifacts"
    host: str = "127.0.0.1"
    port: int = 58080
    admin_token: str | None = None

    @classmethod
    def from_env(cls, **given: object) -> ServeSettings:
        """Flags given (non-None) > DTEG_MARKETPLACE_* / DTEG_MONGODB_URL > defaults."""
        env = {"mongodb_url": os.environ.get("DTEG_MONGODB_URL"),
               "database": os.environ.get("DTEG_MARKETPLACE_DATABASE"),
               "artifacts": os.environ.get("DTEG_MARKETPLACE_ARTIFACTS"),
               "admin_token": os.environ.get("DTEG_MARKETPLACE_ADMIN_TOKEN")}
        values: dict[str, object] = {k: v for k, v in env.items() if v}
        values.update({k: v for k, v in given.items() if v is not None})
        if not values.get("mongodb_url"):
            raise ConfigError("the registry needs a MongoDB URL for its metadata",
                              hint="Pass --mongodb-url or set DTEG_MONGODB_URL (e.g. from "
                                   "`scripts/services/ferretdb env`).")
        return cls(**values)  # type: ignore[arg-type]


def build(settings: ServeSettings):  # type: ignore[no-untyped-def]
    """The app for these settings (the database is checked before it serves)."""
    from dteg.connectors.object_store import ObjectStoreSettings
    from dteg.marketplace.server.app import create_app
    from dteg.marketplace.server.artifacts import artifact_store
    from dteg.marketplace.server.storage import MetadataStore

    store = MetadataStore(settings.mongodb_url, settings.database)
    store.ping()
    # An S3-compatible endpoint (path-style addressing) when one is set; else AWS.
    s3 = ObjectStoreSettings(endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3"),
                             region=os.environ.get("AWS_DEFAULT_REGION"))
    from dteg.marketplace.server.payments import provider_from_env

    return create_app(store, artifact_store(settings.artifacts, s3),
                      admin_token=settings.admin_token, payments=provider_from_env())


def serve(settings: ServeSettings) -> None:
    """Serve until stopped (SIGINT/SIGTERM)."""
    import uvicorn

    uvicorn.run(build(settings), host=settings.host, port=settings.port, log_level="warning")
