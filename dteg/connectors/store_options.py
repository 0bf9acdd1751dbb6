"""The picklable object-store settings one step passes to every object operation (s3:// and
gs://). Its own module so that ``object_store`` and ``gcs_store`` both use it without
importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field

from dteg.connectors.retry import RetrySettings


@dataclass(frozen=True)
class StoreOptions:
    """Picklable connection settings; secrets stay out of ``repr``."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    gcs_api_endpoint: str | None = None
    gcs_project: str | None = None
    gcs_credentials_file: str | None = None
    gcs_anonymous: bool = False
    retry: RetrySettings = field(default_factory=RetrySettings, compare=False, hash=False)
    step: str | None = field(default=None, compare=False, hash=False)
