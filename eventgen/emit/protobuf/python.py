"""The descriptor modules of the runtime protobuf codec: `<package>/_proto/<ctx>.py` (issue 12).

One module per context, written only under `serialization: protobuf`. It holds data, no code:
the serialized FileDescriptorProto of the context's `.proto` (`DESCRIPTOR`, as protoc would
make it: descriptor.file_descriptor), the `.proto` text (`PROTO`, what the registry codec
registers), the modules of the files it imports (`DEPENDENCIES`), and per message type its
proto message name (`MESSAGES`) and Confluent message index (`INDEXES`).
eventgen.runtime.protobuf reads them; the generated package itself imports no protobuf.

Every literal is written with `repr` in short chunks, so no spec text reaches the module
unescaped and no line is too long for the formatter to leave alone.
"""

from __future__ import annotations

from eventgen.emit import layout
from eventgen.emit.protobuf.descriptor import file_descriptor
from eventgen.emit.protobuf.model import TIMESTAMP_IMPORT, ProtoFile
from eventgen.emit.protobuf.render import render_proto
from eventgen.emit.pymodels.literals import py_comment, py_docstring
from eventgen.ir.model import Project

WIDTH = 88  # characters of a literal chunk per source line
MESSAGE_ORIGINS = ("event", "command", "query")


def _bytes_literal(data: bytes) -> str:
    """`(b"..." b"...")`: implicit concatenation of `repr`-escaped chunks."""
    parts: list[str] = []
    start = 0
    for end in range(1, len(data) + 1):  # cut where the escaped chunk reaches WIDTH
        if len(repr(data[start:end])) >= WIDTH or end == len(data):
            parts.append(repr(data[start:end]))
            start = end
    parts = parts or ["b''"]
    return "(\n" + "".join(f"    {p}\n" for p in parts) + ")"


def _text_literal(text: str) -> str:
    """The text line by line, each line `repr`-escaped (control and bidi characters too)."""
    parts = [repr(line) for line in text.splitlines(keepends=True)] or ["''"]
    return "(\n" + "".join(f"    {p}\n" for p in parts) + ")"


def dependency_modules(project: Project, file: ProtoFile) -> tuple[str, ...]:
    """The `_proto` modules of the contexts `file` imports (the well-known Timestamp is not one)."""
    by_import = {layout.proto_import(c.name): c.name for c in project.contexts}
    return tuple(
        layout.proto_module(project, by_import[path])
        for path in file.imports
        if path != TIMESTAMP_IMPORT
    )


def module_source(project: Project, file: ProtoFile, sources: tuple[str, ...]) -> str:
    """The Python source of one context's descriptor module (unformatted)."""
    messages: list[tuple[str, str, int]] = [
        (msg.qualified, msg.name, index)
        for index, msg in enumerate(file.messages)
        if msg.origin in MESSAGE_ORIGINS
    ]
    deps = dependency_modules(project, file)
    lines = [
        py_comment(layout.header(list(sources))),
        py_docstring(
            f"Protobuf descriptor of context `{file.context}` for eventgen.runtime's codec "
            f"(see protobuf/{file.import_path})."
        ),
        "",
        "from typing import Final",
        "",
        f"FILE: Final = {file.import_path!r}",
        f"PACKAGE: Final = {file.package!r}",
        "# The `_proto` modules of the files FILE imports (google/protobuf/timestamp.proto is",
        "# the protobuf package's own).",
        "DEPENDENCIES: Final[tuple[str, ...]] = (" + "".join(f"{d!r}, " for d in deps) + ")",
        "# Message type -> proto message name in PACKAGE.",
        "MESSAGES: Final[dict[str, str]] = {"
        + "".join(f"{t!r}: {n!r}, " for t, n, _ in messages)
        + "}",
        "# Message type -> Confluent message index (the path to the message in FILE).",
        "INDEXES: Final[dict[str, tuple[int, ...]]] = {"
        + "".join(f"{t!r}: ({i},), " for t, _, i in messages)
        + "}",
        "# The .proto text, registered as the value schema under serialization: protobuf.",
        f"PROTO: Final = {_text_literal(render_proto(file))}",
        "# The serialized FileDescriptorProto of FILE.",
        f"DESCRIPTOR: Final = {_bytes_literal(file_descriptor(file).SerializeToString())}",
        "",
    ]
    return "\n".join(lines)


def init_source(project: Project) -> str:
    return "\n".join(
        [
            py_comment(layout.header(project.spec_files)),
            py_docstring(
                "Protobuf descriptors by context; eventgen.runtime imports them on first use."
            ),
            "",
        ]
    )
