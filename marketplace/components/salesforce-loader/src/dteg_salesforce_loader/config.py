"""salesforce-loader's config: dteg's Salesforce sink settings (api_version, object_name,
operation, fields, external_id_field, auth …), unchanged, so docs and errors match the
built-in."""

from dteg.connectors.salesforce.config import SinkConfig

__all__ = ["SinkConfig"]
