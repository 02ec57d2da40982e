"""The projections of context inventory: not generated yet."""
