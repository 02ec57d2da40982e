"""The resolved spec: the IR as sorted JSON, for review and for tools that want the model."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from eventgen.canonical import dumps
from eventgen.ir.model import Expr, Project, TypeRef, thaw

PATH = "resolved-spec.json"


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("loc", "config_locs"))


def to_data(value: Any) -> Any:
    """Plain JSON data for an IR value; positions are left out so moving lines changes nothing."""
    if isinstance(value, tuple):
        return [to_data(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, TypeRef):
        return str(value)
    if isinstance(value, Expr):
        return str(value) if value.root else {"literal": thaw(value.literal)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_data(getattr(value, name)) for name in _field_names(type(value))}
    return thaw(value)


def emit(project: Project) -> dict[str, bytes]:
    data = to_data(project)
    data["spec_files"] = list(project.spec_files)
    return {PATH: dumps({"generated_by": "eventgen; do not edit", "project": data})}
