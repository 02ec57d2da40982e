"""The projections of context orders: not generated yet."""
