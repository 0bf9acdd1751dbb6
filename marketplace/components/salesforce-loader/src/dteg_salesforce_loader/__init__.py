"""salesforce-loader: Salesforce objects as a dteg sink (the seed's ``dteg://enterprise/
salesforce``).

It packages dteg's own Salesforce loader (``dteg.connectors.salesforce``: Bulk API 2.0 ingest
jobs for insert, upsert by an external id, update and delete; the object described before any
record is sent; ``fields:`` mapping; refused records back as dead letters with Salesforce's
error) as a marketplace component with the same capabilities, so ``type:
dteg://salesforce-loader`` gets exactly what the built-in gets.
"""

from dteg.components.capabilities import Capabilities
from dteg.components.registry import ComponentInfo

COMPONENT = ComponentInfo(
    name="salesforce-loader",
    kind="sink",
    config="dteg_salesforce_loader.config:SinkConfig",
    factory="dteg_salesforce_loader.sink:create",
    summary="Load Salesforce objects with Bulk API 2.0 (salesforce-loader 2.1.0, marketplace)",
    capabilities=Capabilities(write_modes=("append", "merge"), resample=False),
)
