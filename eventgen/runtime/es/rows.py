"""Read-model tables of projections: DDL, and rows to and from SQL values, per dialect.

`projection_ddl` writes the table of a `ProjectionSpec` (the generator writes the same text to
generated/sql/, `ProjectionTable.ensure_schema` runs it). Column mapping:

| kind            | PostgreSQL        | SQLite                    |
|-----------------|-------------------|---------------------------|
| uuid            | uuid              | TEXT (8-4-4-4-12)         |
| string, enum    | text              | TEXT                      |
| int / long      | integer / bigint  | INTEGER                   |
| float / double  | real / double     | REAL                      |
| boolean         | boolean           | INTEGER (0/1)             |
| decimal         | numeric(p,s)      | TEXT (exact digits)       |
| date / time     | date / time       | TEXT (ISO 8601)           |
| timestamp       | timestamptz       | TEXT (`iso_utc`)          |
| bytes           | bytea             | BLOB                      |
| json            | jsonb             | TEXT (JSON)               |

`RowCodec` turns a row model into the statement parameters of its columns and a fetched row
back into the model, so that `get` returns exactly what was written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Generic
from uuid import UUID

from pydantic import TypeAdapter

from eventgen.runtime.es.spec import Column, ProjectionSpec, R
from eventgen.runtime.sql import Dialect, iso_utc, quote

SHADOW_SUFFIX = "__rebuild"


def _pg_type(column: Column) -> str:
    if column.kind == "decimal":
        if column.precision is not None:
            return f"numeric({column.precision},{column.scale or 0})"
        return "numeric"
    return {
        "uuid": "uuid",
        "string": "text",
        "enum": "text",
        "int": "integer",
        "long": "bigint",
        "float": "real",
        "double": "double precision",
        "boolean": "boolean",
        "date": "date",
        "time": "time",
        "timestamp": "timestamptz",
        "bytes": "bytea",
        "json": "jsonb",
    }[column.kind]


def _sqlite_type(column: Column) -> str:
    return {
        "int": "INTEGER",
        "long": "INTEGER",
        "boolean": "INTEGER",
        "float": "REAL",
        "double": "REAL",
        "bytes": "BLOB",
    }.get(column.kind, "TEXT")


def column_type(dialect: Dialect, column: Column) -> str:
    """The SQL type of a column in `dialect`."""
    return _pg_type(column) if dialect == "postgres" else _sqlite_type(column)


def projection_ddl(dialect: Dialect, spec: ProjectionSpec, table: str | None = None) -> str:
    """`CREATE TABLE IF NOT EXISTS` of the projection's read model (`table` overrides the name).

    The key column is the primary key, under the constraint name `<table>_pkey` (what
    PostgreSQL would pick), which a rebuild's swap renames with the table. Deterministic;
    the text ends in `;\\n` like `eventgen.runtime.sql.table_ddl`.
    """
    if dialect not in ("sqlite", "postgres"):
        raise ValueError(f"dialect {dialect!r}: expected 'sqlite' or 'postgres'")
    name = table or spec.table
    quoted = quote(name)
    columns = {column.name: column for column in spec.columns}
    if spec.key not in columns:
        raise ValueError(f"projection {spec.name}: key {spec.key!r} is not one of its columns")
    lines = []
    for column in spec.columns:
        _check_column(column.name)
        null = "" if column.nullable and column.name != spec.key else " NOT NULL"
        lines.append(f'"{column.name}" {column_type(dialect, column)}{null}')
    lines.append(f'CONSTRAINT "{name}_pkey" PRIMARY KEY ("{spec.key}")')
    body = ",\n".join(f"    {line}" for line in lines)
    return f"CREATE TABLE IF NOT EXISTS {quoted} (\n{body}\n);\n"


def _check_column(name: str) -> None:
    quote(name)  # the same identifier rule as table names


def placeholder(dialect: Dialect) -> str:
    return "%s" if dialect == "postgres" else "?"


class RowCodec(Generic[R]):
    """A projection's row model <-> SQL parameters of its columns, in one dialect."""

    def __init__(self, dialect: Dialect, spec: ProjectionSpec, row: type[R]) -> None:
        self.dialect: Dialect = dialect
        self.spec = spec
        self.row = row
        self.columns = spec.columns
        self.names = tuple(column.name for column in spec.columns)
        self.kinds = {column.name: column for column in spec.columns}
        self.attrs: dict[str, str] = {}  # column -> model attribute
        self.aliases: dict[str, str] = {}  # column -> key of model_dump(by_alias=True)
        self.adapters: dict[str, TypeAdapter[Any]] = {}
        fields = row.model_fields
        for column in spec.columns:
            for attr, info in fields.items():
                if column.name in (attr, info.alias):
                    self.attrs[column.name] = attr
                    self.aliases[column.name] = info.alias or attr
                    self.adapters[column.name] = TypeAdapter(info.rebuild_annotation())
                    break
            else:
                raise ValueError(
                    f"projection {spec.name}: row model {row.__name__} has no field {column.name!r}"
                )

    # -- values -----------------------------------------------------------------------

    def value(self, column: str, value: Any) -> Any:
        """`value` validated as the column's Python value (a spec literal, an event field)."""
        return self.adapters[column].validate_python(value)

    def element(self, column: str, value: Any) -> Any:
        """`value` validated as one element of a list column (for `append`)."""
        validated = self.adapters[column].validate_python([value])
        return next(iter(validated))

    def key(self, value: Any) -> Any:
        return self.value(self.spec.key, value)

    def to_dict(self, row: R) -> dict[str, Any]:
        """The row's column values (validated Python values)."""
        return {name: getattr(row, self.attrs[name]) for name in self.names}

    def to_model(self, values: dict[str, Any]) -> R:
        return self.row.model_validate(
            {self.aliases[name]: value for name, value in values.items()}
        )

    # -- SQL parameters ---------------------------------------------------------------

    def params(self, row: R) -> tuple[Any, ...]:
        """The row's column values as statement parameters, in column order."""
        wire = row.model_dump(mode="json", by_alias=True)
        return tuple(
            self.param(name, getattr(row, self.attrs[name]), wire[self.aliases[name]])
            for name in self.names
        )

    def param(self, column: str, value: Any, wire: Any = None) -> Any:
        """One column value as a parameter; `wire` is its JSON form (computed when None)."""
        if value is None:
            return None
        kind = self.kinds[column].kind
        if wire is None and kind in ("json", "enum", "string", "decimal", "date", "time"):
            wire = self.adapters[column].dump_python(value, mode="json")
        if self.dialect == "postgres":
            if kind == "json":
                from psycopg.types.json import Jsonb

                return Jsonb(wire)
            if kind in ("enum", "string"):
                return wire
            return value
        if kind == "json":
            return json.dumps(wire, separators=(",", ":"), ensure_ascii=False)
        if kind == "uuid":
            return str(value)
        if kind == "timestamp":
            return iso_utc(value)
        if kind in ("decimal", "date", "time", "enum", "string"):
            return wire
        if kind == "boolean":
            return 1 if value else 0
        return value

    def from_db(self, fetched: Sequence[Any]) -> R:
        """A fetched row (columns in `names` order) as the row model."""
        return self.to_model(self.db_dict(fetched))

    def db_dict(self, fetched: Sequence[Any]) -> dict[str, Any]:
        values = {}
        for name, raw in zip(self.names, fetched, strict=True):
            values[name] = self._native(name, raw)
        return values

    def _native(self, column: str, raw: Any) -> Any:
        if raw is None:
            return None
        kind = self.kinds[column].kind
        if self.dialect == "postgres":
            if kind == "json" and isinstance(raw, str):
                return json.loads(raw)
            if kind == "bytes" and isinstance(raw, memoryview):
                return bytes(raw)
            return raw
        if kind == "json":
            return json.loads(raw)
        if kind == "uuid":
            return UUID(raw)
        if kind == "decimal":
            return Decimal(raw)
        if kind == "timestamp":
            return datetime.fromisoformat(raw)
        if kind == "date":
            return date.fromisoformat(raw)
        if kind == "time":
            return time.fromisoformat(raw)
        if kind == "boolean":
            return bool(raw)
        return raw

    # -- statements -------------------------------------------------------------------

    def select_sql(self, table: str) -> str:
        cols = ", ".join(f'"{name}"' for name in self.names)
        return f"SELECT {cols} FROM {quote(table)}"

    def upsert_sql(self, table: str) -> str:
        """Insert the whole row, or update every non-key column of the existing one."""
        mark = placeholder(self.dialect)
        cols = ", ".join(f'"{name}"' for name in self.names)
        marks = ", ".join(mark for _ in self.names)
        rest = [name for name in self.names if name != self.spec.key]
        action = (
            "DO UPDATE SET " + ", ".join(f'"{name}" = excluded."{name}"' for name in rest)
            if rest
            else "DO NOTHING"
        )
        return (
            f"INSERT INTO {quote(table)} ({cols}) VALUES ({marks}) "
            f'ON CONFLICT ("{self.spec.key}") {action}'
        )

    def delete_sql(self, table: str) -> str:
        return f'DELETE FROM {quote(table)} WHERE "{self.spec.key}" = {placeholder(self.dialect)}'
