"""Deterministic YAML text of a document dict: block style, insertion order, safe quoting."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """SafeDumper that never emits anchors: a shared dict is written out each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Multi-line docs read best as literal blocks; PyYAML itself falls back to a quoted
    # scalar when the text cannot be a literal block (trailing spaces, control characters).
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(document: dict[str, Any], header: str) -> bytes:
    """`# header` then the document; keys in the order the builder inserted them."""
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return (comment + body).encode()
