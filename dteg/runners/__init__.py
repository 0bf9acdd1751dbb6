"""Runners: build Beam pipeline options and launch a compiled pipeline."""
