"""Row stages over Arrow batches (validate, mask, filter, map, …): pure pyarrow, no Beam.
Each module holds the stage's config model and a ``create(config, ctx)`` factory."""
