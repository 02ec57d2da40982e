"""protoc (from grpcio-tools) compiles every generated `.proto`, and agrees with us on them.

Two builds through the real CLI: the example (specs/) and the hostile-names fixture. For
each, protoc must compile all files with no error and no warning, and the
FileDescriptorProto that eventgen/emit/protobuf/descriptor.py builds (the one the runtime
will load) must equal protoc's, message for message. The mapping rules of docs/interop.md
are then checked on protoc's descriptors against the spec IR, not against our own model.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, text_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventgen import cli
from eventgen.emit import layout
from eventgen.emit.protobuf.descriptor import file_descriptor
from eventgen.emit.protobuf.lock_file import read_lock
from eventgen.emit.protobuf.mapping import upper_snake
from eventgen.emit.protobuf.plan import proto_files
from eventgen.emit.protobuf.render import render_proto
from eventgen.ir.model import EnumType, Field, ListOf, MapOf, Named, Project, Scalar, TypeRef
from eventgen.pipeline import load_project
from tests.protobuf.proto_protoc import ProtocResult, run_protoc

REPO = Path(__file__).resolve().parents[2]
HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
# Spec folder, the .proto import paths its build must write (sorted).
CASES = {
    "example": (
        REPO / "specs",
        ["inventory.proto", "orders.proto", "payments.proto", "shipping.proto"],
    ),
    "hostile": (HOSTILE, ["alpha.proto", "base_types.proto"]),
}
TIMESTAMP = ".google.protobuf.Timestamp"
TIMESTAMP_IMPORT = "google/protobuf/timestamp.proto"
F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "string": F.TYPE_STRING, "int": F.TYPE_INT32, "long": F.TYPE_INT64, "float": F.TYPE_FLOAT,
    "double": F.TYPE_DOUBLE, "boolean": F.TYPE_BOOL, "bytes": F.TYPE_BYTES,
    "uuid": F.TYPE_STRING, "date": F.TYPE_STRING, "time": F.TYPE_STRING,
    "decimal": F.TYPE_STRING,
}  # fmt: skip


@dataclass(frozen=True)
class Built:
    specs: Path
    out: Path
    project: Project
    protoc: ProtocResult
    names: list[str]


def _build(specs: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["build", str(specs), "-o", str(out), "--no-cache"])
    captured = capsys.readouterr()
    assert code == 0, captured.err


@pytest.fixture(params=sorted(CASES))
def built(
    request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Built:
    specs, expected = CASES[request.param]
    out = tmp_path / "out"
    _build(specs, out, capsys)
    proto_dir = out / layout.PROTO_FOLDER
    names = sorted(p.name for p in proto_dir.glob("*.proto"))
    assert names == expected
    project, found = load_project(specs)
    assert project is not None, found
    work = tmp_path / "protoc"
    work.mkdir()
    return Built(specs, out, project, run_protoc(proto_dir, names, work), names)


def test_protoc_compiles_every_file_without_errors_or_warnings(built: Built) -> None:
    assert built.protoc.returncode == 0, built.protoc.stderr
    assert built.protoc.stderr == ""
    # The set holds our files and the well-known ones they import, nothing else.
    ours = sorted(name for name in built.protoc.files if not name.startswith("google/"))
    assert ours == built.names
    assert len(ours) == len(CASES["example" if "orders.proto" in ours else "hostile"][1])


def _shown(fd: descriptor_pb2.FileDescriptorProto) -> list[str]:
    return str(text_format.MessageToString(fd)).splitlines()


def test_our_descriptor_equals_protocs(built: Built) -> None:
    assert built.protoc.returncode == 0, built.protoc.stderr
    lock, found = read_lock(built.specs, built.out)
    assert found == [] and lock is not None
    files = proto_files(built.project, lock)
    assert sorted(f.import_path for f in files.values()) == built.names
    compared = 0
    for f in files.values():
        # The model is what is on disk, so its descriptor is the one of the compiled file.
        assert render_proto(f) == (built.out / f.path).read_text(encoding="utf-8")
        ours = file_descriptor(f)
        theirs = built.protoc.files[f.import_path]
        assert not theirs.HasField("source_code_info")
        if ours != theirs:
            diff = "\n".join(difflib.unified_diff(_shown(theirs), _shown(ours), "protoc", "ours"))
            pytest.fail(f"{f.import_path}: descriptor differs from protoc's\n{diff}")
        assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(
            deterministic=True
        )
        compared += 1
    assert compared == len(built.names)


class _Index:
    """protoc's messages and enums by full name (leading dot), and their files."""

    def __init__(self, protoc: ProtocResult) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        for fd in protoc.files.values():
            for msg in fd.message_type:
                self._message(f".{fd.package}", msg)
            for enum in fd.enum_type:
                self.enums[f".{fd.package}.{enum.name}"] = enum

    def _message(self, scope: str, msg: descriptor_pb2.DescriptorProto) -> None:
        full = f"{scope}.{msg.name}"
        self.messages[full] = msg
        for nested in msg.nested_type:
            self._message(full, nested)
        for enum in msg.enum_type:
            self.enums[f"{full}.{enum.name}"] = enum


def _one_field(
    msg: descriptor_pb2.DescriptorProto, name: str
) -> descriptor_pb2.FieldDescriptorProto:
    assert [f.name for f in msg.field] == [name], msg
    assert msg.field[0].number == 1
    return msg.field[0]


class _Checker:
    """Follows a spec type through protoc's descriptor (wrappers and map entries included)."""

    def __init__(self, project: Project, index: _Index, package: dict[str, str]) -> None:
        self.project = project
        self.index = index
        self.package = package  # context -> proto package
        self.timestamps = 0
        self.optionals = 0

    def target(self, qualified: str) -> str:
        ctx, name = qualified.split(".", 1)
        return f".{self.package[ctx]}.{name}"

    def field(self, t: TypeRef, fd: descriptor_pb2.FieldDescriptorProto, where: str) -> None:
        """`fd` (a singular field) carries one value of spec type `t`."""
        assert fd.label == F.LABEL_OPTIONAL, where
        match t:
            case Scalar(name="timestamp"):
                assert (fd.type, fd.type_name) == (F.TYPE_MESSAGE, TIMESTAMP), where
                assert not fd.proto3_optional, where  # message fields have presence already
                self.timestamps += 1
            case Scalar():
                assert fd.type == SCALARS[t.name], where
                self._presence(t.nullable, fd, where)
            case Named():
                enum = isinstance(self.project.named_type(t.name), EnumType)
                assert fd.type == (F.TYPE_ENUM if enum else F.TYPE_MESSAGE), where
                assert fd.type_name == self.target(t.name), where
                assert (self.index.enums if enum else self.index.messages).get(fd.type_name)
                self._presence(t.nullable and enum, fd, where)
            case ListOf() | MapOf() if t.nullable:
                wrapper = self._wrapper(fd, where)
                self.container(t, _one_field(wrapper, "values"), where)
            case ListOf() | MapOf():
                pytest.fail(f"{where}: a non-nullable container in a singular field")

    def container(
        self, t: ListOf | MapOf, fd: descriptor_pb2.FieldDescriptorProto, where: str
    ) -> None:
        """`fd` (repeated, or a map) carries spec container `t`'s elements."""
        assert fd.label == F.LABEL_REPEATED, where
        if isinstance(t, MapOf):
            entry = self.index.messages[fd.type_name]
            assert entry.options.map_entry, where
            key, value = entry.field
            assert (key.name, key.number, key.type) == ("key", 1, F.TYPE_STRING), where
            assert (value.name, value.number) == ("value", 2), where
            self.element(t.item, value, where + "[value]")
        else:
            self.element(t.item, fd, where + "[]")

    def element(self, t: TypeRef, fd: descriptor_pb2.FieldDescriptorProto, where: str) -> None:
        """One list element / map value: direct when proto can say it, else an Item wrapper."""
        assert not fd.proto3_optional, where
        if isinstance(t, (Scalar, Named)) and not t.nullable:
            copy = descriptor_pb2.FieldDescriptorProto()
            copy.CopyFrom(fd)
            copy.label = F.LABEL_OPTIONAL
            self.field(t, copy, where)
            return
        item = self._wrapper(fd, where)
        assert item.name.endswith("Item"), where
        value = _one_field(item, "value")
        if isinstance(t, (ListOf, MapOf)) and not t.nullable:
            self.container(t, value, where)
        else:
            self.field(t, value, where)

    def _wrapper(
        self, fd: descriptor_pb2.FieldDescriptorProto, where: str
    ) -> descriptor_pb2.DescriptorProto:
        assert fd.type == F.TYPE_MESSAGE, where
        return self.index.messages[fd.type_name]

    def _presence(
        self, nullable: bool, fd: descriptor_pb2.FieldDescriptorProto, where: str
    ) -> None:
        assert fd.proto3_optional == nullable, where
        if nullable:
            self.optionals += 1
            assert fd.HasField("oneof_index"), where


def test_every_spec_type_and_field_follows_the_mapping(built: Built) -> None:
    assert built.protoc.returncode == 0, built.protoc.stderr
    project = built.project
    index = _Index(built.protoc)
    package = {c.name: layout.proto_package(project, c.name) for c in project.contexts}
    checker = _Checker(project, index, package)
    spec_messages = spec_enums = fields = 0
    for ctx in project.contexts:
        fd = built.protoc.files[layout.proto_import(ctx.name)]
        assert fd.package == package[ctx.name] and fd.syntax == "proto3"
        records: list[tuple[str, tuple[Field, ...]]] = []
        enums: list[EnumType] = []
        for t in ctx.types:
            if isinstance(t, EnumType):
                enums.append(t)
            else:
                records.append((t.name, t.fields))
        records += [(m.name, m.fields) for m in ctx.messages]
        # Exactly one top-level message per record/event/command/query, one enum per enum.
        assert sorted(m.name for m in fd.message_type) == sorted(n for n, _ in records)
        assert sorted(e.name for e in fd.enum_type) == sorted(e.name for e in enums)
        for name, spec_fields in records:
            msg = index.messages[f".{fd.package}.{name}"]
            by_name = {f.name: f for f in msg.field}
            assert sorted(by_name) == sorted(f.name for f in spec_fields), name
            for f in spec_fields:
                where = f"{ctx.name}.{name}.{f.name}"
                proto = by_name[f.name]
                assert proto.options.deprecated == f.deprecated, where
                if isinstance(f.type, (ListOf, MapOf)) and not f.type.nullable:
                    checker.container(f.type, proto, where)
                else:
                    checker.field(f.type, proto, where)
                fields += 1
        for enum in enums:
            proto_enum = index.enums[f".{fd.package}.{enum.name}"]
            prefix = upper_snake(enum.name)
            first = proto_enum.value[0]
            assert (first.name, first.number) == (f"{prefix}_UNSPECIFIED", 0), enum.name
            names = [v.name for v in proto_enum.value[1:]]
            assert sorted(names) == sorted(f"{prefix}_{upper_snake(s)}" for s in enum.symbols)
            assert all(v.number > 0 for v in proto_enum.value[1:])
        spec_messages += len(records)
        spec_enums += len(enums)
        uses_timestamp = any(f.type_name == TIMESTAMP for m in _all(fd) for f in m.field)
        assert (TIMESTAMP_IMPORT in fd.dependency) == uses_timestamp, ctx.name
    assert spec_messages > 0 and fields > 0
    assert spec_enums > 0 and checker.optionals > 0 and checker.timestamps > 0


def _all(fd: descriptor_pb2.FileDescriptorProto) -> list[descriptor_pb2.DescriptorProto]:
    todo = list(fd.message_type)
    found = []
    while todo:
        msg = todo.pop()
        found.append(msg)
        todo.extend(msg.nested_type)
    return found


def test_hostile_fixture_covers_every_nullable_scalar_and_timestamps_in_containers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Counts on the hostile fixture, so the mapping checks above cannot pass vacuously."""
    out = tmp_path / "out"
    _build(HOSTILE, out, capsys)
    names = ["alpha.proto", "base_types.proto"]
    work = tmp_path / "protoc"
    work.mkdir()
    result = run_protoc(out / layout.PROTO_FOLDER, names, work)
    assert result.returncode == 0, result.stderr
    project, _ = load_project(HOSTILE)
    assert project is not None
    package = {c.name: layout.proto_package(project, c.name) for c in project.contexts}
    checker = _Checker(project, _Index(result), package)
    everything = project.named_type("alpha.Everything")
    containers = project.named_type("alpha.Containers")
    assert not isinstance(everything, EnumType) and not isinstance(containers, EnumType)
    index = _Index(result)
    for record in (everything, containers):
        msg = index.messages[f".{package['alpha']}.{record.name}"]
        by_name = {f.name: f for f in msg.field}
        for f in record.fields:
            if isinstance(f.type, (ListOf, MapOf)) and not f.type.nullable:
                checker.container(f.type, by_name[f.name], f.name)
            else:
                checker.field(f.type, by_name[f.name], f.name)
    # ns..nde minus nts (a message) plus maybe_colour, optional, old_thing: 15 optionals;
    # timestamps: ts, nts, nullable_values' values, stamps' elements.
    assert (checker.optionals, checker.timestamps) == (15, 4)


def _compare_all(specs: Path, out: Path, work: Path) -> int:
    """protoc compiles the build under `out` cleanly and our descriptors equal its own."""
    project, found = load_project(specs)
    assert project is not None, found
    lock, lock_found = read_lock(specs, out)
    assert lock_found == []
    files = proto_files(project, lock)
    names = sorted(f.import_path for f in files.values())
    work.mkdir(exist_ok=True)
    result = run_protoc(out / layout.PROTO_FOLDER, names, work)
    assert (result.returncode, result.stderr) == (0, "")
    for f in files.values():
        assert render_proto(f) == (out / f.path).read_text(encoding="utf-8")
        ours, theirs = file_descriptor(f), result.files[f.import_path]
        if ours != theirs:
            diff = "\n".join(difflib.unified_diff(_shown(theirs), _shown(ours), "protoc", "ours"))
            pytest.fail(f"{f.import_path}: descriptor differs from protoc's\n{diff}")
    return len(files)


PROTO_SHOP = Path(__file__).parent / "fixtures" / "proto_shop"


def test_reserved_numbers_and_names_match_protoc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Removed fields and symbols: message reserved ranges end exclusive, enum ones
    inclusive, names as written; protoc and our descriptor must agree on both."""
    specs, out = tmp_path / "specs", tmp_path / "out"
    shutil.copytree(PROTO_SHOP, specs)
    _build(specs, out, capsys)
    orders = specs / "orders.yaml"
    orders.write_text(orders.read_text().replace("      note: string?\n", ""))
    common = specs / "common.yaml"
    common.write_text(common.read_text().replace("[OPEN, PAID, SHIPPED]", "[OPEN]"))
    _build(specs, out, capsys)
    text = (out / "protobuf" / "common.proto").read_text()
    assert 'reserved 2, 3;\n  reserved "STATUS_PAID", "STATUS_SHIPPED";' in text
    assert _compare_all(specs, out, tmp_path / "protoc") == 2


# ---- random records: our descriptor equals protoc's for any mix of types ---------------

NAMES = ("a_1b", "value", "values", "key", "message", "tags", "line_items", "x9", "entry", "map")
LEAVES = (
    "string", "int", "long", "float", "double", "boolean", "bytes", "uuid", "date", "time",
    "timestamp", "decimal(10,2)", "Kind", "Inner", "other.Ref", "other.Colour",
)  # fmt: skip


def _type_text(draw: st.DrawFn, depth: int) -> str:
    if depth >= 3 or draw(st.booleans()):
        text = draw(st.sampled_from(LEAVES))
    else:
        inner = _type_text(draw, depth + 1)
        text = f"{draw(st.sampled_from(('list', 'map')))}[{inner}]"
    return text + ("?" if draw(st.booleans()) else "")


@st.composite
def records(draw: st.DrawFn) -> list[tuple[str, str]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    return [(n, _type_text(draw, 0)) for n in names]


def _random_specs(root: Path, fields: list[tuple[str, str]]) -> Path:
    specs = root / "specs"
    specs.mkdir()
    (specs / "eventgen.yaml").write_text(
        "eventgen: 1\nproject: rnd\npackage: rnd_events\noutput: ../out\n"
        "defaults: {serialization: protobuf, topic: {partitions: 1, replication_factor: 1}}\n"
    )
    (specs / "other.yaml").write_text(
        "eventgen: 1\ncontext: other\ntypes:\n"
        "  Ref:\n    fields: {id: string}\n  Colour:\n    enum: [RED, DARK_BLUE]\n"
    )
    body = "".join(f'      {name}: "{t}"\n' for name, t in fields)
    (specs / "main.yaml").write_text(
        "eventgen: 1\ncontext: main\ntypes:\n"
        "  Kind:\n    enum: [ONE, TWO]\n  Inner:\n    fields: {n: int}\n"
        f"  Shape:\n    fields:\n{body}"
    )
    return specs


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_random_records_compile_and_match_protoc(fields: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        specs = _random_specs(root, fields)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(["build", str(specs), "--no-cache"])
        assert code == 0, err.getvalue()
        assert _compare_all(specs, root / "out", root / "protoc") == 2
