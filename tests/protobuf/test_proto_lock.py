"""The field-number lock through the real CLI: numbers are given once and kept forever.

Every test edits a copy of tests/protobuf/fixtures/proto_shop and runs `eventgen build`
(in-process, `eventgen.cli.main`), then reads the lock and the `.proto` files the build wrote.
The rules tested are those of docs/interop.md ("The field-number lock"): a new field gets the
next number after the highest ever used or reserved; a removed one becomes a reserved number
and name; a re-added name gets a new number and its old one stays reserved; a rename is a
removal plus an addition; reordering changes nothing; a removed message keeps its entry;
a second build writes nothing. A lock broken by hand stops validate and build alike.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventgen import cli
from tests.protobuf.proto_protoc import run_protoc

FIXTURE = Path(__file__).parent / "fixtures" / "proto_shop"
LOCK = "protobuf/field-numbers.lock.json"
ORDERS = "pshop_events.orders"
COMMON = "pshop_events.common"
PLACED_FIELDS = {
    "order_id": 1, "customer": 2, "total": 3, "status": 4, "note": 5, "placed_at": 6, "tags": 7,
}  # fmt: skip
NOTE = "      note: string?\n"
CUSTOMER = "      customer: string\n"


def cli_run(*args: str) -> tuple[int, str, str]:
    """`eventgen ARGS` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


class Project:
    """A copy of the fixture and its output folder."""

    def __init__(self, root: Path) -> None:
        self.specs = root / "specs"
        self.out = root / "out"
        shutil.copytree(FIXTURE, self.specs)

    def edit(self, file: str, old: str, new: str) -> None:
        path = self.specs / file
        text = path.read_text()
        assert text.count(old) == 1, f"{old!r} must occur once in {file}"
        path.write_text(text.replace(old, new))

    def build(self, *extra: str) -> str:
        code, _, err = cli_run("build", str(self.specs), "-o", str(self.out), *extra)
        assert code == 0, err
        return err

    def lock(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / LOCK).read_text())
        return data

    def entry(self, package: str, group: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.lock()["packages"][package][group][name]
        return found

    def proto(self, name: str) -> str:
        return (self.out / "protobuf" / name).read_text()

    def files(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.out).as_posix(): p.read_bytes()
            for p in sorted(self.out.rglob("*"))
            if p.is_file()
        }

    def compiles(self, work: Path) -> None:
        """protoc accepts every file as written (reserved statements included)."""
        work.mkdir(exist_ok=True)
        names = sorted(p.name for p in (self.out / "protobuf").glob("*.proto"))
        result = run_protoc(self.out / "protobuf", names, work)
        assert (result.returncode, result.stderr) == (0, "")


@pytest.fixture
def shop(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    project.build()
    assert project.entry(ORDERS, "messages", "OrderPlaced") == {
        "fields": PLACED_FIELDS,
        "reserved": [],
        "reserved_names": [],
    }
    return project


def test_an_added_field_gets_the_next_number_and_the_others_stay(shop: Project) -> None:
    shop.edit("orders.yaml", NOTE, NOTE + "      channel: string\n")
    shop.build()
    placed = shop.entry(ORDERS, "messages", "OrderPlaced")
    assert placed["fields"] == {**PLACED_FIELDS, "channel": 8}
    assert "  string channel = 8;\n" in shop.proto("orders.proto")


def test_a_removed_field_becomes_reserved_number_and_name(shop: Project, tmp_path: Path) -> None:
    shop.edit("orders.yaml", NOTE, "")
    shop.build()
    placed = shop.entry(ORDERS, "messages", "OrderPlaced")
    assert placed == {
        "fields": {k: v for k, v in PLACED_FIELDS.items() if k != "note"},
        "reserved": [5],
        "reserved_names": ["note"],
    }
    text = shop.proto("orders.proto")
    assert '  reserved 5;\n  reserved "note";\n' in text
    assert " note = " not in text
    shop.compiles(tmp_path / "protoc")
    # A later field never takes the freed number: numbering continues above all ever used.
    shop.edit("orders.yaml", CUSTOMER, CUSTOMER + "      channel: string\n")
    shop.build()
    placed = shop.entry(ORDERS, "messages", "OrderPlaced")
    assert placed["fields"]["channel"] == 8
    assert placed["reserved"] == [5]


def test_a_removed_highest_field_is_not_reused_either(shop: Project) -> None:
    shop.edit("orders.yaml", '      tags: "list[string]"\n', "")
    shop.build()
    shop.edit("orders.yaml", NOTE, NOTE + "      labels: string\n")
    shop.build()
    placed = shop.entry(ORDERS, "messages", "OrderPlaced")
    assert (placed["fields"]["labels"], placed["reserved"]) == (8, [7])


def test_a_re_added_name_gets_a_new_number_and_the_old_stays_reserved(
    shop: Project, tmp_path: Path
) -> None:
    shop.edit("orders.yaml", NOTE, "")
    shop.build()
    shop.edit("orders.yaml", CUSTOMER, CUSTOMER + NOTE)
    shop.build()
    placed = shop.entry(ORDERS, "messages", "OrderPlaced")
    # docs/interop.md: "a field re-added under an old name gets a new number (the old one
    # stays reserved)"; the name itself is in use again, so it cannot stay reserved.
    assert placed == {
        "fields": {**PLACED_FIELDS, "note": 8},
        "reserved": [5],
        "reserved_names": [],
    }
    text = shop.proto("orders.proto")
    assert "  reserved 5;\n" in text and "  optional string note = 8;\n" in text
    assert '"note"' not in text
    shop.compiles(tmp_path / "protoc")


def test_a_rename_is_a_removal_plus_an_addition(shop: Project) -> None:
    shop.edit("orders.yaml", CUSTOMER, "      buyer: string\n")
    shop.build()
    placed = shop.entry(ORDERS, "messages", "OrderPlaced")
    fields = {k: v for k, v in PLACED_FIELDS.items() if k != "customer"}
    assert placed == {
        "fields": {**fields, "buyer": 8},
        "reserved": [2],
        "reserved_names": ["customer"],
    }


def test_reordering_fields_changes_no_number(shop: Project) -> None:
    before = shop.lock()
    # customer moves below tags, order_id below note.
    shop.edit("orders.yaml", CUSTOMER, "")
    shop.edit(
        "orders.yaml", '      tags: "list[string]"\n', '      tags: "list[string]"\n' + CUSTOMER
    )
    shop.edit("orders.yaml", "      order_id: uuid\n      total:", "      total:")
    shop.edit("orders.yaml", NOTE, NOTE + "      order_id: uuid\n")
    shop.build()
    assert shop.lock() == before
    text = shop.proto("orders.proto")
    placed = text[text.index("message OrderPlaced {") :]
    # The .proto follows the spec's order; each field keeps its number.
    assert placed.index("customer = 2;") > placed.index("tags = 7;")
    assert placed.index("order_id = 1;") > placed.index("note = 5;")


def test_enum_symbols_added_and_removed(shop: Project, tmp_path: Path) -> None:
    assert shop.entry(COMMON, "enums", "Status")["values"] == {"OPEN": 1, "PAID": 2, "SHIPPED": 3}
    shop.edit("common.yaml", "[OPEN, PAID, SHIPPED]", "[OPEN, SHIPPED, RETURNED]")
    shop.build()
    assert shop.entry(COMMON, "enums", "Status") == {
        "values": {"OPEN": 1, "SHIPPED": 3, "RETURNED": 4},
        "reserved": [2],
        "reserved_names": ["PAID"],
    }
    text = shop.proto("common.proto")
    assert '  reserved 2;\n  reserved "STATUS_PAID";\n  STATUS_UNSPECIFIED = 0;\n' in text
    assert "  STATUS_RETURNED = 4;\n" in text
    shop.compiles(tmp_path / "protoc")
    # PAID back: a new number, 2 stays reserved.
    shop.edit("common.yaml", "[OPEN, SHIPPED, RETURNED]", "[OPEN, PAID, SHIPPED, RETURNED]")
    shop.build()
    assert shop.entry(COMMON, "enums", "Status") == {
        "values": {"OPEN": 1, "PAID": 5, "SHIPPED": 3, "RETURNED": 4},
        "reserved": [2],
        "reserved_names": [],
    }
    shop.compiles(tmp_path / "protoc")


CANCELLED = (
    "  OrderCancelled:\n    topic: order-events\n    key: order_id\n    fields:\n"
    "      order_id: uuid\n      reason: string\n"
)


def test_a_removed_message_keeps_its_entry_and_its_return_reuses_nothing(
    shop: Project,
) -> None:
    entry = shop.entry(ORDERS, "messages", "OrderCancelled")
    assert entry["fields"] == {"order_id": 1, "reason": 2}
    shop.edit("orders.yaml", CANCELLED, "")
    shop.build()
    assert "OrderCancelled" not in shop.proto("orders.proto")
    assert shop.entry(ORDERS, "messages", "OrderCancelled") == entry
    # Back with `reason` gone and a new field: order_id keeps 1, reason's 2 is reserved.
    shop.edit(
        "orders.yaml",
        "  AuditNoted:",
        CANCELLED.replace("reason: string", "comment: string") + "  AuditNoted:",
    )
    shop.build()
    assert shop.entry(ORDERS, "messages", "OrderCancelled") == {
        "fields": {"order_id": 1, "comment": 3},
        "reserved": [2],
        "reserved_names": ["reason"],
    }


def test_a_second_build_is_a_byte_identical_fixpoint(shop: Project) -> None:
    shop.edit("orders.yaml", NOTE, "")  # with reservations, the lock's richest shape
    shop.edit("common.yaml", "[OPEN, PAID, SHIPPED]", "[OPEN, SHIPPED]")
    shop.build()
    first = shop.files()
    err = shop.build("--no-cache")
    assert shop.files() == first
    assert ": 0 created, 0 updated, 0 removed, " in err, err
    assert first[LOCK] == (shop.out / LOCK).read_bytes()


# ---- a hand-broken lock: validate and build report the same findings --------------------

# The lines after an enum's "reserved" in the lock, up to the Status enum's first value.
ENUM_TAIL = '          "reserved_names": [],\n          "values": {\n            "OPEN": 1'
BROKEN = {
    # One number for two names (a merge that kept both sides).
    "E0904": ('"reason": 2', '"reason": 1'),
    # A reserved number still in use.
    "E0905": (f'"reserved": [],\n{ENUM_TAIL}', f'"reserved": [1],\n{ENUM_TAIL}'),
    "E0906": ('"customer": 2', '"customer": 19500'),
    "E0901": ('"version": 1\n}', '"version": 1\n'),
    "E0903": ('"reason": 2', '"reason": 2, "reason": 3'),
    "E0902": ('"reason": 2', '"reason": "2"'),
}


def _findings(*args: str) -> tuple[int, list[dict[str, Any]]]:
    code, out, _ = cli_run(*args, "--format", "json")
    found: list[dict[str, Any]] = json.loads(out)
    return code, found


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_a_hand_broken_lock_stops_validate_and_build_alike(shop: Project, code: str) -> None:
    old, new = BROKEN[code]
    path = shop.out / LOCK
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    before = shop.files()
    args = (str(shop.specs), "-o", str(shop.out))
    v_code, v_found = _findings("validate", *args)
    b_code, b_found = _findings("build", *args)
    nc_code, nc_found = _findings("build", *args, "--no-cache")
    assert (v_code, b_code, nc_code) == (1, 1, 1)
    assert v_found == b_found == nc_found
    assert [f["code"] for f in v_found] == [code]
    finding = v_found[0]
    assert finding["file"].endswith(LOCK) and finding["severity"] == "error"
    # Positioned on the broken text (E0901's line is where JSON parsing failed).
    line = new.split("\n")[0] if code != "E0901" else None
    if line is not None:
        lines = path.read_text().splitlines()
        assert line.strip().split(":")[0] in lines[finding["line"] - 1], finding
    assert shop.files() == before  # nothing was written


# ---- random edit sequences ------------------------------------------------------------

POOL = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")
SYMBOLS = ("RED", "GREEN", "BLUE", "CYAN")
Edit = tuple[str, int, int]
EDITS = st.tuples(
    st.sampled_from(("add", "remove", "rename", "reorder", "sym_add", "sym_remove")),
    st.integers(0, 5),
    st.integers(0, 5),
)


def _apply(fields: list[str], symbols: list[str], edit: Edit) -> None:
    op, a, b = edit
    free = [n for n in POOL if n not in fields]
    if op == "add" and free:
        fields.insert(a % (len(fields) + 1), free[b % len(free)])
    elif op == "remove" and len(fields) > 1:
        del fields[a % len(fields)]
    elif op == "rename" and free:
        fields[a % len(fields)] = free[b % len(free)]
    elif op == "reorder":
        fields.insert(b % len(fields), fields.pop(a % len(fields)))
    elif op == "sym_add" and (spare := [s for s in SYMBOLS if s not in symbols]):
        symbols.append(spare[a % len(spare)])
    elif op == "sym_remove" and len(symbols) > 1:
        del symbols[a % len(symbols)]


def _write_spec(specs: Path, fields: list[str], symbols: list[str]) -> None:
    specs.mkdir(exist_ok=True)
    (specs / "eventgen.yaml").write_text(
        "eventgen: 1\nproject: edits\npackage: edits_events\noutput: ../out\n"
        "defaults: {serialization: protobuf}\n"
    )
    body = "".join(f"      {n}: string\n" for n in fields)
    (specs / "things.yaml").write_text(
        "eventgen: 1\ncontext: things\ntypes:\n"
        f"  Thing:\n    fields:\n{body}"
        f"  Kind:\n    enum: [{', '.join(symbols)}]\n"
    )


def _check_step(
    entry: dict[str, Any], key: str, seen: dict[int, str], retired: set[int], current: list[str]
) -> None:
    assigned: dict[str, int] = entry[key]
    assert sorted(assigned) == sorted(current)
    assert len(set(assigned.values())) == len(assigned)
    for name, number in assigned.items():
        # A number belongs to one name forever, and a number that left use never returns.
        assert seen.setdefault(number, name) == name
        assert number not in retired
    # The lock only grows: every number ever seen is still assigned or reserved.
    reserved = set(entry["reserved"])
    assert set(seen) == set(assigned.values()) | reserved
    assert retired <= reserved
    retired.update(reserved)
    assert set(entry["reserved_names"]).isdisjoint(assigned)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(EDITS, min_size=1, max_size=6))
def test_random_edit_sequences_never_reuse_a_number(edits: list[Edit]) -> None:
    fields = ["alpha", "beta"]
    symbols = ["RED", "GREEN"]
    with tempfile.TemporaryDirectory() as tmp:
        specs, out = Path(tmp) / "specs", Path(tmp) / "out"
        seen: dict[str, dict[int, str]] = {"m": {}, "e": {}}
        retired: dict[str, set[int]] = {"m": set(), "e": set()}
        for edit in [("noop", 0, 0), *edits]:
            _apply(fields, symbols, edit)
            _write_spec(specs, fields, symbols)
            code, _, err = cli_run("build", str(specs), "-o", str(out))
            assert code == 0, err
            pkg = json.loads((out / LOCK).read_text())["packages"]["edits_events.things"]
            _check_step(pkg["messages"]["Thing"], "fields", seen["m"], retired["m"], fields)
            _check_step(pkg["enums"]["Kind"], "values", seen["e"], retired["e"], symbols)
            # The .proto says the lock's numbers, in the spec's order.
            proto = (out / "protobuf" / "things.proto").read_text()
            numbers = pkg["messages"]["Thing"]["fields"]
            for name in fields:
                assert f"  string {name} = {numbers[name]};\n" in proto
