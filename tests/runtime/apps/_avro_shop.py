"""Avro schemas of the test messages (as a generated `_avro/<context>.py` holds them)."""

from typing import Any

TYPES: list[dict[str, Any]] = []

_PLACED = {
    "type": "record",
    "name": "Placed",
    "namespace": "shop",
    "fields": [{"name": "order", "type": "string"}, {"name": "seq", "type": "long"}],
}
_SHIPPED = {
    "type": "record",
    "name": "Shipped",
    "namespace": "shop",
    "fields": [{"name": "order", "type": "string"}],
}
_BILLED = {
    "type": "record",
    "name": "Billed",
    "namespace": "shop",
    "fields": [{"name": "order", "type": "string"}, {"name": "seq", "type": "long"}],
}

SCHEMAS: dict[str, dict[int, Any]] = {
    "shop.Placed": {1: _PLACED},
    "shop.Shipped": {1: _SHIPPED},
    "shop.Billed": {1: _BILLED},
}
