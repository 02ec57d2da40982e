"""Turning AsyncAPI names (any string) into spec names, by one documented rule.

Fields become `snake_case` (camelCase split, every other character an underscore, a leading
digit prefixed with `f_`), messages and types `PascalCase`, contexts, consumers and topics
`kebab-case`. A name with no letter or digit left cannot be mapped: the caller reports it.
"""

from __future__ import annotations

import keyword
import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^A-Za-z0-9]+")


def words(name: str) -> list[str]:
    """The words of `name`: split at camel humps and at anything not a letter or digit."""
    return [w for w in _NON_WORD.split(_CAMEL.sub(" ", name)) if w]


def snake(name: str) -> str | None:
    parts = [w.lower() for w in words(name)]
    if not parts:
        return None
    result = "_".join(parts)
    if result[0].isdigit():
        result = "f_" + result
    if keyword.iskeyword(result) or keyword.issoftkeyword(result):
        result += "_"
    return result


def pascal(name: str) -> str | None:
    parts = words(name)
    if not parts:
        return None
    result = "".join(w[:1].upper() + w[1:] for w in parts)
    return "T" + result if result[0].isdigit() else result


def kebab(name: str) -> str | None:
    parts = [w.lower() for w in words(name)]
    if not parts:
        return None
    result = "-".join(parts)
    return "x-" + result if result[0].isdigit() else result


_KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_PARAM = re.compile(r"\{([^{}]*)\}")


def kafka_topic(address: str) -> str | None:
    """A channel address as a Kafka topic name: `{param}` placeholders become the bare
    parameter name (one topic for all values); None when still not a legal topic name."""
    flat = _PARAM.sub(lambda m: m.group(1), address).replace("/", ".")
    return flat if _KAFKA_TOPIC.fullmatch(flat) and flat not in (".", "..") else None


_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def enum_symbol(value: object) -> str | None:
    """An enum value as an Avro/spec symbol (upper snake), or None when it has no letters."""
    if not isinstance(value, str):
        return None
    parts = [w.upper() for w in words(value)]
    if not parts:
        return None
    symbol = "_".join(parts)
    if symbol[0].isdigit():
        symbol = "V_" + symbol
    return symbol if _SYMBOL.fullmatch(symbol) else None
