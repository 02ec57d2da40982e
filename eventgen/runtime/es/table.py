"""A projection's read-model table: DDL, typed reads for queries, and batched row operations.

Row operations of a batch are applied in memory over the batch's rows, read under the
projection's lock, then written back as one `INSERT .. ON CONFLICT (key) DO UPDATE` per changed
row and one `DELETE` per deleted row: the same result as applying them one by one, in a few
round trips. `set` / `inc` / `append` on a missing row do nothing (counted `missed`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from eventgen.runtime.db import dialect_of, lock_schema
from eventgen.runtime.es.rows import RowCodec, placeholder, projection_ddl
from eventgen.runtime.es.spec import ProjectionDefinition, R
from eventgen.runtime.model import Message
from eventgen.runtime.sql import Dialect, statements, table_ddl

log = logging.getLogger("eventgen.runtime.es.projector")

_SQLITE_IN = 500  # keys per `IN (...)` on SQLite (its parameter limit is far higher)


@dataclass
class BatchResult:
    missed: int = 0
    written: int = 0
    deleted: int = 0


class ProjectionTable(Generic[R]):
    """The read-model table: DDL, and typed reads for queries."""

    def __init__(self, definition: ProjectionDefinition[R]) -> None:
        self.definition = definition
        self._codecs: dict[Dialect, RowCodec[R]] = {}

    @property
    def name(self) -> str:
        return self.definition.spec.table

    def codec(self, dialect: Dialect) -> RowCodec[R]:
        codec = self._codecs.get(dialect)
        if codec is None:
            codec = self._codecs[dialect] = RowCodec(
                dialect, self.definition.spec, self.definition.row
            )
        return codec

    def ddl(self, dialect: Dialect, table: str | None = None) -> str:
        return projection_ddl(dialect, self.definition.spec, table)

    def ensure_schema(self, conn: Any, table: str | None = None) -> None:
        """Create the table and the checkpoints table if missing, in the caller's transaction
        (or autocommit); PostgreSQL serialises concurrent creators on an advisory lock."""
        dialect = dialect_of(conn)
        lock_schema(conn)
        ddl = self.ddl(dialect, table) + table_ddl(
            dialect, "checkpoints", self.definition.spec.checkpoint_table
        )
        for statement in statements(ddl):
            conn.execute(statement)

    def get(self, conn: Any, key: object, table: str | None = None) -> R | None:
        """The row of `key`, or None."""
        codec = self.codec(dialect_of(conn))
        key_value = codec.key(key)
        sql = (
            f"{codec.select_sql(table or self.name)} "
            f'WHERE "{codec.spec.key}" = {placeholder(codec.dialect)}'
        )
        fetched = conn.execute(sql, (codec.param(codec.spec.key, key_value),)).fetchone()
        return None if fetched is None else codec.from_db(fetched)

    def find(self, conn: Any, where: Mapping[str, object], limit: int | None = None) -> list[R]:
        """Rows whose columns equal `where` (None matches NULL), ordered by key."""
        codec = self.codec(dialect_of(conn))
        mark = placeholder(codec.dialect)
        clauses, params = [], []
        for name, value in where.items():
            if name not in codec.kinds:
                raise KeyError(f"projection {codec.spec.name} has no column {name!r}")
            if value is None:
                clauses.append(f'"{name}" IS NULL')
            else:
                clauses.append(f'"{name}" = {mark}')
                params.append(codec.param(name, codec.value(name, value)))
        sql = codec.select_sql(self.name)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f' ORDER BY "{codec.spec.key}"'
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [codec.from_db(row) for row in conn.execute(sql, params).fetchall()]

    def apply(
        self, conn: Any, messages: Sequence[Message], table: str | None = None
    ) -> BatchResult:
        """Apply the row operations of `messages`, in order, in the caller's transaction."""
        codec = self.codec(dialect_of(conn))
        project = self.definition.project
        planned = [(message, list(project(message))) for message in messages]
        keys = {codec.key(op.key) for _, ops in planned for op in ops}
        rows = self._load(conn, codec, table or self.name, keys)
        existed = {key for key, row in rows.items() if row is not None}
        dirty: set[Any] = set()
        result = BatchResult()
        key_column = codec.spec.key
        for message, ops in planned:
            for op in ops:
                key = codec.key(op.key)
                row = rows.get(key)
                if op.kind == "upsert":
                    if row is None:
                        row = self._new_row(codec, key)
                    for name, value in op.values:
                        row[name] = codec.value(name, value)
                elif op.kind == "delete":
                    row = None
                elif op.kind == "handler":
                    if op.handler is None:
                        raise ValueError(f"{codec.spec.name}: handler row op without a handler")
                    current = None if row is None else codec.to_model(row)
                    new = op.handler(current, message)
                    if new is None:
                        row = None
                    else:
                        row = codec.to_dict(new)
                        if row[key_column] != key:
                            raise ValueError(
                                f"{codec.spec.name}: handler changed the key {key!r} "
                                f"to {row[key_column]!r}"
                            )
                elif row is None:  # set / inc / append on a missing row
                    result.missed += 1
                    log.debug("%s: %s on missing row %r ignored", codec.spec.name, op.kind, key)
                    continue
                elif op.kind == "set":
                    for name, value in op.values:
                        row[name] = codec.value(name, value)
                elif op.kind == "inc":
                    for name, value in op.values:
                        current_value = row.get(name)
                        row[name] = codec.value(
                            name, value if current_value is None else current_value + value
                        )
                elif op.kind == "append":
                    for name, value in op.values:
                        row[name] = [*(row.get(name) or ()), codec.element(name, value)]
                else:
                    raise ValueError(f"{codec.spec.name}: unknown row op {op.kind!r}")
                rows[key] = row
                dirty.add(key)
        upserts = []
        deletes = []
        for key in dirty:
            row = rows[key]
            if row is None:
                if key in existed:
                    deletes.append((codec.param(key_column, key),))
            else:
                upserts.append(codec.params(codec.to_model(row)))
        target = table or self.name
        cursor = conn.cursor()
        try:
            if deletes:
                cursor.executemany(codec.delete_sql(target), deletes)
            if upserts:
                cursor.executemany(codec.upsert_sql(target), upserts)
        finally:
            cursor.close()
        result.written = len(upserts)
        result.deleted = len(deletes)
        return result

    def _new_row(self, codec: RowCodec[R], key: Any) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for column in codec.columns:
            if column.has_default:
                row[column.name] = codec.value(column.name, column.default)
            elif column.nullable:
                row[column.name] = None
        row[codec.spec.key] = key
        return row

    def _load(
        self, conn: Any, codec: RowCodec[R], table: str, keys: set[Any]
    ) -> dict[Any, dict[str, Any] | None]:
        rows: dict[Any, dict[str, Any] | None] = dict.fromkeys(keys)
        if not keys:
            return rows
        key_column = codec.spec.key
        params = [codec.param(key_column, key) for key in keys]
        select = codec.select_sql(table)
        if codec.dialect == "postgres":
            chunks = [params]
        else:
            chunks = [params[i : i + _SQLITE_IN] for i in range(0, len(params), _SQLITE_IN)]
        for chunk in chunks:
            if codec.dialect == "postgres":
                fetched = conn.execute(f'{select} WHERE "{key_column}" = ANY(%s)', (chunk,))
            else:
                marks = ", ".join("?" for _ in chunk)
                fetched = conn.execute(f'{select} WHERE "{key_column}" IN ({marks})', chunk)
            for values in fetched.fetchall():
                row = codec.db_dict(values)
                rows[codec.key(row[key_column])] = row
        return rows
