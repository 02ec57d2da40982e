"""Resolve loaded spec documents into the frozen IR, reporting every problem found."""
