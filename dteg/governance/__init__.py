"""Governance: dataset identities, OpenLineage events, schema-drift detection."""
