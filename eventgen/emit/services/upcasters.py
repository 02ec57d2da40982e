"""`<package>/_upcast/<context>.py`: the spec's upcaster ops as plain typed Python.

One function per step (`from: N` turns a version-N payload into version N+1), chained by
`upcast(message_type, version, payload) -> payload`, which every decode path of the runtime
calls for an older version (the messages' `UPCASTS` names the module; the runtime imports it
on first use, like `SCHEMAS`). Ops act on the decoded payload dict in the order written:

- rename: the old key moves to the new name (absent: nothing to move);
- add: a literal fills a missing field, `{from: other}` copies `other`'s value;
- remove: the keys are dropped;
- split / merge: strings split on `sep` (absent: whitespace; at most one split per extra
  target unless `maxsplit` says otherwise) / joined with `sep` (absent: one space);
- convert: to a scalar type (strings, numbers, booleans and decimals are converted; other
  types are left to the model's validation), or through `map` with its `default`;
- handler: `"package.module:function"`, imported on first use, gets and returns the dict.

Every spec value is written through literals.py, so nothing from a spec is pasted raw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventgen.emit import layout
from eventgen.emit.pymodels.literals import py_comment, py_docstring, py_literal, py_str
from eventgen.ir import naming
from eventgen.ir.model import Context, Message, Project, UpcastOp, thaw

# Scalar targets `convert: {to: ...}` converts itself; the rest the model validates.
_CONVERTERS = {
    "string": "_to_str",
    "int": "_to_int",
    "long": "_to_int",
    "float": "_to_float",
    "double": "_to_float",
    "boolean": "_to_bool",
    "decimal": "_to_decimal",
}


@dataclass
class StepView:
    name: str
    docstring: str
    lines: list[str]


@dataclass
class UpcastView:
    header: str
    docstring: str
    imports: list[str]
    helpers: list[str]  # names of the helper functions the steps use (the template defines them)
    steps: list[StepView]
    table: list[str]  # `"type": (current, (step, ...)),` lines
    uses: dict[str, bool] = field(default_factory=dict)


def upcast_view(project: Project, ctx: Context) -> UpcastView:
    helpers: set[str] = set()
    steps: list[StepView] = []
    table: list[str] = []
    for message in ctx.messages:
        if not message.upcasts:
            continue
        names = []
        for upcast in message.upcasts:
            name = f"_{naming.py_class(message.name)}_v{upcast.from_version}"
            names.append(name)
            lines = ["p = dict(payload)"]
            for op in upcast.ops:
                lines.extend(_op_lines(op, helpers))
            lines.append("return p")
            doc = f"{message.qualified} v{upcast.from_version} -> v{upcast.from_version + 1}."
            steps.append(StepView(name, py_docstring(doc, indent=4), lines))
        chain = ", ".join(names) + ("," if len(names) == 1 else "")
        table.append(
            f"{py_str(naming.message_type(message.qualified))}: ({message.version}, ({chain})),"
        )
    imports = ["from collections.abc import Callable", "from typing import Any"]
    if "_to_decimal" in helpers:
        imports.insert(0, "from decimal import Decimal")
    if "_handler" in helpers:
        imports[:0] = ["import functools", "import importlib"]
        imports.append("from typing import cast")
    imports = _isorted(imports)
    doc = f"Upcasters of the {ctx.name} context: older payload versions lifted to the current one."
    return UpcastView(
        header=py_comment(layout.header(ctx.files)),
        docstring=py_docstring(doc),
        imports=imports,
        helpers=sorted(helpers),
        steps=steps,
        table=table,
        uses={h: h in helpers for h in (*_CONVERTERS.values(), "_handler", "_mapped")},
    )


def _isorted(lines: list[str]) -> list[str]:
    """Stdlib imports in isort order: `import x` before `from x import`, by module."""
    plain = sorted(line for line in lines if line.startswith("import "))
    froms: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith("from "):
            module, _, names = line[5:].partition(" import ")
            froms.setdefault(module, []).extend(names.split(", "))
    return plain + [f"from {m} import {', '.join(sorted(set(froms[m])))}" for m in sorted(froms)]


def _op_lines(op: UpcastOp, helpers: set[str]) -> list[str]:
    args: Any = thaw(op.args)
    if op.op == "rename":
        return [
            f"if {py_str(old)} in p:\n    p[{py_str(new)}] = p.pop({py_str(old)})"
            for old, new in args.items()
        ]
    if op.op == "add":
        lines = []
        for name, value in args.items():
            if isinstance(value, dict) and isinstance(value.get("from"), str) and len(value) == 1:
                source = py_str(value["from"])
                lines.append(f"if {source} in p:\n    p[{py_str(name)}] = p[{source}]")
            else:
                lines.append(f"p.setdefault({py_str(name)}, {py_literal(value)})")
        return lines
    if op.op == "remove":
        return [f"p.pop({py_str(name)}, None)" for name in args]
    if op.op == "split":
        into = list(args["into"])
        sep = py_literal(args.get("sep"))
        maxsplit = py_literal(int(args.get("maxsplit", len(into) - 1)))
        source = py_str(args["field"])
        targets = ", ".join(py_str(t) for t in into)
        return [
            (
                f"if {source} in p:\n"
                f"    parts = str(p.pop({source})).split({sep}, {maxsplit})\n"
                f"    p.update(zip(({targets}), parts, strict=False))"
            )
        ]
    if op.op == "merge":
        names = ", ".join(py_str(n) for n in args["fields"])
        sep = py_literal(args.get("sep", " "))
        return [
            (
                f"p[{py_str(args['into'])}] = {sep}.join(\n"
                f"    str(p.pop(n)) for n in ({names}) if n in p and p[n] is not None\n"
                ")"
            )
        ]
    if op.op == "convert":
        target = py_str(args["field"])
        if "map" in args:
            helpers.add("_mapped")
            default = py_literal(args["default"]) if "default" in args else "_KEEP"
            # Looked up as text (YAML may read a key as a number): `_mapped` does the same.
            mapping = py_literal({str(k): v for k, v in args["map"].items()})
            return [
                f"if {target} in p:\n    p[{target}] = _mapped(p[{target}], {mapping}, {default})"
            ]
        to = str(args.get("to", "")).removesuffix("?")
        converter = _CONVERTERS.get(to)
        if converter is None:
            return [py_comment(f"{args['field']}: the model's validation converts it to {to}")]
        helpers.add(converter)
        return [f"if p.get({target}) is not None:\n    p[{target}] = {converter}(p[{target}])"]
    if op.op == "handler":
        helpers.add("_handler")
        return [f"p = _handler({py_str(str(args))})(p)"]
    raise ValueError(f"unknown upcast op {op.op}")  # the spec schema admits no other


def upcasting_messages(ctx: Context) -> list[Message]:
    return [m for m in ctx.messages if m.upcasts]
