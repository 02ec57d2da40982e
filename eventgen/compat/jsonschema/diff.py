"""Confluent's JSON Schema diff (SchemaDiff): dispatch, combinators and scalar keywords."""

from __future__ import annotations

import json
from collections.abc import Generator
from decimal import Decimal, InvalidOperation
from typing import Any

from eventgen.compat.jsonschema.model import JSchema
from eventgen.compat.jsonschema.types import Diff, at

_EMPTY_KINDS = frozenset({"empty", "true"})
# Kinds whose comparison needs no subschema pair: compared at once, with no suspended step.
_NESTING_KINDS = frozenset({"combined", "not", "object", "array"})

Request = tuple[JSchema | None, JSchema | None]
Frame = tuple[tuple[int, int], "Step"]
# A suspended comparison step: it yields the subschema pairs it needs compared, receives each
# pair's differences, and returns its own. The Differ drives these steps from an explicit
# stack, so nesting depth costs list entries, not Python frames (no recursion limit to raise).
# A hot loop may call Differ._enter itself and yield the new Frame, sparing the memo hits a
# round trip through the driver.
Step = Generator[Request | Frame, list[Diff], list[Diff]]


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

    def compare(self, o: JSchema | None, u: JSchema | None) -> list[Diff]:
        """All differences from `o` to `u`, with paths relative to this node.

        Depth-first over node pairs, as the recursive original was, but every pending pair
        waits on an explicit stack of suspended steps.
        """
        ready, frame = self._enter(o, u)
        if frame is None:
            return ready
        stack = [frame]
        send: list[Diff] | None = None
        while True:
            key, step = stack[-1]
            try:
                request = next(step) if send is None else step.send(send)
            except StopIteration as stop:
                done: list[Diff] = stop.value
                stack.pop()
                self._active.discard(key)
                self._memo[key] = done
                if not stack:
                    return done
                send = done
                continue
            if isinstance(request[1], JSchema) or request[1] is None:
                ready, frame = self._enter(request[0], request[1])
            else:
                ready, frame = [], request
            if frame is None:
                send = ready  # known at once: resume the asking step with it
            else:
                stack.append(frame)
                send = None  # a new step starts with next()

    def _enter(self, o: JSchema | None, u: JSchema | None) -> tuple[list[Diff], Frame | None]:
        """The pair's differences if known now, else a new step to run (marked active)."""
        if o is None and u is None:
            return [], None
        if o is None:
            return [("SCHEMA_ADDED", ())], None
        if u is None:
            return [("SCHEMA_REMOVED", ())], None
        # Inline kind test: this runs once per compared pair (hundreds of thousands).
        if o.kind == "ref":
            o = _deref(o)
        if u.kind == "ref":
            u = _deref(u)
        key = (id(o), id(u))
        cached = self._memo.get(key)
        if cached is not None:
            return cached, None
        if key in self._active:
            # A recursive pair is assumed compatible unless an earlier pass proved it
            # is not; run() repeats until no assumption turns out wrong.
            if key in self._known_bad:
                return self._known_bad[key], None
            self._assumed.add(key)
            return [], None
        if o.kind != u.kind and "combined" not in (o.kind, u.kind):
            result = _kind_changed(o, u)
        elif o.kind == u.kind and o.kind not in _NESTING_KINDS:
            result = _attributes(o, u) + _scalar(o, u)
        else:
            self._active.add(key)
            return [], (key, self._compare(o, u))
        # Most pairs are leaves: answered here, a generator per leaf would cost ~15%.
        self._memo[key] = result
        return result, None

    def _compare(self, o: JSchema, u: JSchema) -> Step:
        if o.kind != "combined" and u.kind == "combined":
            if len(u.subschemas) == 1:
                sub = yield (o, u.subschemas[0])
                if self.ok(sub):
                    return sub
            elif u.criterion in ("anyOf", "oneOf"):
                for branch in u.subschemas:
                    sub = yield (o, branch)
                    if self.ok(sub):
                        return [*sub, ("SUM_TYPE_EXTENDED", ())]
        elif o.kind == "combined" and u.kind != "combined" and len(o.subschemas) == 1:
            sub = yield (o.subschemas[0], u)
            if self.ok(sub):
                return sub
        if (o.kind == "combined") != (u.kind == "combined"):
            # Compare a plain schema as a singleton of the other side's combinator, so that
            # e.g. dropping the enum from {type, enum} reads as PRODUCT_TYPE_NARROWED.
            if o.kind == "combined":
                wrapped = JSchema(kind="combined", raw=u.raw, criterion=o.criterion, subschemas=[u])
                return (yield from self._combined(o, wrapped))
            wrapped = JSchema(kind="combined", raw=o.raw, criterion=u.criterion, subschemas=[o])
            return (yield from self._combined(wrapped, u))
        if o.kind != u.kind:
            return _kind_changed(o, u)
        return (yield from self._body(o, u))

    def _body(self, o: JSchema, u: JSchema) -> Step:
        out = _attributes(o, u)
        from eventgen.compat.jsonschema import structural  # circular by design: mutual recursion

        kind = o.kind
        if kind not in _NESTING_KINDS:
            out += _scalar(o, u)
        elif kind == "combined":
            out += yield from self._combined(o, u)
        elif kind == "not":
            sub = yield (u.subschemas[0], o.subschemas[0])
            out.append(("NOT_TYPE_NARROWED" if self.ok(sub) else "NOT_TYPE_EXTENDED", ("not",)))
        elif kind == "object":
            out += yield from structural.compare_object(self, o, u)
        elif kind == "array":
            out += yield from structural.compare_array(self, o, u)
        return out

    def _combined(self, o: JSchema, u: JSchema) -> Step:
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
                sub, frame = self._enter(old, new)
                if frame is not None:
                    sub = yield frame
                if self.ok(sub):
                    edges.setdefault(i, {})[j] = at((o.criterion, str(i)), sub)
        matching = _max_matching(edges, len(olds))
        for i, j in matching.items():
            out += edges[i][j]
        if len(matching) < min(len(olds), len(news)):
            out.append(("COMBINED_TYPE_SUBSCHEMAS_CHANGED", ()))
        return out


def _kind_changed(o: JSchema, u: JSchema) -> list[Diff]:
    """Two non-combined schemas of different kinds."""
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


def _attributes(o: JSchema, u: JSchema) -> list[Diff]:
    """Annotation changes every kind reports (all compatible)."""
    out: list[Diff] = []
    for attr, change in (
        ("id", "ID_CHANGED"),
        ("title", "TITLE_CHANGED"),
        ("description", "DESCRIPTION_CHANGED"),
        ("default", "DEFAULT_CHANGED"),
    ):
        if getattr(o, attr) != getattr(u, attr):
            out.append((change, ()))
    return out


def _scalar(o: JSchema, u: JSchema) -> list[Diff]:
    """Keyword changes of a kind without subschemas (same kind on both sides)."""
    if o.kind == "string":
        return _string(o, u)
    if o.kind == "number":
        return _number(o, u)
    if o.kind in ("enum", "const"):
        return _enum(o, u)
    return []


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
