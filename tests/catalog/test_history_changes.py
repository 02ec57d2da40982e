"""What the schema history page says changed between two versions, from the schemas."""

from __future__ import annotations

from typing import Any

from eventgen.emit.catalog.history_doc import changes, shape_of


def record(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "shop.orders", "fields": fields}


STATUS = {"type": "enum", "name": "Status", "symbols": ["A", "B"]}


def test_avro_fields_added_removed_changed() -> None:
    old = record("Placed", [{"name": "a", "type": "string"}, {"name": "b", "type": "int"}])
    new = record("Placed", [{"name": "a", "type": "long"}, {"name": "c", "type": "string"}])
    found = changes(shape_of("1.avsc", old), shape_of("2.avsc", new))
    assert found == [
        "changed field `a` of `shop.orders.Placed`: `string` to `long`",
        "removed field `b` of `shop.orders.Placed`",
        "added field `c` of `shop.orders.Placed`",
    ]


def test_avro_inline_definition_moving_is_no_change() -> None:
    """A named type is defined at its first use; moving that use is not a change."""
    old = record(
        "Placed", [{"name": "x", "type": STATUS}, {"name": "y", "type": "shop.orders.Status"}]
    )
    new = record(
        "Placed", [{"name": "y", "type": STATUS}, {"name": "x", "type": "shop.orders.Status"}]
    )
    found = changes(shape_of("1.avsc", old), shape_of("2.avsc", new))
    assert found == ["no structural change (docs, defaults or order only)"]


def test_avro_union_enum_symbols_and_types() -> None:
    old = [record("A", [{"name": "s", "type": STATUS}])]
    status = {**STATUS, "symbols": ["A", "C"]}
    new = [record("A", [{"name": "s", "type": status}]), record("B", [])]
    found = changes(shape_of("1.avsc", old), shape_of("2.avsc", new))
    assert found == [
        "added type `shop.orders.B`",
        "removed symbol `B` of `shop.orders.Status`",
        "added symbol `C` of `shop.orders.Status`",
    ]


def test_primitive_key_change() -> None:
    found = changes(shape_of("1.avsc", "string"), shape_of("2.avsc", "long"))
    assert found == ["changed field `type` of `(root)`: `string` to `long`"]


def test_json_schema_properties_and_defs() -> None:
    old = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "m": {"$ref": "#/$defs/Money"}},
        "$defs": {"Money": {"type": "object", "properties": {"amount": {"type": "string"}}}},
    }
    new = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "m": {"$ref": "#/$defs/Money"}},
        "$defs": {
            "Money": {"type": "object", "properties": {"amount": {"type": "string"}, "cur": {}}}
        },
    }
    found = changes(shape_of("1.json", old), shape_of("2.json", new))
    assert found == [
        "added field `cur` of `$defs/Money`",
        'changed field `a` of `(root)`: `{"type": "string"}` to `{"type": "integer"}`',
    ]
