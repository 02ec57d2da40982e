"""Turn raw Avro issues and JSON Schema differences into user-facing Findings."""

from __future__ import annotations

from typing import Any

from eventgen.compat.avro import AvroIssue
from eventgen.compat.jsonschema.types import Diff, pointer
from eventgen.compat.protobuf.issue import ProtoIssue
from eventgen.compat.protobuf.rules import rule_id as protobuf_rule_id
from eventgen.compat.result import Finding
from eventgen.compat.rules import avro_rule_id, json_rule_id


def _who(direction: str, version_index: int) -> str:
    """Name the reader and the writer that break, in a sentence prefix."""
    version = f"version {version_index + 1} (history index {version_index})"
    if direction == "backward":
        return f"a consumer on the new schema cannot read records written with {version}"
    return f"a consumer on {version} cannot read records written with the new schema"


def _avro_reason(issue: AvroIssue) -> str:
    code, msg, path = issue.code, issue.message, issue.path
    if code == "READER_FIELD_MISSING_DEFAULT_VALUE":
        return f"field `{msg}` ({path}) is missing from the writer's schema and has no default"
    if code == "TYPE_MISMATCH":
        return f"at {path} the {msg.replace(' not compatible with ', ' cannot read ')}"
    if code == "NAME_MISMATCH":
        return f"the named type at {path} was renamed and the reader has no alias for `{msg[10:]}`"
    if code == "FIXED_SIZE_MISMATCH":
        return f"the fixed size at {path} differs ({msg})"
    if code == "MISSING_ENUM_SYMBOLS":
        return f"the reader's enum at {path} lacks writer symbols {msg} and has no enum default"
    if code == "MISSING_UNION_BRANCH":
        return f"at {path} the {msg.replace('reader union lacking writer type', 'reader union has no branch for writer type')}"
    return f"at {path}: {msg}"


def avro_finding(issue: AvroIssue, direction: str, version_index: int) -> Finding:
    """A Finding for one Avro-Java style incompatibility."""
    # BACKWARD reads old data with the new schema, so the writer is the old version.
    old, new = (
        (issue.writer, issue.reader) if direction == "backward" else (issue.reader, issue.writer)
    )
    return Finding(
        rule=avro_rule_id(issue.code),
        path=issue.path,
        old=old,
        new=new,
        message=f"{_who(direction, version_index)}: {_avro_reason(issue)}",
        version_index=version_index,
        direction=direction,
        code=issue.code,
        details=issue.message,
    )


def _lookup(doc: Any, path: tuple[str, ...]) -> Any:
    node = doc
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _json_reason(code: str, where: str) -> str:
    text = code.lower().replace("_", " ")
    if "content model" in text:
        return f"{text} at {where}"
    return f"{text} at {where}, so the reader accepts fewer documents than the writer produced"


def json_finding(
    diff: Diff, writer: Any, reader: Any, direction: str, version_index: int
) -> Finding:
    """A Finding for one breaking Confluent JSON Schema difference."""
    code, path = diff
    old_doc, new_doc = (writer, reader) if direction == "backward" else (reader, writer)
    where = pointer(path)
    return Finding(
        rule=json_rule_id(code),
        path=where,
        old=_lookup(old_doc, path),
        new=_lookup(new_doc, path),
        message=f"{_who(direction, version_index)}: {_json_reason(code, where)}",
        version_index=version_index,
        direction=direction,
        code=code,
    )


def protobuf_finding(issue: ProtoIssue, direction: str, version_index: int) -> Finding:
    """A Finding for one buf WIRE_JSON breaking change; the path is `file:line:col`."""
    version = f"version {version_index + 1} (history index {version_index})"
    return Finding(
        rule=protobuf_rule_id(issue.code),
        path=issue.where,
        old=None,
        new=None,
        message=f"from {version} to the new schema: {issue.message}",
        version_index=version_index,
        direction=direction,
        code=issue.code,
        details=issue.element,
    )
