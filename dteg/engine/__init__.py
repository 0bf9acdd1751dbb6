"""The compiler: YAML → spec (pure phases) → Beam graph."""
