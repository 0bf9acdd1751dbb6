"""Data quality beyond row rules: PII detection, profiling and the run's quality report."""
