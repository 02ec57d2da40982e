"""Property tests for the YAML loader: it never crashes, and positions point at their node."""

from __future__ import annotations

import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventgen.spec.nodes import PList, PMap
from eventgen.spec.yamlload import load_yaml

KEYS = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8)
SCALARS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.text(alphabet=string.ascii_letters + " .-", min_size=1, max_size=12).map(
        lambda s: "s" + s.strip()
    ),
    st.booleans(),
)
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    root, found = load_yaml(data, "f.yaml")
    assert root is not None or found
    for d in found:
        assert d.code.startswith("E01") and d.loc.file == "f.yaml"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "ü€😀&*!|>-:{}[]'\"#%@`", max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    root, found = load_yaml(text.encode("utf-8", "surrogatepass"), "f.yaml")
    assert root is not None or found


def _plain(value: object) -> object:
    if isinstance(value, PMap):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, PList):
        return [_plain(v) for v in value]
    return value


def _check_positions(node: object, lines: list[str]) -> None:
    if isinstance(node, PMap):
        for key, value in node.items():
            loc = node.key_loc(key)
            assert lines[loc.line - 1][loc.col - 1 :].lstrip("'\"").startswith(key), (key, loc)
            _check_positions(value, lines)
    elif isinstance(node, PList):
        for index, value in enumerate(node):
            loc = node.item_loc(index)
            # The dumper may fold a long flow scalar onto the next line, so compare the text
            # that follows the position, whitespace-normalised, not just the rest of its line.
            rest = [lines[loc.line - 1][loc.col - 1 :], *lines[loc.line :]]
            text = " ".join(" ".join(rest).split())
            if not isinstance(value, (PMap, PList)):
                rendered = yaml.safe_dump(value, default_flow_style=True).split("\n")[0]
                expected = " ".join(rendered.strip("'\"")[:3].split())
                assert text.startswith(expected) or text[:1] in "'\"", (value, text)
            _check_positions(value, lines)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, TREES, min_size=1, max_size=5), st.booleans())
def test_round_trip_and_positions(tree: dict[str, object], flow: bool) -> None:
    text = yaml.safe_dump(tree, default_flow_style=flow, sort_keys=False)
    root, found = load_yaml(text.encode(), "f.yaml")
    assert not found and root is not None
    assert _plain(root) == tree
    _check_positions(root, text.splitlines())


def test_duplicate_keys_at_any_depth_are_reported() -> None:
    _root, found = load_yaml(b"a:\n  b: 1\n  c:\n    - {x: 1, x: 2}\n", "f.yaml")
    assert [(d.code, d.loc.line, d.loc.col) for d in found] == [("E0103", 4, 14)]


def test_yaml_1_2_scalars() -> None:
    root, _ = load_yaml(b"a: on\nb: no\nc: 0x1F\nd: 1.5e3\ne: '5'\nf: ~\ng: !!str 7\n", "f.yaml")
    assert root == {"a": "on", "b": "no", "c": 31, "d": 1500.0, "e": "5", "f": None, "g": "7"}
