"""Connectors: one folder each, with ``config.py`` (pydantic, no heavy imports),
``source.py`` and/or ``sink.py`` (the runtime reader/writer, built by ``create``)."""
