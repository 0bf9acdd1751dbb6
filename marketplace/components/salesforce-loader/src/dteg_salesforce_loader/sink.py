"""salesforce-loader's writer: dteg's Salesforce writer (imported when a step builds it)."""

from __future__ import annotations

from typing import Any

from dteg_salesforce_loader.config import SinkConfig


def create(config: SinkConfig, ctx: Any) -> Any:
    """The Salesforce writer for ``config`` (the HTTP client is imported only when it runs)."""
    from dteg.connectors.salesforce.sink import create as salesforce_sink

    return salesforce_sink(config, ctx)
