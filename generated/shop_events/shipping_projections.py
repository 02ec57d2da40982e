"""The projections of context shipping: not generated yet."""
