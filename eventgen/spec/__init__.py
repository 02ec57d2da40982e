"""Spec files: YAML loading with positions, the published JSON Schema, environment merge."""
