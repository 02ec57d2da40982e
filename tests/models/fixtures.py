"""Hand-built IR for the model emitters, and helpers to generate and import a package."""

from __future__ import annotations

import importlib
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from eventgen.emit import avro, jsonschema, python_models
from eventgen.emit.files import Files
from eventgen.ir.model import (
    Constraints,
    Context,
    Defaults,
    EnumType,
    Field,
    ListOf,
    MapOf,
    Message,
    MessageVersion,
    Named,
    Project,
    RecordType,
    Retry,
    Scalar,
    Topic,
    TypeRef,
    freeze,
)

HOSTILE_DOC = (
    'Quotes """ and \'\'\' and "x", a backslash \\ and \\n, Jinja {{ x }} {% if %} {# c #}, '
    "Unicode é ☃ 𝄞, a NUL \x00, a line separator \u2028, tab\there\n"
    'second line ending with a quote"'
)


def scalar(name: str, nullable: bool = False, **kw: Any) -> TypeRef:
    return Scalar(name, nullable=nullable, **kw)


def named(qualified: str, nullable: bool = False) -> TypeRef:
    return Named(qualified, nullable=nullable)


def list_of(item: TypeRef, nullable: bool = False) -> TypeRef:
    return ListOf(item, nullable=nullable)


def map_of(item: TypeRef, nullable: bool = False) -> TypeRef:
    return MapOf(item, nullable=nullable)


def fld(name: str, type_: TypeRef, default: Any = ..., **kw: Any) -> Field:
    if default is ... and type_.nullable:
        default = None
    if default is ...:
        return Field(name=name, type=type_, **kw)
    return Field(name=name, type=type_, has_default=True, default=freeze(default), **kw)


def topic(context: str, local: str, key: TypeRef | None) -> Topic:
    return Topic(
        qualified=f"{context}.{local}", context=context, local_name=local,
        kafka_name=f"{context}.{local}", partitions=3, replication_factor=1,
        min_insync_replicas=None, retention_ms=None, retention_bytes=None, cleanup=("delete",),
        compression=None, key_type=key, dlq=None, compatibility="BACKWARD", config=(),
    )  # fmt: skip


def context(name: str, types: list[Any], messages: list[Message], topics: list[Topic]) -> Context:
    return Context(
        name=name, doc=f"The {name} context.", files=(f"{name}.yaml",),
        types=tuple(sorted(types, key=lambda t: t.name)),
        messages=tuple(sorted(messages, key=lambda m: m.name)),
        topics=tuple(sorted(topics, key=lambda t: t.local_name)),
        consumers=(), outbox=None, aggregates=(), projections=(), sagas=(), choreographies=(),
    )  # fmt: skip


def project(contexts: list[Context], package: str, content_model: str = "closed") -> Project:
    retry = Retry(max_attempts=3, initial_ms=100, multiplier=2.0, max_interval_ms=1000)
    defaults = Defaults("avro", "BACKWARD", content_model, "at-least-once", 30000, retry)  # type: ignore[arg-type]
    files = tuple(sorted(["eventgen.yaml", *(f for c in contexts for f in c.files)]))
    return Project(
        "fx", package, "gen", None, defaults, tuple(sorted(contexts, key=lambda c: c.name)), files
    )


def message(
    context_name: str, name: str, fields: list[Field], *, kind: str = "event",
    topic_id: str | None = None, key: tuple[str, ...] | None = None, doc: str | None = None,
    older: list[MessageVersion] | None = None,
) -> Message:  # fmt: skip
    version = len(older or []) + 1
    versions = (*(older or []), MessageVersion(version, tuple(fields)))
    return Message(
        kind=kind, qualified=f"{context_name}.{name}", context=context_name, name=name,  # type: ignore[arg-type]
        fields=tuple(fields), version=version, versions=versions, doc=doc, topic=topic_id, key=key,
    )  # fmt: skip


def fixture_project(package: str = "fx_events") -> Project:
    """Every construct the emitters handle, with hostile names and docs."""
    a, b = "alpha", "beta-gamma"
    money = RecordType(f"{a}.Money", a, "Money", (
        fld("amount", scalar("decimal", precision=12, scale=2), doc="Amount", constraints=Constraints(minimum=0)),
        fld("currency", scalar("string"), constraints=Constraints(pattern="^[A-Z]{3}$")),
    ), doc="Money.")  # fmt: skip
    kind = EnumType(
        f"{a}.Kind",
        a,
        "Kind",
        ("A", "None", "class", "_hidden", "name", "upper"),
        default="A",
        doc=HOSTILE_DOC,
    )
    every = RecordType(f"{a}.Every", a, "Every", (
        fld("s", scalar("string"), constraints=Constraints(min_length=1, max_length=5)),
        fld("i", scalar("int"), constraints=Constraints(minimum=-5, maximum=5)),
        fld("l", scalar("long")),
        fld("f", scalar("float")),
        fld("d", scalar("double"), constraints=Constraints(minimum=-1.5, maximum=1e6)),
        fld("b", scalar("boolean")),
        fld("raw", scalar("bytes")),
        fld("u", scalar("uuid")),
        fld("day", scalar("date")),
        fld("at", scalar("time")),
        fld("ts", scalar("timestamp")),
        fld("big", scalar("decimal", precision=38, scale=10)),
        fld("whole", scalar("decimal", precision=5, scale=0)),
        fld("frac", scalar("decimal", precision=4, scale=4)),
        fld("maybe", scalar("int", nullable=True)),
        fld("tags", list_of(scalar("string")), constraints=Constraints(min_length=0, max_length=3)),
        fld("amounts", map_of(named(f"{a}.Money"))),
        fld("nested", list_of(map_of(scalar("int", nullable=True)), nullable=True)),
        fld("kind", named(f"{a}.Kind"), default="class"),
    ), doc=HOSTILE_DOC)  # fmt: skip
    defaults = [
        fld("class", scalar("string"), default='x"y\\z', doc="reserved name"),
        fld("date", scalar("date"), default="2024-02-29"),
        fld("from", scalar("timestamp"), default="2024-05-01T10:15:00.000123+02:00"),
        fld("json", scalar("time"), default="23:59:59.5"),
        fld("type", scalar("uuid"), default="6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11"),
        fld("total", scalar("decimal", precision=12, scale=2), default="0"),
        fld("blob", scalar("bytes"), default="AAEC/w=="),
        fld("ratio", scalar("float"), default=0.1),
        fld("count", scalar("long"), default=-7),
        fld("flag", scalar("boolean"), default=True),
        fld("price", named(f"{a}.Money"), default={"amount": "1.5", "currency": "EUR"}),
        fld("labels", list_of(scalar("string")), default=["a", "b"]),
        fld("limits", map_of(scalar("int")), default={"x": 1}),
        fld("empty", map_of(scalar("int")), default={}),
        fld("kinds", list_of(named(f"{a}.Kind")), default=["None"]),
        fld("legacy", scalar("string", nullable=True), deprecated=True, doc=HOSTILE_DOC),
        fld("note", scalar("string", nullable=True), default="n/a"),
    ]
    holder = RecordType(
        f"{a}.Holder", a, "Holder", (fld("inner", named(f"{a}.Money", nullable=True)),)
    )
    t_events = topic(a, "events", scalar("uuid"))
    t_cmds = topic(b, "commands", None)
    happened = message(a, "Happened", [
        fld("id", scalar("uuid")),
        fld("every", named(f"{a}.Every")),
        fld("holder", named(f"{a}.Holder")),
    ] + defaults, topic_id=t_events.qualified, key=("id",), doc=HOSTILE_DOC,
        older=[MessageVersion(1, (fld("id", scalar("uuid")),)), MessageVersion(2, (), complete=False)])  # fmt: skip
    keyed = message(a, "Nested", [fld("holder", named(f"{a}.Holder")), fld("id", scalar("uuid"))],
                    topic_id=t_events.qualified, key=("holder", "inner", "currency"))  # fmt: skip
    do_it = message(b, "DoIt", [
        fld("money", named(f"{a}.Money")),
        fld("kind", named(f"{a}.Kind", nullable=True)),
        fld("value", scalar("string")),
    ], kind="command", topic_id=t_cmds.qualified)  # fmt: skip
    local = RecordType(
        f"{b}.Money", b, "Money", (fld("cents", scalar("long")),), doc="A clash with alpha.Money."
    )
    ask = message(
        b,
        "Ask",
        [fld("local", named(f"{b}.Money")), fld("other", named(f"{a}.Money"))],
        kind="query",
    )
    ctx_a = context(a, [money, kind, every, holder], [happened, keyed], [t_events])
    ctx_b = context(b, [local], [do_it, ask], [t_cmds])
    return project([ctx_a, ctx_b], package)


def sample_happened(alpha: Any) -> Any:
    """A `fixture_project` Happened event with every scalar, collection and nesting filled."""
    every = alpha.Every(
        s="é", i=-5, l=2**63 - 1, f=0.5, d=-1.5, b=True, raw=b"\x00\xff", u=uuid.uuid4(),
        day="2024-02-29", at="12:00:00.000001", ts=datetime(2024, 1, 1, tzinfo=UTC),
        big=Decimal("-1.5"), whole=7, frac="0.0001", tags=("a",),
        amounts={"x": alpha.Money(amount="1.00", currency="EUR")}, nested=({"k": None},),
    )  # fmt: skip
    return alpha.Happened(id=uuid.uuid4(), every=every, holder=alpha.Holder())


def contents(files: Files) -> dict[str, bytes]:
    """Path -> bytes of emitted files."""
    return {path: f.data for path, f in files.items()}


def emit_all(proj: Project) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for emit in (python_models.emit, avro.emit, jsonschema.emit):
        files.update(contents(emit(proj)))
    return files


def write(files: dict[str, bytes], out: Path) -> None:
    for path, data in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def import_package(proj: Project, out: Path) -> dict[str, ModuleType]:
    """Write the generated package under `out` and import its modules (fresh)."""
    write(contents(python_models.emit(proj)), out)
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    for name in [m for m in sys.modules if m == proj.package or m.startswith(proj.package + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    modules = {}
    for ctx in proj.contexts:
        from eventgen.ir import naming

        modules[ctx.name] = importlib.import_module(f"{proj.package}.{naming.py_module(ctx.name)}")
    return modules


def model_class(proj: Project, modules: dict[str, ModuleType], qualified: str) -> Any:
    from eventgen.ir import naming

    ctx, name = naming.split_qualified(qualified)
    return getattr(modules[ctx], naming.py_class(name))
