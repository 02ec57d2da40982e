"""`<package>/<context>_projections.py`: row models, projectors and queries of one context.

Per spec projection the module holds:

- the row model (a frozen `Record` whose fields are written by eventgen.emit.pymodels, so types,
  constraints and defaults are the message models' own); it is also what queries return;
- `<NAME>_SPEC`, a `ProjectionSpec` literal: table, key, one `Column` per field (kind mapped
  from the spec type, see `column_kind`), the handled message types, and the sources. The
  sources rule: an event of the projection's own context whose message has `aggregate:` is
  read from the context's event store (`store_source`); every other event from its Kafka topic
  (`topics`, consumed by group `layout.projector_group`);
- `project_<name>(event) -> list[RowOp]`: one `case` per handled class; the row key is the
  rule's `key:` expression, else the event's field named like the projection key; the ops of
  one event come in the order the spec writes them (as the IR keeps them);
  `$.` values are read None-safely through nullable records, literals are written as values
  of the target column (enum columns get the symbol string);
- `<NAME>` (`ProjectionDefinition`), `<name>` (the `Projector`, with the context's
  `event_store` from `<context>_aggregates` when it reads the store) and `<name>_table`.

Per query: `returns` a projection of this context and every param a column of it -> a typed
function reading the table (`get` when the only param is the key, else the first `find`
match); otherwise a typed hook: a `Protocol`, `implement_<query>(fn)` to register the user's
implementation, and `<query>(conn, **params)` that calls it or raises NotImplementedError
naming what to implement.

`projection_sql` renders the read-model DDL (both dialects) with the runtime's own
`projection_ddl`, so the files and `ProjectionTable.ensure_schema` never disagree.
"""

from __future__ import annotations

from typing import Any

from eventgen.emit import layout
from eventgen.emit.layout import TypeIndex
from eventgen.emit.pymodels.imports import Imports, _isort_key
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_str
from eventgen.emit.pymodels.types import TypeWriter
from eventgen.emit.pymodels.views import ClassView, _record
from eventgen.emit.services.apps import _route, _Runtime, _tuple
from eventgen.emit.services.readmodels import (
    FIXED,
    ProjectionNames,
    columns,
    handled,
    query_app_attr,
    query_function,
    query_group,
    query_protocol,
    query_register,
    query_returns,
    source_topics,
    store_source,
    table_query,
)
from eventgen.ir import naming
from eventgen.ir.model import (
    ApplyRule,
    Context,
    EnumType,
    Expr,
    Field,
    ListOf,
    MapOf,
    Message,
    Named,
    Project,
    Projection,
    RecordType,
    TypeRef,
    thaw,
)


# The order the ops of one event are emitted in (and so applied).
class _Module:
    def __init__(self, project: Project, ctx: Context) -> None:
        self.project = project
        self.ctx = ctx
        self.index = TypeIndex(project)
        self.names = {p.name: ProjectionNames.of(p) for p in ctx.projections}
        self.queries = sorted((m for m in ctx.messages if m.kind == "query"), key=lambda m: m.name)
        defined = set(FIXED)
        for n in self.names.values():
            defined |= set(n.all())
        for q in self.queries:
            defined |= {query_function(q), query_protocol(q), query_register(q), query_app_attr(q)}
        self.imports = Imports(project.package, defined)
        self.rt = _Runtime(self.imports)
        # No context of its own: every named type is imported from its context's module.
        self.writer = TypeWriter(project, self.index, "", self.imports)
        self.uses_handler = any(r.op == "handler" for p in ctx.projections for r in p.on)
        self.hooks = [q for q in self.queries if self._table_query(q) is None]
        self.exports: list[str] = []
        self.sources: set[str] = set()

    # messages and values

    def message_class(self, message: Message) -> str:
        module = f"{self.project.package}.{naming.py_module(message.context)}"
        prefer = naming.pascal(message.context) + naming.py_class(message.name)
        return self.imports.use(module, naming.py_class(message.name), prefer)

    def path(self, message: Message, expr: Expr, var: str) -> str:
        """`$.a.b` of `var` (an instance of `message`), None when a nullable record is None."""
        if expr.root != "$":
            raise ValueError(f"projections read `$.` paths only, not {expr}")
        fields: tuple[Field, ...] = message.fields
        text, guards = var, []
        for i, part in enumerate(expr.path):
            f = next((f for f in fields if f.name == part), None)
            if f is None:
                raise ValueError(f"{message.qualified} has no field {'.'.join(expr.path[: i + 1])}")
            text = f"{text}.{naming.py_attr(part)}"
            if i < len(expr.path) - 1:
                if f.type.nullable:
                    guards.append(f"{text} is None")
                named = self.index[f.type.name] if isinstance(f.type, Named) else None
                if not isinstance(named, RecordType):
                    raise ValueError(f"{expr} goes through a field that is not a record")
                fields = named.fields
        return f"None if {' or '.join(guards)} else {text}" if guards else text

    def literal(self, ref: TypeRef, value: Any) -> str:
        """A spec literal as a value of a column of type `ref` (enums: the symbol string)."""
        if value is None:
            return "None"
        if isinstance(ref, Named) and isinstance(self.index[ref.name], EnumType):
            return py_str(str(value))
        return self.writer.value(ref, layout.typed_value(ref, value, self.index))

    def value(self, message: Message, expr: Expr, ref: TypeRef) -> str:
        if expr.root is None:
            return self.literal(ref, thaw(expr.literal))
        return self.path(message, expr, "event")

    # projections

    def projection(self, proj: Projection) -> list[str]:
        n = self.names[proj.name]
        self.sources |= set(self.ctx.files)
        row = _record(proj.name, None, proj.fields, self.writer.rt("Record"), self.writer)
        doc = getattr(proj, "doc", None)
        row.docstring = py_docstring(
            (doc.strip() + "\n\n" if isinstance(doc, str) and doc.strip() else "")
            + f"A row of the {proj.qualified} read model (table "
            f"`{layout.projection_table(proj.name)}`, key `{proj.key}`).",
            indent=4,
        )
        blocks = [_class_source(row)]
        blocks.append(self.spec(proj, n))
        blocks.append(self.project_fn(proj, n))
        messages = [self.message_class(m) for m in handled(self.project, proj)]
        definition = self.rt("es.spec", "ProjectionDefinition")
        blocks.append(
            f"{n.definition} = {definition}(\n"
            f"    {n.spec},\n    {n.row},\n    {n.project_fn},\n"
            f"    messages={_tuple(messages)},\n)"
        )
        projector = self.rt("es.projector", "Projector")
        if store_source(self.project, self.ctx, proj):
            module = layout.aggregates_module(self.project, self.ctx.name)
            store = self.imports.use(module, layout.EVENT_STORE_ATTR)
            args = f"{n.definition}, {store}"
        else:
            args = n.definition
        module_path = layout.projections_module(self.project, self.ctx.name)
        blocks.append(
            f"{n.projector} = {projector}({args})\n"
            + py_docstring(
                f"The {proj.name} projector: `python -m eventgen.runtime run "
                f"{module_path}:{n.projector}`; `.rebuild()` rebuilds the table."
            )
        )
        blocks.append(
            f"{n.table_attr} = {n.projector}.table\n"
            + py_docstring(f"The {proj.name} table: `get(conn, key)`, `find(conn, where)`.")
        )
        self.exports += list(n.all())
        for m in handled(self.project, proj):
            self.sources |= set(self.project.context(m.context).files)
        return blocks

    def spec(self, proj: Projection, n: ProjectionNames) -> str:
        column = self.rt("es.spec", "Column")
        cols = "".join(f"\n        {c.literal(column)}," for c in columns(self.project, proj))
        types = _tuple(
            py_str(naming.message_type(m.qualified)) for m in handled(self.project, proj)
        )
        routes = [
            _route(self.project, t, self.imports, self.rt)
            for t in source_topics(self.project, self.ctx, proj)
        ]
        topics = "".join(f"\n        {r}," for r in routes)
        args = [
            ("name", py_str(proj.name)),
            ("qualified", py_str(proj.qualified)),
            ("context", py_str(self.ctx.name)),
            ("table", py_str(layout.projection_table(proj.name))),
            ("key", py_str(proj.key)),
            ("columns", f"({cols}\n    )"),
            ("handles", types),
            ("store", py_str(layout.event_store_kind(self.ctx))),
            ("store_source", repr(store_source(self.project, self.ctx, proj))),
            ("group", py_str(layout.projector_group(self.ctx, proj.name))),
            ("topics", f"({topics}\n    )" if routes else "()"),
        ]
        spec = self.rt("es.spec", "ProjectionSpec")
        return f"{n.spec} = {spec}(\n" + "".join(f"    {k}={v},\n" for k, v in args) + ")"

    def project_fn(self, proj: Projection, n: ProjectionNames) -> str:
        message_t = self.rt("model", "Message")
        rowop = self.rt("es.spec", "RowOp")
        by_field = {f.name: f for f in proj.fields}
        key_field = by_field[proj.key]
        rules: dict[str, list[ApplyRule]] = {}
        for rule in proj.on:
            rules.setdefault(rule.message, []).append(rule)
        lines = [
            f"def {n.project_fn}(event: {message_t}) -> list[{rowop}]:",
            "    "
            + py_docstring(
                f"The row operations `event` asks of the {proj.name} table (none for other "
                "events).",
                indent=4,
            ),
            "    match event:",
        ]
        for m in handled(self.project, proj):
            cls = self.message_class(m)
            ordered = rules[m.qualified]
            key_rule = next((r.key for r in ordered if r.key is not None), None)
            if key_rule is None:
                key_rule = Expr("$", (proj.key,))
            key = self.value(m, key_rule, key_field.type)
            lines.append(f"        case {cls}():")
            ops = [self.row_op(rowop, m, r, key, by_field) for r in ordered]
            lines.append("            return [" + "".join(f"\n                {o}," for o in ops))
            lines.append("            ]")
        lines += ["        case _:", "            return []"]
        return "\n".join(lines)

    def row_op(
        self, rowop: str, m: Message, rule: ApplyRule, key: str, by_field: dict[str, Field]
    ) -> str:
        args = [f"kind={py_str(rule.op)}", f"key={key}"]
        if rule.op == "handler":
            assert rule.handler is not None
            args.append(f"handler=_handler({py_str(rule.handler)})")
        elif rule.op != "delete":
            items = []
            for target, expr in rule.assignments:
                ref = by_field[target].type
                if rule.op == "append":
                    assert isinstance(ref, ListOf)
                    ref = ref.item
                items.append(f"({py_str(target)}, {self.value(m, expr, ref)})")
            args.append(f"values={_tuple(items)}" if items else "values=()")
        return f"{rowop}({', '.join(args)})"

    # queries

    def returns(self, q: Message) -> str | None:
        return query_returns(self.ctx, q)

    def _table_query(self, q: Message) -> Projection | None:
        return table_query(self.ctx, q)

    def _param(self, f: Field) -> str:
        """`name: annotation` of a query parameter, `= default` when the spec gives one (a map
        default would be a mutable default argument: such a parameter stays required)."""
        text = f"{naming.py_attr(f.name)}: {self.writer.plain(f.type)}"
        if f.has_default and not (isinstance(f.type, MapOf) and f.default is not None):
            value = layout.typed_value(f.type, f.default, self.index)
            text += f" = {self.writer.value(f.type, value)}"
        return text

    def query(self, q: Message) -> list[str]:
        proj = self._table_query(q)
        attrs = {naming.py_attr(f.name) for f in q.fields}
        # Parameters are spec field names (never a leading underscore): a clash takes `_`.
        conn = "_conn" if "conn" in attrs else "conn"
        params = [self._param(f) for f in q.fields]
        any_t = self.imports.use("typing", "Any")
        signature = ", ".join([f"{conn}: {any_t}", "/", *(["*"] if params else []), *params])
        fn = query_function(q)
        doc = q.doc.strip() if isinstance(q.doc, str) and q.doc.strip() else ""
        if proj is not None:
            n = self.names[proj.name]
            self.exports.append(fn)
            returns = f"{n.row} | None"
            text = (doc + "\n\n" if doc else "") + (
                f"Query {q.qualified}: the {proj.name} row"
                + (f" with this {', '.join(f.name for f in q.fields)}" if q.fields else "")
                + f", or None (reads table `{layout.projection_table(proj.name)}`)."
            )
            blocks = []
            table = n.table_attr
            if table in attrs:  # a parameter named like the table object: read it by an alias
                table = f"_{n.table_attr}"
                blocks.append(f"{table} = {n.table_attr}")
            only_key = len(q.fields) == 1 and q.fields[0].name == proj.key
            if only_key:
                body = [f"return {table}.get({conn}, {naming.py_attr(q.fields[0].name)})"]
            else:
                where = ", ".join(f"{py_str(f.name)}: {naming.py_attr(f.name)}" for f in q.fields)
                body = [
                    f"_rows = {table}.find({conn}, {{{where}}}, limit=1)",
                    "return _rows[0] if _rows else None",
                ]
            blocks.append(
                f"def {fn}({signature}) -> {returns}:\n    "
                + py_docstring(text, indent=4)
                + "".join(f"\n    {line}" for line in body)
            )
            if q.topic is not None:
                blocks.append(self.query_app(q, proj, fn))
            return blocks
        returns = f"{self._returns(q)} | None"
        protocol, register = query_protocol(q), query_register(q)
        self.exports += [fn, protocol, register]
        target = self.returns(q) or "nothing"
        proto = self.imports.use("typing", "Protocol")
        text = (doc + "\n\n" if doc else "") + (
            f"Query {q.qualified} (returns {target}): eventgen cannot read it from a "
            f"projection of this context, so implement it: decorate a function "
            f"`(conn, *, params) -> {target.rsplit('.', 1)[-1]} | None` with `@{register}`."
        )
        call = ", ".join(
            [conn, *(f"{naming.py_attr(f.name)}={naming.py_attr(f.name)}" for f in q.fields)]
        )
        message = (
            py_str(f"query {q.qualified} has no implementation: ")
            + "\n            "
            + py_str(f"register one with @{register}")
        )
        this = "_self" if "self" in attrs else "self"
        return [
            f"class {protocol}({proto}):\n    "
            + py_docstring(f"The implementation of query {q.qualified}.", indent=4)
            + f"\n\n    def __call__({this}, {signature}) -> {returns}: ...",
            f"def {register}(fn: {protocol}) -> {protocol}:\n    "
            + py_docstring(f"Register `fn` as the implementation of query {q.qualified}.", indent=4)
            + f"\n    _QUERY_IMPLEMENTATIONS[{py_str(q.qualified)}] = fn\n    return fn",
            f"def {fn}({signature}) -> {returns}:\n    "
            + py_docstring(text, indent=4)
            + f"\n    _impl: {protocol} | None = _QUERY_IMPLEMENTATIONS.get({py_str(q.qualified)})"
            + "\n    if _impl is None:"
            + f"\n        raise NotImplementedError(\n            {message}\n        )"
            + f"\n    return _impl({call})",
        ]

    def query_app(self, q: Message, proj: Projection, fn: str) -> str:
        """`<query>_app = QueryApp(...)`: answers the query on its topic (runtime es.query)."""
        assert q.topic is not None
        attr = query_app_attr(q)
        self.exports.append(attr)
        topic = self.project.topic(q.topic)
        self.sources |= set(self.project.context(topic.context).files)
        route = _route(self.project, topic, self.imports, self.rt)
        spec_args = [
            ("name", py_str(q.name)),
            ("qualified", py_str(q.qualified)),
            ("context", py_str(self.ctx.name)),
            ("type", py_str(naming.message_type(q.qualified))),
            ("group", py_str(query_group(self.ctx, q))),
            ("store", py_str(layout.event_store_kind(self.ctx))),
            ("projection", py_str(proj.qualified)),
            ("params", _tuple(py_str(naming.py_attr(f.name)) for f in q.fields)),
        ]
        spec_t = self.rt("es.query", "QueryAppSpec")
        app_t = self.rt("es.query", "QueryApp")
        spec = f"{spec_t}(\n" + "".join(f"        {k}={v},\n" for k, v in spec_args) + "    )"
        module = layout.projections_module(self.project, self.ctx.name)
        doc = (
            f"Answers {q.qualified} over Kafka (requests on `{topic.kafka_name}`, each answer "
            "to the request's `reply_to` topic). Run it with\n\n"
            f"    python -m eventgen.runtime run {module}:{attr}\n\n"
            f"and ask with `{attr}.client(reply_topic=...)` or `{attr}.ask(query, "
            "reply_topic=...)`."
        )
        return (
            f"{attr} = {app_t}(\n    {spec},\n    {fn},\n"
            f"    row={self.names[proj.name].row},\n    query={self.message_class(q)},\n"
            f"    route={route},\n)\n" + py_docstring(doc)
        )

    def _returns(self, q: Message) -> str:
        """The class a hooked query returns: a named type, a projection's row model, or Any."""
        returns = self.returns(q)
        if returns is None:
            return self.imports.use("typing", "Any")
        if returns in self.project.types_by_name:
            named = self.project.named_type(returns)
            self.sources |= set(self.project.context(named.context).files)
            return self.writer.class_name(returns)
        context, name = naming.split_qualified(returns)
        if context == self.ctx.name and name in self.names:
            return self.names[name].row
        module = layout.projections_module(self.project, context)
        self.sources |= set(self.project.context(context).files)
        return self.imports.use(module, naming.py_class(name), naming.pascal(context) + name)

    def render(self) -> str:
        from eventgen.emit.files import context_sources

        self.sources |= set(context_sources(self.project, self.ctx))
        blocks: list[str] = []
        for proj in sorted(self.ctx.projections, key=lambda p: p.name):
            blocks += self.projection(proj)
        query_blocks: list[str] = []
        for q in self.queries:
            query_blocks += self.query(q)
        head: list[str] = []
        if self.hooks:
            any_t = self.imports.use("typing", "Any")
            head.append(
                f"_QUERY_IMPLEMENTATIONS: dict[str, {any_t}] = {{}}\n"
                + py_docstring("The registered implementations of the hooked queries.")
            )
        if self.uses_handler:
            any_t = self.imports.use("typing", "Any")
            callable_t = self.imports.use("collections.abc", "Callable")
            message_t = self.rt("model", "Message")
            fn_t = f"{callable_t}[[{any_t}, {message_t}], {any_t}]"
            head.append(f"_HANDLERS: dict[str, {fn_t}] = {{}}")
            head.append(
                f"def _handler(path: str) -> {fn_t}:\n    "
                + py_docstring(
                    "A user's row handler `package.module:function`, imported on first use: "
                    "`handler(row_or_None, event)` returns the new row, or None to delete it.",
                    indent=4,
                )
                + "\n    found = _HANDLERS.get(path)"
                + "\n    if found is None:"
                + "\n        import importlib"
                + '\n\n        module, _, name = path.partition(":")'
                + "\n        found = _HANDLERS[path] = getattr(importlib.import_module(module), name)"
                + "\n    return found"
            )
        doc = f"Read models and queries of the {self.ctx.name} context." + (
            " Run a projector with `python -m eventgen.runtime run MODULE:ATTR`."
            if self.ctx.projections
            else ""
        )
        exports = sorted(set(self.exports), key=lambda e: _isort_key((e, e)))
        parts = [
            py_comment(layout.header(sorted(self.sources))),
            py_docstring(doc),
            "",
            *self.imports.lines(),
            "",
            "__all__ = [" + ", ".join(py_str(e) for e in exports) + "]",
        ]
        text = "\n".join(parts)
        for block in [*head, *blocks, *query_blocks]:
            text += "\n\n\n" + block
        return text + "\n"


def _class_source(view: ClassView) -> str:
    lines = [f"class {view.name}({view.base}):"]
    if view.docstring:
        lines += [f"    {view.docstring}", ""]
    for f in view.fields:
        lines.append(f"    {f.declaration}")
        if f.docstring:
            lines.append(f"    {f.docstring}")
    if not view.fields and not view.docstring:
        lines.append("    pass")
    return "\n".join(lines)


def projections_source(project: Project, ctx: Context) -> str:
    """The unformatted source of `<package>/<context>_projections.py`."""
    return _Module(project, ctx).render()


def runtime_spec(project: Project, ctx: Context, proj: Projection) -> Any:
    """The projection's `eventgen.runtime.es.spec.ProjectionSpec` (without its topic routes,
    which need the generated bindings): what the DDL is rendered from."""
    from eventgen.runtime.es.spec import Column, ProjectionSpec

    return ProjectionSpec(
        name=proj.name,
        qualified=proj.qualified,
        context=ctx.name,
        table=layout.projection_table(proj.name),
        key=proj.key,
        columns=tuple(
            Column(
                name=c.name,
                kind=c.kind,  # type: ignore[arg-type]  # column_kind returns ColumnKind values
                nullable=c.nullable,
                precision=c.precision,
                scale=c.scale,
                default=c.default,
                has_default=c.has_default,
            )
            for c in columns(project, proj)
        ),
        handles=tuple(naming.message_type(m.qualified) for m in handled(project, proj)),
        store=layout.event_store_kind(ctx),
        store_source=store_source(project, ctx, proj),
        group=layout.projector_group(ctx, proj.name),
    )


DIALECTS: tuple[layout.Dialect, ...] = ("postgres", "sqlite")


def projection_sql(project: Project, ctx: Context) -> dict[str, str]:
    """{generated path: DDL text} of the context's read-model tables, both dialects.

    The text is the runtime's own `projection_ddl`, so the files and
    `ProjectionTable.ensure_schema` never disagree; layout claims the same paths.
    """
    from eventgen.runtime.es.rows import projection_ddl

    files: dict[str, str] = {}
    for proj in sorted(ctx.projections, key=lambda p: p.name):
        spec = runtime_spec(project, ctx, proj)
        table = layout.projection_table(proj.name)
        for dialect in DIALECTS:
            files[layout.sql_path(ctx.name, table, dialect)] = projection_ddl(dialect, spec)
    return files
