"""Avro reader/writer compatibility, following Avro-Java's SchemaCompatibility."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventgen.compat.avro_schema import AvroField, AvroType
from eventgen.compat.result import SchemaParseError

_PROMOTIONS: dict[str, frozenset[str]] = {
    # reader kind -> writer kinds it can read (Avro spec "Schema Resolution")
    "long": frozenset({"int"}),
    "float": frozenset({"int", "long"}),
    "double": frozenset({"int", "long", "float"}),
    "bytes": frozenset({"string"}),
    "string": frozenset({"bytes"}),
}


@dataclass(frozen=True)
class AvroIssue:
    """One incompatibility with Avro-Java's type name, location and message."""

    code: str
    location: tuple[str, ...]
    message: str
    reader: Any
    writer: Any

    @property
    def path(self) -> str:
        """The location as Avro-Java renders it ('/' for the root)."""
        return "/" + "/".join(self.location)


class _Ambiguous(Exception):
    """Avro-Java throws on an ambiguous field alias: the whole check stops with that error.

    Raised rather than returned so no caller (a reader-union branch search above all) can
    treat it as one incompatible branch and move on to a compatible one.
    """

    def __init__(self, issue: AvroIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


class _InProgress:
    """Marker for a reader/writer pair whose check is still on the stack."""


_IN_PROGRESS = _InProgress()


class AvroChecker:
    """Checks one reader/writer pair; memoises pairs so recursive schemas terminate."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, int], list[AvroIssue] | _InProgress] = {}
        # Keeps memoised nodes alive so their ids cannot be reused mid-check.
        self._keep: list[tuple[AvroType, AvroType]] = []

    def check(self, reader: AvroType, writer: AvroType) -> list[AvroIssue]:
        """Return every incompatibility of reading `writer` data with `reader`, deduplicated.

        An ambiguous field alias is the only finding when it is reached: Avro-Java throws
        there, so Confluent refuses the schema whatever else was found before.
        """
        try:
            issues = self._get(reader, writer, [])
        except _Ambiguous as exc:
            # The memo holds pairs left in progress by the abort; start afresh next time.
            self._memo.clear()
            self._keep.clear()
            return [exc.issue]
        except RecursionError:
            # The parser takes fewer frames per level than this walk, so a schema that parsed
            # can still be too deep here: a clear error, never a raised recursion limit.
            self._memo.clear()
            self._keep.clear()
            raise SchemaParseError("schema nesting is too deep to compare") from None
        out: list[AvroIssue] = []
        seen: set[tuple[str, tuple[str, ...], str]] = set()
        for i in issues:
            key = (i.code, i.location, i.message)
            if key not in seen:
                seen.add(key)
                out.append(i)
        return out

    def _get(self, reader: AvroType, writer: AvroType, loc: list[str]) -> list[AvroIssue]:
        key = (id(reader), id(writer))
        memo = self._memo.get(key)
        if isinstance(memo, _InProgress):
            # Recursion: assume compatible unless proven otherwise, as Avro-Java does.
            return []
        if memo is not None:
            return memo
        self._memo[key] = _IN_PROGRESS
        self._keep.append((reader, writer))
        result = self._calculate(reader, writer, loc)
        self._memo[key] = result
        return result

    def _sub(self, token: str, r: AvroType, w: AvroType, loc: list[str]) -> list[AvroIssue]:
        loc.append(token)
        try:
            return self._get(r, w, loc)
        finally:
            loc.pop()

    def _issue(self, code: str, r: AvroType, w: AvroType, loc: list[str], msg: str) -> AvroIssue:
        return AvroIssue(code, tuple(loc), msg, r.raw, w.raw)

    def _calculate(self, r: AvroType, w: AvroType, loc: list[str]) -> list[AvroIssue]:
        if r.kind == w.kind:
            return self._same_kind(r, w, loc)
        if w.kind == "union":
            # A non-union reader must read every writer branch.
            out: list[AvroIssue] = []
            for i, branch in enumerate(w.branches):
                out += self._sub(str(i), r, branch, loc)
            return out
        if r.kind == "union":
            for branch in r.branches:
                # Java checks each branch from a fresh (root) location: only the verdict is
                # used here, but the memo keeps that result with its root-relative paths.
                if not self._get(branch, w, []):
                    return []
            msg = f"reader union lacking writer type: {w.kind.upper()}"
            return [self._issue("MISSING_UNION_BRANCH", r, w, loc, msg)]
        if w.kind in _PROMOTIONS.get(r.kind, frozenset()):
            return []
        return [self._type_mismatch(r, w, loc)]

    def _type_mismatch(self, r: AvroType, w: AvroType, loc: list[str]) -> AvroIssue:
        msg = f"reader type: {r.kind.upper()} not compatible with writer type: {w.kind.upper()}"
        return self._issue("TYPE_MISMATCH", r, w, loc, msg)

    def _same_kind(self, r: AvroType, w: AvroType, loc: list[str]) -> list[AvroIssue]:
        kind = r.kind
        if kind in ("array", "map"):
            assert r.items is not None and w.items is not None
            return self._sub("items" if kind == "array" else "values", r.items, w.items, loc)
        if kind == "fixed":
            out = self._names(r, w, loc)
            if r.size != w.size:
                msg = f"expected: {w.size}, found: {r.size}"
                loc.append("size")
                out.append(self._issue("FIXED_SIZE_MISMATCH", r, w, loc, msg))
                loc.pop()
            return out
        if kind == "enum":
            return self._names(r, w, loc) + self._enum_symbols(r, w, loc)
        if kind == "record":
            return self._names(r, w, loc) + self._record_fields(r, w, loc)
        if kind == "union":
            out = []
            for i, branch in enumerate(w.branches):
                loc.append(str(i))
                if self._get(r, branch, []):  # a fresh location, as above
                    msg = f"reader union lacking writer type: {branch.kind.upper()}"
                    out.append(self._issue("MISSING_UNION_BRANCH", r, w, loc, msg))
                loc.pop()
            return out
        return []  # identical primitive kinds; logical types are ignored, as in Java

    def _names(self, r: AvroType, w: AvroType, loc: list[str]) -> list[AvroIssue]:
        # Unqualified names must match, or a reader alias must equal the writer full name.
        if r.name == w.name or w.fullname in r.aliases:
            return []
        loc.append("name")
        issue = self._issue("NAME_MISMATCH", r, w, loc, f"expected: {w.fullname}")
        loc.pop()
        return [issue]

    def _enum_symbols(self, r: AvroType, w: AvroType, loc: list[str]) -> list[AvroIssue]:
        missing = sorted(set(w.symbols) - set(r.symbols))
        if not missing or (r.enum_default is not None and r.enum_default in r.symbols):
            return []
        loc.append("symbols")
        issue = self._issue("MISSING_ENUM_SYMBOLS", r, w, loc, "[" + ", ".join(missing) + "]")
        loc.pop()
        return [issue]

    def _record_fields(self, r: AvroType, w: AvroType, loc: list[str]) -> list[AvroIssue]:
        out: list[AvroIssue] = []
        loc.append("fields")
        for rf in r.fields:
            loc.append(str(rf.pos))
            matches = _lookup_writer_fields(w, rf)
            if len(matches) > 1:
                # Avro-Java throws here, ending the whole check (see _Ambiguous).
                names = ", ".join(f.name for f in matches)
                msg = f"reader field {rf.name} matches several writer fields: {names}"
                raise _Ambiguous(self._issue("AMBIGUOUS_FIELD_ALIAS", r, w, loc, msg))
            elif not matches:
                if not rf.has_default:
                    if rf.type.kind == "enum" and rf.type.enum_default is not None:
                        # Java then checks the enum against the whole writer record.
                        out += self._sub("type", rf.type, w, loc)
                    else:
                        issue = self._issue(
                            "READER_FIELD_MISSING_DEFAULT_VALUE", r, w, loc, rf.name
                        )
                        out.append(issue)
            else:
                out += self._sub("type", rf.type, matches[0].type, loc)
            loc.pop()
        loc.pop()
        return out


def _lookup_writer_fields(writer: AvroType, rf: AvroField) -> list[AvroField]:
    """Writer fields the reader field resolves to, counted as Avro-Java's lookupWriterField.

    Java keeps a field's aliases in a set, so an alias listed twice counts once; the direct
    name match is counted apart from the aliases, so an alias equal to the field's own name
    still makes a second match (and Java throws on it).
    """
    by_name = {f.name: f for f in writer.fields}
    aliases = dict.fromkeys(rf.aliases)  # ordered set, like Java's LinkedHashSet
    return [by_name[n] for n in (rf.name, *aliases) if n in by_name]


def check_avro(reader: AvroType, writer: AvroType) -> list[AvroIssue]:
    """All incompatibilities of reading data written with `writer` using `reader`."""
    return AvroChecker().check(reader, writer)
