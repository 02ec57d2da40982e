"""The user docs of the protobuf rules, generated from the registry and the tested examples."""

from __future__ import annotations

from eventgen.compat.protobuf.examples import EXAMPLES
from eventgen.compat.protobuf.issue import BUF_VERSION
from eventgen.compat.protobuf.rules import WIRE_JSON, rule_id

_INTRO = """# Protobuf compatibility (`format="protobuf"`)

`eventgen.compat.check(format="protobuf", previous=..., new=...)` and `eventgen diff` on a
`serialization: protobuf` project apply the rules of buf's `breaking` **WIRE_JSON** category
(buf's V2 rule spec, {buf}). A schema is `.proto` text (one file, named `schema.proto`) or a
mapping of import path -> text; protoc from grpcio-tools compiles it (well-known types are on
the include path). A file protoc rejects raises `SchemaParseError` with protoc's message.
Finding paths are `file:line:col` of the NEW schema, the way buf prints them.

## Modes and directions

| mode | versions compared | rules run | `Finding.direction` |
|---|---|---|---|
| NONE | none (the new schema must still compile) | - | - |
| BACKWARD | latest | all 22, old -> new | `backward` |
| FORWARD | latest | all 22, old -> new | `forward` |
| FULL | latest | all 22, old -> new | `full` |
| *_TRANSITIVE | every earlier version, newest first | all 22, each old -> new | as above |

buf's rules already protect both directions (type and cardinality changes break readers on
either side, deletions without reservation allow later reuse, required fields break whichever
side lacks them), so every mode runs the same rules old -> new. Swapping old and new for
FORWARD, as the Avro checker does, would be wrong: protobuf readers skip unknown fields, so an
added field would be reported as a field deleted without reservation.

## In `eventgen diff` and the schema history

Under `serialization: protobuf` a topic's value subject is the `.proto` of the topic's
context (numbered by the committed `protobuf/field-numbers.lock.json`, read from the output
directory of each side), stored in `schemas-history/<subject>/<n>.proto`; key subjects stay
Avro (`.avsc`). A breaking change is `D0101` with the rule id and the `.proto` position in its
details. Topics of one context share its file, so each of their subjects reports the change.
An old history version is compiled with the new side's imported files (the history keeps
only each context's own file).

## Rules
"""

_CORPUS = """
## Conformance corpus

`tests/compat/protobuf_corpus/` holds 61 pairs derived from buf's own breaking-rule test data
(`private/bufpkg/bufcheck/testdata/breaking/` and the expected annotations of
`breaking_test.go`, buf commit c9a5b26): every test directory whose rules include a WIRE_JSON
rule, one pair per current file, 286 expected findings. Each pair must match buf exactly: the
same rules, the same count per rule and the same 1-based span. All 61 match. Directories left
out: Wasm plugin and policy-file tests (no built-in rules) and tests whose only rules are not
in WIRE_JSON. The `.proto` files are Copyright Buf Technologies, Inc., Apache-2.0; the licence
and a note of what was changed are kept next to them (`LICENSE`, `NOTICE.md`), and
`convert.py` rebuilds the corpus from a buf checkout.
"""


def markdown() -> str:
    """The docs fragment: rule table, one before/after example per rule, corpus note."""
    parts = [
        _INTRO.replace("{buf}", BUF_VERSION),
        "| rule id | buf rule | protects |",
        "|---|---|---|",
    ]
    parts += [f"| `{rule_id(code)}` | `{code}` | {purpose} |" for code, purpose, _ in WIRE_JSON]
    parts.append("\n## Examples (each pair is a test that produces exactly its rule)\n")
    for example in EXAMPLES:
        parts.append(f"### `{rule_id(example.code)}`\n")
        parts.append("Before:\n\n```proto\n" + example.before + "```\n")
        parts.append("After:\n\n```proto\n" + example.after + "```\n")
    parts.append(_CORPUS)
    return "\n".join(parts)
