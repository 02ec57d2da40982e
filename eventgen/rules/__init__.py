"""Semantic rules: a registry of codes with purposes, and checks over the IR."""
