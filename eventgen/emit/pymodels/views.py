"""View models of generated Python modules: every string precomputed, templates only place them."""

from __future__ import annotations

from dataclasses import dataclass, field

from eventgen.emit import layout
from eventgen.emit.layout import TypeIndex
from eventgen.emit.pymodels.imports import Imports
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_str
from eventgen.emit.pymodels.types import TypeWriter
from eventgen.ir import naming
from eventgen.ir.model import Context, EnumType, Field, MapOf, Message, Named, Project, RecordType


@dataclass
class FieldView:
    attr: str
    annotation: str
    default: str | None  # None: required
    docstring: str | None

    @property
    def declaration(self) -> str:
        """`attr: annotation` or `attr: annotation = default`."""
        text = f"{self.attr}: {self.annotation}"
        return text if self.default is None else f"{text} = {self.default}"


@dataclass
class ClassView:
    name: str
    base: str
    docstring: str | None
    members: list[str] = field(default_factory=list)  # enum members / ClassVar lines
    fields: list[FieldView] = field(default_factory=list)
    key_return: str | None = None
    key_expr: str | None = None
    key_doc: str | None = None


@dataclass
class ModuleView:
    header: str
    docstring: str
    imports: list[str]
    classes: list[ClassView]
    exports: list[str]


def context_module(project: Project, index: TypeIndex, ctx: Context) -> ModuleView:
    """The module of one context: enums and records (dependencies first), then messages."""
    types = index.context_order(ctx.name)
    defined = [naming.py_class(t.name) for t in types] + [
        naming.py_class(m.name) for m in ctx.messages
    ]
    imports = Imports(project.package, defined)
    writer = TypeWriter(project, index, ctx.name, imports)
    open_model = project.defaults.json_content_model == "open"
    classes: list[ClassView] = []
    for named in types:
        if isinstance(named, EnumType):
            classes.append(_enum(named, imports))
        else:
            base = writer.rt("OpenRecord" if open_model else "Record")
            classes.append(_record(named.name, named.doc, named.fields, base, writer))
    for message in ctx.messages:
        classes.append(_message(project, message, writer, open_model))
    doc = ctx.doc or f"Models of the {ctx.name} context."
    return ModuleView(
        header=py_comment(layout.header(ctx.files)),
        docstring=py_docstring(doc),
        imports=imports.lines(),
        classes=classes,
        exports=[py_str(c.name) for c in sorted(classes, key=lambda c: c.name)],
    )


def _enum(named: EnumType, imports: Imports) -> ClassView:
    members = [f"{naming.py_enum_member(s)} = {py_str(s)}" for s in named.symbols]
    base = imports.use("enum", "StrEnum")
    return ClassView(naming.py_class(named.name), base, _doc(named.doc), members)


def _record(
    name: str, doc: str | None, fields: tuple[Field, ...], base: str, writer: TypeWriter
) -> ClassView:
    view = ClassView(naming.py_class(name), base, _doc(doc))
    view.fields = [_field(f, writer) for f in fields]
    return view


def _field(f: Field, writer: TypeWriter) -> FieldView:
    attr = naming.py_attr(f.name)
    annotation = writer.annotation(f.type, f.constraints)
    default: str | None = None
    if f.has_default or f.type.nullable:
        value = layout.typed_value(f.type, f.default if f.has_default else None, writer.index)
        default = writer.value(f.type, value)
        if isinstance(f.type, MapOf) and value is not None:
            factory = "dict" if not value else f"lambda: {default}"
            default = _field_call(writer, f"default_factory={factory}", attr, f)
        elif attr != f.name or f.deprecated:
            default = _field_call(writer, default, attr, f)
    elif attr != f.name or f.deprecated:
        default = _field_call(writer, None, attr, f)
    return FieldView(attr, annotation, default, _doc(f.doc))


def _field_call(writer: TypeWriter, first: str | None, attr: str, f: Field) -> str:
    args = [] if first is None else [first]
    if attr != f.name:
        args.append(f"alias={py_str(f.name)}")
    if f.deprecated:
        args.append("deprecated=True")
    return f"{writer.imports.use('pydantic', 'Field')}({', '.join(args)})"


def _message(project: Project, message: Message, writer: TypeWriter, open_model: bool) -> ClassView:
    base = writer.rt("OpenMessage" if open_model else "Message")
    view = _record(message.name, message.doc, message.fields, base, writer)
    classvar = writer.imports.use("typing", "ClassVar")
    view.members = [
        f"TYPE: {classvar}[str] = {py_str(naming.message_type(message.qualified))}",
        f"VERSION: {classvar}[int] = {message.version}",
        f"SCHEMAS: {classvar}[str] = {py_str(layout.schema_module(project, message.context))}",
    ]
    if message.upcasts:  # the runtime imports the chain when it decodes an older version
        module = py_str(layout.upcast_module(project, message.context))
        view.members.append(f"UPCASTS: {classvar}[str | None] = {module}")
    if message.key:
        view.key_return, view.key_expr = _key_access(message, writer)
        view.key_doc = py_docstring(f"The Kafka record key: `{'.'.join(message.key)}`.", indent=8)
    return view


def _key_access(message: Message, writer: TypeWriter) -> tuple[str, str]:
    """Return type and expression of the partition key path (None through a null record)."""
    assert message.key is not None
    fields = message.fields
    expr, guards, nullable = "self", [], False
    for i, part in enumerate(message.key):
        f = next(f for f in fields if f.name == part)
        expr = f"{expr}.{naming.py_attr(part)}"
        nullable = nullable or f.type.nullable
        if i < len(message.key) - 1:
            if f.type.nullable:
                guards.append(expr)
            assert isinstance(f.type, Named)  # the key check keeps key paths in records
            named = writer.index[f.type.name]
            assert isinstance(named, RecordType)
            fields = named.fields
    annotation = writer.plain(f.type)
    if nullable and not annotation.endswith(" | None"):
        annotation += " | None"
    if guards:
        expr = f"None if {' or '.join(f'{g} is None' for g in guards)} else {expr}"
    return annotation, expr


def _doc(text: str | None) -> str | None:
    return py_docstring(text, indent=4) if text and text.strip() else None
