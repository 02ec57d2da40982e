"""The resolved spec: the IR as sorted JSON, for review and for tools that want the model."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from eventgen.ir.model import Expr, Project, TypeRef, thaw

PATH = "resolved-spec.json"


def to_data(value: Any) -> Any:
    """Plain JSON data for an IR value; positions are left out so moving lines changes nothing."""
    if isinstance(value, TypeRef):
        return str(value)
    if isinstance(value, Expr):
        return str(value) if value.root else {"literal": thaw(value.literal)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_data(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in ("loc", "config_locs")
        }
    if isinstance(value, tuple):
        return [to_data(v) for v in value]
    return thaw(value)


def dumps(data: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, two-space indent, UTF-8, trailing newline."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def emit(project: Project) -> dict[str, bytes]:
    data = to_data(project)
    data["spec_files"] = list(project.spec_files)
    return {PATH: dumps({"generated_by": "eventgen; do not edit", "project": data})}
