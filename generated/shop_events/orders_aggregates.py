"""The aggregates of context orders: not generated yet."""
