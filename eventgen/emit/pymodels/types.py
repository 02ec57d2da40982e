"""Python annotations and default expressions for spec types, written through `Imports`."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventgen.emit.layout import TypeIndex
from eventgen.emit.pymodels.imports import Imports
from eventgen.emit.pymodels.literals import py_str
from eventgen.ir import naming, scalars
from eventgen.ir.model import (
    Constraints,
    EnumType,
    ListOf,
    MapOf,
    Named,
    Project,
    RecordType,
    Scalar,
    TypeRef,
)

RT = "eventgen.runtime"
NO_CONSTRAINTS = scalars.NO_CONSTRAINTS


class TypeWriter:
    """Writes type expressions for one generated module."""

    def __init__(self, project: Project, index: TypeIndex, context: str, imports: Imports) -> None:
        self.project = project
        self.index = index
        self.context = context
        self.imports = imports

    def class_name(self, qualified: str) -> str:
        """The class of a named type, imported when it lives in another context."""
        named = self.index[qualified]
        name = naming.py_class(named.name)
        if named.context == self.context:
            return name
        module = f"{self.project.package}.{naming.py_module(named.context)}"
        prefer = naming.pascal(named.context) + name
        return self.imports.use(module, name, prefer)

    def annotation(self, ref: TypeRef, c: Constraints = NO_CONSTRAINTS) -> str:
        inner = self._inner(ref, c)
        return f"{inner} | None" if ref.nullable else inner

    def _inner(self, ref: TypeRef, c: Constraints) -> str:
        match ref:
            case ListOf(item) | MapOf(item):
                inner = self.annotation(item)
                text = f"tuple[{inner}, ...]" if isinstance(ref, ListOf) else f"dict[str, {inner}]"
                bounds = _kwargs(min_length=c.min_length, max_length=c.max_length)
                return self._annotated(text, self.rt_or_field("Field", bounds)) if bounds else text
            case Named(name):
                return self.class_name(name)
            case Scalar():
                return self._scalar(ref, c)

    def _scalar(self, ref: Scalar, c: Constraints) -> str:
        """The table's marker: the same call the generator validates defaults with."""
        row = scalars.info(ref)
        call = row.marker_call(ref, c)
        if call is not None:
            name, args, kwargs = call
            params = ", ".join([*map(_arg, args), _kwargs(**kwargs)] if kwargs else map(_arg, args))
            return self._annotated(self._plain_scalar(ref), f"{self.rt(name)}({params})")
        return self.rt(row.marker) if row.marker else self._plain_scalar(ref)

    def _plain_scalar(self, ref: Scalar) -> str:
        python = scalars.info(ref).python
        return python if isinstance(python, str) else self.imports.use(*python)

    def _annotated(self, base: str, *extra: str) -> str:
        return f"{self.imports.use('typing', 'Annotated')}[{base}, {', '.join(extra)}]"

    def rt(self, name: str) -> str:
        return self.imports.use(RT, name)

    def rt_or_field(self, name: str, args: str) -> str:
        return f"{self.imports.use('pydantic', name)}({args})"

    def plain(self, ref: TypeRef) -> str:
        """The annotation without validation markers (for return types)."""
        match ref:
            case ListOf(item):
                text = f"tuple[{self.plain(item)}, ...]"
            case MapOf(item):
                text = f"dict[str, {self.plain(item)}]"
            case Named(name):
                text = self.class_name(name)
            case Scalar():
                text = self._plain_scalar(ref)
        return f"{text} | None" if ref.nullable else text

    def value(self, ref: TypeRef, value: Any) -> str:
        """A Python expression for a typed value (see layout.typed_value)."""
        if value is None:
            return "None"
        match ref:
            case ListOf(item):
                items = [self.value(item, v) for v in value]
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            case MapOf(item):
                entries = (f"{py_str(k)}: {self.value(item, v)}" for k, v in value.items())
                return "{" + ", ".join(entries) + "}"
            case Named(name):
                return self._named_value(name, value)
            case Scalar():
                return self._scalar_value(value)

    def _named_value(self, qualified: str, value: Any) -> str:
        named = self.index[qualified]
        cls = self.class_name(qualified)
        if isinstance(named, EnumType):
            return f"{cls}.{naming.py_enum_member(value)}"
        assert isinstance(named, RecordType)
        fields = [f for f in named.fields if f.name in value]
        if any(naming.py_attr(f.name) != f.name for f in fields):
            # Aliased fields: type checkers see the alias as the init name; validate instead.
            items = ", ".join(
                f"{py_str(f.name)}: {self.value(f.type, value[f.name])}" for f in fields
            )
            return f"{cls}.model_validate({{{items}}})"
        args = ", ".join(
            f"{naming.py_attr(f.name)}={self.value(f.type, value[f.name])}" for f in fields
        )
        return f"{cls}({args})"

    def _scalar_value(self, value: Any) -> str:
        if isinstance(value, bool):
            return repr(value)
        if isinstance(value, str):
            return py_str(value)
        if isinstance(value, (int, float, bytes)):
            return repr(value)
        if isinstance(value, Decimal):
            return f"{self.imports.use('decimal', 'Decimal')}({py_str(format(value, 'f'))})"
        if isinstance(value, UUID):
            return f"{self.imports.use('uuid', 'UUID')}({py_str(str(value))})"
        if isinstance(value, datetime):
            parts = [value.year, value.month, value.day, value.hour, value.minute, value.second]
            args = ", ".join(map(str, parts + ([value.microsecond] if value.microsecond else [])))
            utc = self.imports.use("datetime", "UTC")
            return f"{self.imports.use('datetime', 'datetime')}({args}, tzinfo={utc})"
        if isinstance(value, date):
            return (
                f"{self.imports.use('datetime', 'date')}({value.year}, {value.month}, {value.day})"
            )
        if isinstance(value, time):
            parts = [value.hour, value.minute, value.second] + (
                [value.microsecond] if value.microsecond else []
            )
            return f"{self.imports.use('datetime', 'time')}({', '.join(map(str, parts))})"
        raise TypeError(f"no Python literal for {type(value).__name__}")


def _kwargs(**values: Any) -> str:
    return ", ".join(f"{k}={_arg(v)}" for k, v in values.items() if v is not None)


def _arg(value: Any) -> str:
    return py_str(value) if isinstance(value, str) else repr(value)
