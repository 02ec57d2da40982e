"""Run every pair of the protobuf corpus (buf's breaking test data) against buf's expectations.

A pair is one current file of a buf test directory: both module versions are compiled whole
(so imports resolve), the WIRE_JSON rules buf ran for that directory are checked, and the
findings in that file must equal buf's annotations: same rules, same count per rule, same
1-based span where buf gives one.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eventgen.compat.protobuf import Schema, check_protobuf, parse_proto

CORPUS = Path(__file__).parent / "protobuf_corpus"
PAIRS: list[dict[str, Any]] = json.loads((CORPUS / "pairs.json").read_text())["pairs"]

# Pairs where we knowingly differ from buf, with the reason (none so far).
DISAGREE: dict[str, str] = {}


@functools.cache
def _module(directory: str, side: str) -> Schema:
    root = CORPUS / directory / side
    sources = {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*.proto"))
    }
    return parse_proto(sources)


def _key(rule: str, span: list[int] | tuple[int, ...] | None) -> tuple[str, tuple[int, ...]]:
    return (rule, tuple(span) if span is not None else ())


def test_corpus_size() -> None:
    assert len(PAIRS) >= 60
    assert sum(len(p["expected"]) for p in PAIRS) >= 200


@pytest.mark.parametrize("pair", PAIRS, ids=[p["id"] for p in PAIRS])
def test_pair_matches_buf(pair: dict[str, Any]) -> None:
    if pair["id"] in DISAGREE:
        pytest.xfail(DISAGREE[pair["id"]])
    old = _module(pair["directory"], "previous")
    new = _module(pair["directory"], "current")
    issues = [i for i in check_protobuf(old, new, tuple(pair["rules"])) if i.file == pair["file"]]
    got = sorted(_key(i.code, i.span) for i in issues)
    want = sorted(_key(e["rule"], e["span"]) for e in pair["expected"])
    assert Counter(i.code for i in issues) == Counter(e["rule"] for e in pair["expected"])
    assert got == want
