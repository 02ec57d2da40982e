"""Compile `.proto` text with the protoc bundled in grpcio-tools into indexed descriptors."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventgen.compat.result import SchemaParseError

# No type stubs ship with protobuf: descriptors are dynamic messages here.
descriptor_pb2: Any = importlib.import_module("google.protobuf.descriptor_pb2")

# Field numbers inside descriptor.proto, used to build source-location paths.
FILE_PACKAGE, FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 2, 4, 5, 6
FILE_EXTENSION = 7
MSG_FIELD, MSG_NESTED, MSG_ENUM, MSG_EXTENSION, MSG_ONEOF = 2, 3, 4, 6, 8
ENUM_VALUE, SERVICE_METHOD = 2, 2
FIELD_NAME, FIELD_LABEL, FIELD_TYPE, FIELD_TYPE_NAME = 1, 4, 5, 6
FIELD_DEFAULT, FIELD_JSON_NAME = 7, 10
VALUE_NUMBER = 2
METHOD_INPUT, METHOD_OUTPUT, METHOD_OPTIONS = 2, 3, 4

Span = tuple[int, int, int, int]
"""1-based (start line, start column, end line, end column), the way buf reports them."""


@dataclass(frozen=True)
class Located:
    """A descriptor with the file it lives in and its source-code-info path."""

    proto: Any
    file: str
    path: tuple[int, ...]
    full_name: str
    parent: Located | None = None


@dataclass
class Schema:
    """Every message, enum and service of the input files, by full name."""

    files: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, Located] = field(default_factory=dict)
    enums: dict[str, Located] = field(default_factory=dict)
    services: dict[str, Located] = field(default_factory=dict)
    # Extensions by (extendee full name, number): the field and the scope declaring it.
    extensions: dict[tuple[str, int], tuple[Any, tuple[int, ...], Located]] = field(
        default_factory=dict
    )
    spans: dict[tuple[str, tuple[int, ...]], Span] = field(default_factory=dict)
    # Source lines per file, for spans protoc draws narrower than buf (option values).
    sources: dict[str, list[str]] = field(default_factory=dict)

    def span(self, file: str, *paths: tuple[int, ...]) -> Span | None:
        """The first of `paths` that has a source location (buf's backup locations)."""
        for path in paths:
            found = self.spans.get((file, path))
            if found is not None:
                return found
        return None


def _protoc_include() -> str:
    grpc_tools = importlib.import_module("grpc_tools")
    return os.path.join(os.path.dirname(str(grpc_tools.__file__)), "_proto")


@contextlib.contextmanager
def _captured_stderr() -> Iterator[io.StringIO]:
    """protoc writes its errors to fd 2: capture them for the SchemaParseError."""
    buffer = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield buffer
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            buffer.write(tmp.read().decode("utf-8", "replace"))


def compile_files(sources: Mapping[str, str]) -> Any:
    """Run protoc on `sources` (path -> text) and return their descriptors with source info."""
    protoc: Any = importlib.import_module("grpc_tools.protoc")

    with tempfile.TemporaryDirectory(prefix="eventgen-proto-") as tmp:
        root = Path(tmp, "src")
        for rel, text in sources.items():
            target = root / rel
            if not target.resolve().is_relative_to(root.resolve()):
                raise SchemaParseError(f"proto path escapes its root: {rel!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        out = Path(tmp, "set.pb")
        args = [
            "protoc",
            f"-I{root}",
            f"-I{_protoc_include()}",
            f"--descriptor_set_out={out}",
            "--include_source_info",
            *sorted(sources),
        ]
        with _captured_stderr() as err:
            code: int = protoc.main(args)
        if code != 0 or not out.exists():
            message = err.getvalue().replace(str(root) + os.sep, "").strip()
            raise SchemaParseError(f"protoc: {message or f'exit code {code}'}")
        result = descriptor_pb2.FileDescriptorSet()
        result.ParseFromString(out.read_bytes())
        return result


def _add_extensions(schema: Schema, protos: Any, base: tuple[int, ...], scope: Located) -> None:
    for i, ext in enumerate(protos):
        schema.extensions[(ext.extendee.lstrip("."), ext.number)] = (ext, base + (i,), scope)


def _walk_messages(
    schema: Schema,
    file: str,
    scope: str,
    protos: Any,
    base: tuple[int, ...],
    parent: Located | None,
) -> None:
    for i, msg in enumerate(protos):
        path = base + (i,)
        name = f"{scope}.{msg.name}" if scope else msg.name
        loc = Located(msg, file, path, name, parent)
        schema.messages[name] = loc
        _walk_messages(schema, file, name, msg.nested_type, path + (MSG_NESTED,), loc)
        _add_extensions(schema, msg.extension, path + (MSG_EXTENSION,), loc)
        for j, enum in enumerate(msg.enum_type):
            ename = f"{name}.{enum.name}"
            schema.enums[ename] = Located(enum, file, path + (MSG_ENUM, j), ename, loc)


def index(fds: descriptor_pb2.FileDescriptorSet, only: set[str]) -> Schema:
    """Index the files named in `only` (imports like well-known types stay out of the check)."""
    schema = Schema()
    for f in fds.file:
        if f.name not in only:
            continue
        schema.files[f.name] = f
        for loc in f.source_code_info.location:
            span = list(loc.span)
            if len(span) == 3:
                span = [span[0], span[1], span[0], span[2]]
            key = (f.name, tuple(loc.path))
            # The first location of a path is the whole element; later ones are comments.
            schema.spans.setdefault(key, (span[0] + 1, span[1] + 1, span[2] + 1, span[3] + 1))
        pkg = f.package
        _walk_messages(schema, f.name, pkg, f.message_type, (FILE_MESSAGE,), None)
        for j, enum in enumerate(f.enum_type):
            ename = f"{pkg}.{enum.name}" if pkg else enum.name
            schema.enums[ename] = Located(enum, f.name, (FILE_ENUM, j), ename)
        file_scope = Located(f, f.name, (), pkg)
        _add_extensions(schema, f.extension, (FILE_EXTENSION,), file_scope)
        for j, svc in enumerate(f.service):
            sname = f"{pkg}.{svc.name}" if pkg else svc.name
            schema.services[sname] = Located(svc, f.name, (FILE_SERVICE, j), sname)
    return schema


DEFAULT_FILE = "schema.proto"


def parse_proto(source: str | Mapping[str, str]) -> Schema:
    """Parse one `.proto` text (named schema.proto) or a mapping of path -> text."""
    if isinstance(source, str):
        sources: dict[str, str] = {DEFAULT_FILE: source}
    elif isinstance(source, Mapping):
        sources = {str(k): str(v) for k, v in source.items()}
    else:
        raise SchemaParseError("a protobuf schema is .proto text or a mapping of path -> text")
    if not sources:
        raise SchemaParseError("no .proto files given")
    schema = index(compile_files(sources), set(sources))
    schema.sources = {path: text.splitlines() for path, text in sources.items()}
    return schema
