"""Emitters: pure functions from the frozen IR to file contents (no I/O here)."""
