"""dteg's version (one place; the package metadata and lineage read it)."""

__version__ = "0.1.0"
