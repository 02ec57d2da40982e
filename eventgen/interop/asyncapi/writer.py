"""Imported spec trees as deterministic YAML files (same input, same bytes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from eventgen.diagnostics import Diagnostic, Loc, error
from eventgen.interop.asyncapi import codes
from eventgen.interop.asyncapi.mapping import Context, Imported
from eventgen.spec.yamlload import plain_scalar


class _Dumper(yaml.SafeDumper):
    """Block style, insertion order; strings that YAML 1.1 would read as booleans quoted."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    if style is None and plain_scalar(value) != value:
        # PyYAML resolves by YAML 1.1, the spec loader by 1.2 core: `0123` is a string to
        # the one and an int to the other, so such text is quoted.
        style = "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(tree: dict[str, Any], source: str) -> str:
    header = f"# Imported from {source} by `eventgen import asyncapi`.\n"
    body = yaml.dump(tree, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def context_tree(ctx: Context) -> dict[str, Any]:
    tree: dict[str, Any] = {"eventgen": 1, "context": ctx.name}
    if ctx.doc:
        tree["doc"] = ctx.doc
    for key, section in (
        ("types", ctx.table.types),
        ("topics", ctx.topics),
        ("events", ctx.events),
        ("commands", ctx.commands),
        ("queries", ctx.queries),
        ("projections", ctx.projections),
        ("consumers", ctx.consumers),
        ("outbox", ctx.outbox),
    ):
        if section:
            tree[key] = section
    return tree


def planned_files(result: Imported, out: Path, source: str) -> dict[Path, str]:
    """Every file the import writes: the project file only when `out` has none yet."""
    files: dict[Path, str] = {}
    if not (out / "eventgen.yaml").exists():
        files[out / "eventgen.yaml"] = dump(result.project, source)
    for name in sorted(result.contexts):
        ctx = result.contexts[name]
        if any((ctx.topics, ctx.events, ctx.commands, ctx.queries, ctx.consumers, ctx.table.types)):
            files[out / f"{name}.yaml"] = dump(context_tree(ctx), source)
    return files


def write(files: dict[Path, str], force: bool) -> list[Diagnostic]:
    existing = [p for p in files if p.exists()]
    if existing and not force:
        return [
            error(codes.EXISTS, Loc(str(p)), f"{p} exists", "pass --force to overwrite it")
            for p in existing
        ]
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return []
