"""The committed schema history: append-only, deterministic, strict parsing, transitive use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eventgen.evolution import history
from eventgen.evolution.errors import InputError
from eventgen.pipeline import load_project
from tests.evolution.helpers import BASE, findings, variant

AUDIT = "schemas-history/shop.audit-value"


def project(specs: Path):  # type: ignore[no-untyped-def]
    loaded, found = load_project(specs)
    assert loaded is not None, found
    return loaded


def test_first_emit_writes_version_1_of_every_subject() -> None:
    files = history.emit(project(BASE), {})
    assert f"{AUDIT}/1.avsc" in files
    assert "schemas-history/shop.cart-events-value/1.avsc" in files
    assert "schemas-history/shop.cart-events-key/1.avsc" in files
    assert all(p.endswith("/1.avsc") for p in files)
    union = json.loads(files["schemas-history/shop.cart-events-value/1.avsc"])
    assert [branch["name"] for branch in union] == ["CartClosed", "CartOpened"]
    single = json.loads(files[f"{AUDIT}/1.avsc"])
    assert single["type"] == "record" and single["name"] == "AuditRecorded"


def test_bytes_are_deterministic_and_canonical() -> None:
    first = history.emit(project(BASE), {})
    assert history.emit(project(BASE), {}) == first
    for content in first.values():
        text = content.decode()
        assert text.endswith(("}\n", "]\n"))
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_unchanged_project_adds_nothing(tmp_path: Path) -> None:
    first = history.emit(project(BASE), {})
    assert history.emit(project(BASE), first) == first


def test_change_appends_and_never_rewrites(tmp_path: Path) -> None:
    first = history.emit(project(BASE), {})
    changed = variant(
        tmp_path,
        "v2",
        {
            "shop.yaml": [
                (
                    "      note: string?\n",
                    "      note: string?\n      extra: {type: string, default: x}\n",
                )
            ]
        },
    )
    second = history.emit(project(changed), first)
    assert set(second) - set(first) == {f"{AUDIT}/2.avsc"}
    assert all(second[p] == first[p] for p in first)
    assert "extra" in second[f"{AUDIT}/2.avsc"].decode()


def test_json_projects_write_json_files(tmp_path: Path) -> None:
    specs = variant(
        tmp_path, "json", {"eventgen.yaml": [("serialization: avro", "serialization: json")]}
    )
    files = history.emit(project(specs), {})
    assert f"{AUDIT}/1.json" in files
    union = json.loads(files["schemas-history/shop.cart-events-value/1.json"])
    assert union["oneOf"] == [{"$ref": "#/$defs/CartClosed"}, {"$ref": "#/$defs/CartOpened"}]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({f"{AUDIT}/1.avsc": b"{"}, "is not valid JSON"),
        ({f"{AUDIT}/one.avsc": b"{}"}, "is not named <n>.avsc"),
        ({f"{AUDIT}/2.avsc": b"{}"}, "lacks version(s) 1 of 2"),
        ({"schemas-history/README": b"x"}, "unexpected file"),
    ],
)
def test_unparseable_history_is_an_input_error(files: dict[str, bytes], message: str) -> None:
    with pytest.raises(InputError) as err:
        history.emit(project(BASE), files)
    assert message in err.value.message
    assert err.value.exit_code == 2


def test_read_returns_paths_relative_to_the_output(tmp_path: Path) -> None:
    (tmp_path / AUDIT).mkdir(parents=True)
    (tmp_path / AUDIT / "1.avsc").write_bytes(b"{}\n")
    assert history.read(tmp_path) == {f"{AUDIT}/1.avsc": b"{}\n"}
    assert history.read(tmp_path / "missing") == {}


def test_transitive_mode_checks_every_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v1 has no `origin`, v2 adds it with a default, v3 drops the default.

    v3 reads v2 data (the field is there) but not v1 data: BACKWARD passes, the subject's
    BACKWARD_TRANSITIVE fails, and only because the history still holds v1.
    """
    monkeypatch.chdir(tmp_path)
    field = "      note: string?\n"
    v1 = variant(tmp_path, "v1")
    v2 = variant(
        tmp_path,
        "old",
        {"shop.yaml": [(field, field + "      origin: {type: string, default: api}\n")]},
    )
    files = history.emit(project(v2), history.emit(project(v1), {}))
    assert sorted(p for p in files if p.startswith(AUDIT)) == [f"{AUDIT}/1.avsc", f"{AUDIT}/2.avsc"]
    for path, content in files.items():
        (tmp_path / "generated" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "generated" / path).write_bytes(content)
    variant(tmp_path, "new", {"shop.yaml": [(field, field + "      origin: string\n")]})
    code, found = findings("new", "--against", "old")
    assert code == 1
    assert ("D0101", "new/shop.yaml:35:7") in found
    # The same change under plain BACKWARD only compares with the latest version: compatible.
    mode = ("    compatibility: BACKWARD_TRANSITIVE\n", "    compatibility: BACKWARD\n")
    for name in ("old", "new"):
        spec = tmp_path / name / "shop.yaml"
        spec.write_text(spec.read_text().replace(*mode))
    code, found = findings("new", "--against", "old")
    assert [f for f in found if f[0] == "D0101"] == []
