"""The connector test kit, for authors of sources, sinks and stages (see
``dteg.components.testkit``)."""

from dteg.components.testkit import build, check_sink, check_source, check_stage, context

__all__ = ["build", "check_sink", "check_source", "check_stage", "context"]
