"""Confluent's JSON Schema diff (SchemaDiff): dispatch, combinators and scalar keywords."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from eventgen.compat.jsonschema.model import JSchema
from eventgen.compat.jsonschema.types import Diff, at

_EMPTY_KINDS = frozenset({"empty", "true"})


def _deref(s: JSchema) -> JSchema:
    seen = 0
    while s.kind == "ref" and s.target is not None and seen < 100:
        s, seen = s.target, seen + 1
    return s


def canonical(s: JSchema) -> str:
    """Structural identity used to collapse duplicate subschemas (Java uses JsonSchema equality)."""
    if s.kind == "ref":
        return "$ref:" + s.pointer
    return json.dumps(s.raw, sort_keys=True, default=str) + "|" + s.kind


class Differ:
    """Compares an original (writer) schema with an update (reader) schema."""

    def __init__(self, compatible: frozenset[str]) -> None:
        self.compatible = compatible
        self._memo: dict[tuple[int, int], list[Diff]] = {}
        self._active: set[tuple[int, int]] = set()
        self._assumed: set[tuple[int, int]] = set()
        self._known_bad: dict[tuple[int, int], list[Diff]] = {}
        self._keep: list[JSchema] = []

    def ok(self, diffs: list[Diff]) -> bool:
        """True when every difference is acceptable under the policy."""
        return all(t in self.compatible for t, _ in diffs)

    def run(self, o: JSchema, u: JSchema) -> list[Diff]:
        """Top-level comparison: iterate to a fixpoint so recursion assumptions are sound."""
        self._keep += [o, u]  # node ids key the memo; keep the nodes alive
        limit = sys.getrecursionlimit()
        # Recursive schemas are compared depth-first over node pairs; deep but bounded.
        sys.setrecursionlimit(max(limit, 20000))
        try:
            while True:
                self._memo, self._active, self._assumed = {}, set(), set()
                result = self.compare(o, u)
                wrong = {
                    k: self._memo[k]
                    for k in self._assumed
                    if k in self._memo and not self.ok(self._memo[k]) and k not in self._known_bad
                }
                if not wrong:
                    return result
                self._known_bad.update(wrong)
        finally:
            sys.setrecursionlimit(limit)

    def compare(self, o: JSchema | None, u: JSchema | None) -> list[Diff]:
        """All differences from `o` to `u`, with paths relative to this node."""
        if o is None and u is None:
            return []
        if o is None:
            return [("SCHEMA_ADDED", ())]
        if u is None:
            return [("SCHEMA_REMOVED", ())]
        o, u = _deref(o), _deref(u)
        key = (id(o), id(u))
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        if key in self._active:
            # A recursive pair is assumed compatible unless an earlier pass proved it
            # is not; run() repeats until no assumption turns out wrong.
            if key in self._known_bad:
                return self._known_bad[key]
            self._assumed.add(key)
            return []
        self._active.add(key)
        try:
            result = self._compare(o, u)
        finally:
            self._active.discard(key)
        self._memo[key] = result
        return result

    def _compare(self, o: JSchema, u: JSchema) -> list[Diff]:
        if o.kind != "combined" and u.kind == "combined":
            if len(u.subschemas) == 1:
                sub = self.compare(o, u.subschemas[0])
                if self.ok(sub):
                    return sub
            elif u.criterion in ("anyOf", "oneOf"):
                for branch in u.subschemas:
                    sub = self.compare(o, branch)
                    if self.ok(sub):
                        return [*sub, ("SUM_TYPE_EXTENDED", ())]
        elif o.kind == "combined" and u.kind != "combined" and len(o.subschemas) == 1:
            sub = self.compare(o.subschemas[0], u)
            if self.ok(sub):
                return sub
        if (o.kind == "combined") != (u.kind == "combined"):
            # Compare a plain schema as a singleton of the other side's combinator, so that
            # e.g. dropping the enum from {type, enum} reads as PRODUCT_TYPE_NARROWED.
            if o.kind == "combined":
                wrapped = JSchema(kind="combined", raw=u.raw, criterion=o.criterion, subschemas=[u])
                return self._combined(o, wrapped)
            wrapped = JSchema(kind="combined", raw=o.raw, criterion=u.criterion, subschemas=[o])
            return self._combined(wrapped, u)
        if o.kind != u.kind:
            if (
                o.kind == "false"
                or u.kind in _EMPTY_KINDS
                or o.kind in _EMPTY_KINDS
                and u.kind in _EMPTY_KINDS
            ):
                return []
            if {o.kind, u.kind} == {"string", "number"} and (o.connect_bytes or u.connect_bytes):
                return []  # Kafka Connect Decimal may be encoded either way
            return [("TYPE_CHANGED", ())]
        return self._body(o, u)

    def _body(self, o: JSchema, u: JSchema) -> list[Diff]:
        out: list[Diff] = []
        for attr, change in (
            ("id", "ID_CHANGED"),
            ("title", "TITLE_CHANGED"),
            ("description", "DESCRIPTION_CHANGED"),
            ("default", "DEFAULT_CHANGED"),
        ):
            if getattr(o, attr) != getattr(u, attr):
                out.append((change, ()))
        from eventgen.compat.jsonschema import structural  # circular by design: mutual recursion

        kind = o.kind
        if kind == "string":
            out += _string(o, u)
        elif kind == "number":
            out += _number(o, u)
        elif kind in ("enum", "const"):
            out += _enum(o, u)
        elif kind == "combined":
            out += self._combined(o, u)
        elif kind == "not":
            sub = self.compare(u.subschemas[0], o.subschemas[0])
            out.append(("NOT_TYPE_NARROWED" if self.ok(sub) else "NOT_TYPE_EXTENDED", ("not",)))
        elif kind == "object":
            out += structural.compare_object(self, o, u)
        elif kind == "array":
            out += structural.compare_array(self, o, u)
        return out

    def _combined(self, o: JSchema, u: JSchema) -> list[Diff]:
        out: list[Diff] = []
        if o.criterion != u.criterion:
            single_o, single_u = len(o.subschemas) == 1, len(u.subschemas) == 1
            if (
                u.criterion == "anyOf"
                or (single_o and single_u)
                or (single_o and u.criterion == "oneOf")
                or (single_u and o.criterion == "allOf")
            ):
                out.append(("COMBINED_TYPE_EXTENDED", ()))
            else:
                return [("COMBINED_TYPE_CHANGED", ())]
        olds = _dedupe(o.subschemas)
        news = _dedupe(u.subschemas)
        if len(olds) < len(news):
            out.append(
                ("PRODUCT_TYPE_EXTENDED" if u.criterion == "allOf" else "SUM_TYPE_EXTENDED", ())
            )
        elif len(olds) > len(news):
            out.append(
                ("PRODUCT_TYPE_NARROWED" if o.criterion == "allOf" else "SUM_TYPE_NARROWED", ())
            )
        edges: dict[int, dict[int, list[Diff]]] = {}
        for i, old in enumerate(olds):
            for j, new in enumerate(news):
                sub = self.compare(old, new)
                if self.ok(sub):
                    edges.setdefault(i, {})[j] = at((o.criterion, str(i)), sub)
        matching = _max_matching(edges, len(olds))
        for i, j in matching.items():
            out += edges[i][j]
        if len(matching) < min(len(olds), len(news)):
            out.append(("COMBINED_TYPE_SUBSCHEMAS_CHANGED", ()))
        return out


def _dedupe(subs: list[JSchema]) -> list[JSchema]:
    seen: dict[str, JSchema] = {}
    for s in subs:
        seen.setdefault(canonical(s), s)
    return list(seen.values())


def _max_matching(edges: dict[int, dict[int, list[Diff]]], n_left: int) -> dict[int, int]:
    """Maximum-cardinality bipartite matching (Kuhn's augmenting paths); left -> right."""
    match_right: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges.get(i, {}):
            if j not in seen:
                seen.add(j)
                if j not in match_right or augment(match_right[j], seen):
                    match_right[j] = i
                    return True
        return False

    for i in range(n_left):
        augment(i, set())
    return {i: j for j, i in match_right.items()}


def _num(v: Any) -> Decimal | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None


def compare_limit(keyword: str, prefix: str, old: Any, new: Any) -> list[Diff]:
    """ADDED/REMOVED/INCREASED/DECREASED for one numeric keyword."""
    a, b = _num(old), _num(new)
    if a == b:
        return []
    if a is None:
        change = "ADDED"
    elif b is None:
        change = "REMOVED"
    else:
        change = "INCREASED" if a < b else "DECREASED"
    return [(f"{prefix}_{change}", (keyword,))]


def _string(o: JSchema, u: JSchema) -> list[Diff]:
    out = compare_limit(
        "maxLength", "MAX_LENGTH", o.limits.get("maxLength"), u.limits.get("maxLength")
    )
    out += compare_limit(
        "minLength", "MIN_LENGTH", o.limits.get("minLength"), u.limits.get("minLength")
    )
    po, pu = o.limits.get("pattern"), u.limits.get("pattern")
    if po != pu:
        change = (
            "PATTERN_ADDED"
            if po is None
            else "PATTERN_REMOVED"
            if pu is None
            else "PATTERN_CHANGED"
        )
        out.append((change, ("pattern",)))
    return out


def _bounds(s: JSchema) -> dict[str, Any]:
    lim = dict(s.limits)
    # Draft-04 booleans: exclusiveMaximum: true turns maximum into an exclusive bound.
    for excl, plain in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        if isinstance(lim.get(excl), bool):
            lim[excl] = lim.pop(plain, None) if lim[excl] else None
    return lim


def _number(o: JSchema, u: JSchema) -> list[Diff]:
    lo, lu = _bounds(o), _bounds(u)
    out: list[Diff] = []
    for kw, prefix in (
        ("maximum", "MAXIMUM"),
        ("minimum", "MINIMUM"),
        ("exclusiveMaximum", "EXCLUSIVE_MAXIMUM"),
        ("exclusiveMinimum", "EXCLUSIVE_MINIMUM"),
    ):
        out += compare_limit(kw, prefix, lo.get(kw), lu.get(kw))
    mo, mu = _num(lo.get("multipleOf")), _num(lu.get("multipleOf"))
    if mo != mu:
        if mo is None:
            change = "MULTIPLE_OF_ADDED"
        elif mu is None:
            change = "MULTIPLE_OF_REMOVED"
        elif mo != 0 and mu % mo == 0:
            change = "MULTIPLE_OF_EXPANDED"
        elif mu != 0 and mo % mu == 0:
            change = "MULTIPLE_OF_REDUCED"
        else:
            change = "MULTIPLE_OF_CHANGED"
        out.append((change, ("multipleOf",)))
    if o.requires_integer != u.requires_integer:
        out.append(("TYPE_EXTENDED" if o.requires_integer else "TYPE_NARROWED", ()))
    return out


def _enum(o: JSchema, u: JSchema) -> list[Diff]:
    a = {json.dumps(v, sort_keys=True) for v in o.values}
    b = {json.dumps(v, sort_keys=True) for v in u.values}
    if a == b:
        return []
    if o.kind == "enum" and b >= a:
        return [("ENUM_ARRAY_EXTENDED", ("enum",))]
    if o.kind == "enum" and a >= b:
        return [("ENUM_ARRAY_NARROWED", ("enum",))]
    return [("ENUM_ARRAY_CHANGED", ("enum" if o.kind == "enum" else "const",))]
