"""What the projections emitter derives from the IR: each read model's columns and sources,
its generated names, and which queries read a projection and get an app (the module text
itself is written by eventgen.emit.services.projections)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventgen.emit import layout
from eventgen.emit.pymodels.literals import py_literal, py_str
from eventgen.ir import naming
from eventgen.ir.model import (
    Context,
    EnumType,
    Message,
    Named,
    Project,
    Projection,
    Scalar,
    Topic,
    TypeRef,
    thaw,
)

# The order the ops of one event are emitted in (and so applied).

SCALAR_KINDS = frozenset(
    {
        "uuid", "string", "int", "long", "float", "double", "boolean", "decimal", "date",
        "time", "timestamp", "bytes",
    }
)  # fmt: skip


# -- columns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnInfo:
    """A read-model column as the generator sees it (mirrors eventgen.runtime.es.spec.Column)."""

    name: str
    kind: str
    nullable: bool = False
    precision: int | None = None
    scale: int | None = None
    default: Any = None
    has_default: bool = False

    def literal(self, column: str) -> str:
        """`Column(...)` source, only the arguments that differ from the defaults."""
        args = [py_str(self.name), py_str(self.kind)]
        if self.nullable:
            args.append("nullable=True")
        if self.precision is not None:
            args.append(f"precision={self.precision}")
        if self.scale is not None:
            args.append(f"scale={self.scale}")
        if self.has_default:
            args += [f"default={py_literal(self.default)}", "has_default=True"]
        return f"{column}({', '.join(args)})"


def column_kind(project: Project, ref: TypeRef) -> str:
    """The `ColumnKind` of a spec type: scalars by name, enums `enum`, the rest `json`."""
    match ref:
        case Scalar(name):
            if name not in SCALAR_KINDS:
                raise ValueError(f"no column kind for scalar {name!r}")
            return name
        case Named(name) if isinstance(project.named_type(name), EnumType):
            return "enum"
        case _:
            return "json"  # lists, maps and records


def columns(project: Project, proj: Projection) -> list[ColumnInfo]:
    found = []
    for f in proj.fields:
        ref = f.type
        decimal = isinstance(ref, Scalar) and ref.name == "decimal"
        found.append(
            ColumnInfo(
                name=f.name,
                kind=column_kind(project, ref),
                nullable=ref.nullable,
                precision=ref.precision if decimal and isinstance(ref, Scalar) else None,
                scale=ref.scale if decimal and isinstance(ref, Scalar) else None,
                default=thaw(f.default) if f.has_default else None,
                has_default=f.has_default,
            )
        )
    return found


# -- sources --------------------------------------------------------------------------------


def from_store(ctx: Context, message: Message) -> bool:
    """The sources rule: an own-context event of an aggregate is read from the event store."""
    return message.context == ctx.name and message.aggregate is not None


def handled(project: Project, proj: Projection) -> list[Message]:
    """The messages a projection handles, by TYPE."""
    names = sorted({rule.message for rule in proj.on})
    return [project.message(n) for n in names]


def source_topics(project: Project, ctx: Context, proj: Projection) -> list[Topic]:
    """The Kafka topics a projection consumes (sorted by qualified name)."""
    topics = {
        m.topic: project.topic(m.topic)
        for m in handled(project, proj)
        if not from_store(ctx, m) and m.topic is not None
    }
    return [topics[q] for q in sorted(topics)]


def store_source(project: Project, ctx: Context, proj: Projection) -> bool:
    return any(from_store(ctx, m) for m in handled(project, proj))


# -- names ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectionNames:
    row: str  # the row model class
    spec: str  # ORDER_SUMMARY_SPEC
    definition: str  # ORDER_SUMMARY
    project_fn: str  # project_order_summary
    projector: str  # order_summary
    table_attr: str  # order_summary_table

    @classmethod
    def of(cls, proj: Projection) -> ProjectionNames:
        snake = naming.snake(proj.name)
        return cls(
            row=naming.py_class(proj.name),
            spec=f"{snake.upper()}_SPEC",
            definition=snake.upper(),
            project_fn=f"project_{snake}",
            projector=layout.projector_attr(proj.name),
            table_attr=f"{snake}_table",
        )

    def all(self) -> tuple[str, ...]:
        return (
            self.row,
            self.spec,
            self.definition,
            self.project_fn,
            self.projector,
            self.table_attr,
        )


def query_function(query: Message) -> str:
    return layout.query_attr(query.name)


def query_protocol(query: Message) -> str:
    return naming.py_class(query.name) + "Query"


def query_register(query: Message) -> str:
    return f"implement_{naming.snake(query.name)}"


def query_app_attr(query: Message) -> str:
    """The `QueryApp` answering a query over Kafka (`GetOrderSummary` -> `get_order_summary_app`)."""
    return f"{layout.query_attr(query.name)}_app"


def query_group(ctx: Context, query: Message) -> str:
    """The Kafka group of a query's answering app: `<context>.<query-kebab>-answerer`."""
    return f"{ctx.name}.{naming.snake(query.name).replace('_', '-')}-answerer"


def query_returns(ctx: Context, query: Message) -> str | None:
    """The qualified name of what a query returns (the spec may write it unqualified)."""
    if query.returns is None:
        return None
    return query.returns if "." in query.returns else naming.qualified(ctx.name, query.returns)


def table_query(ctx: Context, query: Message) -> Projection | None:
    """The projection a query reads directly, or None (a hook the user implements): it
    returns a projection of its own context and every parameter is a column of it."""
    returns = query_returns(ctx, query)
    proj = next((p for p in ctx.projections if p.qualified == returns), None)
    if proj is None:
        return None
    cols = {f.name for f in proj.fields}
    return proj if all(f.name in cols for f in query.fields) else None


def query_app(project: Project, ctx: Context, query: Message) -> str | None:
    """`module:attr` of the app answering `query` over Kafka: a query with a `topic` whose
    function reads a projection (a hooked query has no app); else None."""
    if query.topic is None or table_query(ctx, query) is None:
        return None
    return f"{layout.projections_module(project, ctx.name)}:{query_app_attr(query)}"


# Fixed names the module defines besides the per-item ones.
FIXED = frozenset({"_HANDLERS", "_handler", "_QUERY_IMPLEMENTATIONS"})


# -- the module -----------------------------------------------------------------------------
