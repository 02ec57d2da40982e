"""The projections of context payments: not generated yet."""
