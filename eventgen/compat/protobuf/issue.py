"""One breaking change found between two protobuf schemas."""

from __future__ import annotations

from dataclasses import dataclass

from eventgen.compat.protobuf.parse import Span

BUF_VERSION = "bufbuild/buf c9a5b2656599d7311a77d45880c250273b02de6d (2026-08-21)"
"""The buf commit whose breaking rules (V2 spec, WIRE_JSON category) these checks follow."""


@dataclass(frozen=True)
class ProtoIssue:
    """A breaking change: buf's rule id, the file and span in the NEW schema, and why."""

    code: str
    file: str
    span: Span | None
    message: str
    element: str

    @property
    def where(self) -> str:
        """`file:line:col` like buf prints it, or just the file without a location."""
        if self.span is None:
            return self.file
        return f"{self.file}:{self.span[0]}:{self.span[1]}"
