"""The AsyncAPI YAML writer: every document reads back as the data it was given."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from eventgen.emit.asyncapi.yamltext import Writer, dump, scalar_text

# Text a spec can carry into a document: docs, examples, names. Surrogates cannot be encoded
# as UTF-8 at all, so they are the one thing left out.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
HOSTILE_STRINGS = (
    "",
    " ",
    "yes",
    "No",
    "on",
    "~",
    "null",
    "1e3",
    "0x1F",
    "1_000",
    "12:30:00",
    "2026-12-03",
    ".inf",
    "-",
    "- item",
    "? key",
    "a: b",
    "a #b",
    "#x",
    "'q'",
    '"dq"',
    "|",
    ">",
    "*alias",
    "&anchor",
    "!tag",
    "%dir",
    "@x",
    "`x`",
    "---",
    "...",
    "a\nb",
    "a\n",
    "a\n\n",
    "\na",
    " a\nb",
    "a \nb",
    "a\n\nb\n",
    "a\n  b",
    "tab\there",
    "\ufeffbom",
    "line\u2028sep",
    "nel\x85x",
    "nbsp\xa0x",
    "\x00\x07\x1b",
    '"""',
    "\\",
    "emoji \U0001f600",
    "ü: ß",
)
HOSTILE = st.sampled_from(HOSTILE_STRINGS)
STRINGS = st.one_of(TEXT, HOSTILE)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    STRINGS,
)
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(STRINGS, inner, max_size=4)
    ),
    max_leaves=30,
)


def _load(text: bytes) -> Any:
    return yaml.load(text.decode("utf-8"), Loader=yaml.SafeLoader)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(STRINGS, DOCS, min_size=1, max_size=5))
def test_every_document_reads_back_as_itself(document: dict[str, Any]) -> None:
    assert _load(dump(document, "header")) == document


@settings(max_examples=300, deadline=None)
@given(STRINGS)
def test_a_scalar_reads_back_as_the_same_string(text: str) -> None:
    written = scalar_text(text)
    assert "\n" not in written
    assert _load(f"k: {written}\n".encode()) == {"k": text}


def test_hostile_strings_as_keys_and_values_read_back() -> None:
    strings = HOSTILE_STRINGS
    document = {s: {"value": s, "list": [s, [s], {s: s}]} for s in strings}
    assert _load(dump(document, "h")) == document
    assert len(document) == len(strings)


def test_multi_line_docs_are_literal_blocks() -> None:
    text = dump({"info": {"description": "First line.\nSecond line.\n"}}, "h").decode()
    assert text.splitlines()[1:] == [
        "info:",
        "  description: |",
        "    First line.",
        "    Second line.",
    ]


def test_plain_where_unambiguous_quoted_where_not() -> None:
    lines = dump({"a": "kafka", "b": "yes", "c": "#/components/x", "d": "1.0.0", "e": ""}, "h")
    assert lines.decode().splitlines()[1:] == [
        "a: kafka",
        "b: 'yes'",
        "c: '#/components/x'",
        "d: 1.0.0",
        "e: ''",
    ]


def test_plain_text_is_a_string_to_yaml_1_1_and_1_2_readers() -> None:
    from eventgen.spec.yamlload import load_yaml  # the spec loader: the YAML 1.2 core schema

    numbers_in_1_2 = ["01234567890123", "0o17", "+12", "1.5e3", ".5", "NULL", "True", "-.INF"]
    document = {"k": numbers_in_1_2}
    text = dump(document, "h")
    assert text.decode().splitlines()[2:] == [f"- '{s}'" for s in numbers_in_1_2]
    assert _load(text) == document
    loaded, found = load_yaml(text, "doc.yaml")
    assert (loaded, found) == (document, [])


def test_the_header_is_a_comment_and_empty_containers_are_flow() -> None:
    text = dump({"a": {}, "b": [], "c": [{}, []]}, "line one\nline two").decode()
    assert text == "# line one\n# line two\na: {}\nb: []\nc:\n- {}\n- []\n"


def test_a_shared_subtree_is_written_the_same_in_every_document() -> None:
    shared = {"type": "object", "properties": {"id": {"type": "string"}}}
    writer = Writer()
    first = writer.dump({"components": {"schemas": {"A": shared}}}, "h")
    second = writer.dump({"components": {"schemas": {"A": shared, "B": {"x": 1}}}}, "h")
    assert _load(first) == {"components": {"schemas": {"A": shared}}}
    assert _load(second) == {"components": {"schemas": {"A": shared, "B": {"x": 1}}}}
    # The same dict at another indent is written again for that indent, not reused.
    third = writer.dump({"A": shared}, "h")
    assert _load(third) == {"A": shared}
