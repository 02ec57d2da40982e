"""Check one topic config value against its definition, the way Kafka's ConfigDef parses it."""

from __future__ import annotations

import difflib
import math
import re

from eventgen.kafka.configdefs import CONFIG_DEFS, INT_MAX, LONG_MAX, LONG_MIN, ConfigDef

_INTEGER = re.compile(r"[+-]?[0-9]+")
_THROTTLED = re.compile(r"[0-9]+:[0-9]+")

# (code, message, hint) of a bad value; None when the value is fine.
Problem = tuple[str, str, str | None]


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """A hint naming the closest choice, if any is close enough to be a likely typo."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def parse_number(cdef: ConfigDef, value: str) -> int | float | None:
    """The value as Kafka would parse it for a numeric config, or None if it does not parse."""
    text = value.strip()
    if cdef.type == "double":
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    if not _INTEGER.fullmatch(text):
        return None
    number = int(text)
    low, high = (-INT_MAX - 1, INT_MAX) if cdef.type == "int" else (LONG_MIN, LONG_MAX)
    return number if low <= number <= high else None


def _range_text(cdef: ConfigDef) -> str:
    if cdef.maximum is None:
        text = f">= {cdef.minimum}"
    elif cdef.minimum is None:
        text = f"<= {cdef.maximum}"
    else:
        text = f"in [{cdef.minimum}, {cdef.maximum}]"
    return text + "".join(f" or {v}" for v in cdef.also)


def _check_number(cdef: ConfigDef, value: str) -> Problem | None:
    number = parse_number(cdef, value)
    if number is None:
        what = {"int": "a 32-bit integer", "long": "a 64-bit integer", "double": "a number"}
        return ("E0622", f"`{cdef.key}` must be {what[cdef.type]}, got `{value}`", None)
    if number in cdef.also:
        return None
    if (cdef.minimum is not None and number < cdef.minimum) or (
        cdef.maximum is not None and number > cdef.maximum
    ):
        return (
            "E0623",
            f"`{cdef.key}` = {value} is out of range: must be {_range_text(cdef)}",
            None,
        )
    return None


def _check_list(cdef: ConfigDef, value: str) -> Problem | None:
    items = [item.strip() for item in value.split(",")] if value.strip() else []
    if cdef.key.endswith(".throttled.replicas"):
        if value.strip() in ("", "*") or all(_THROTTLED.fullmatch(i) for i in items):
            return None
        msg = f"`{cdef.key}` must be `*` or `partition:broker,...`, got `{value}`"
        return ("E0624", msg, None)
    for item in items:
        if item not in cdef.choices:
            allowed = ", ".join(cdef.choices)
            msg = f"`{cdef.key}` has invalid item `{item}`; allowed: {allowed}"
            return ("E0624", msg, did_you_mean(item, cdef.choices))
    if len(set(items)) != len(items):
        return ("E0624", f"`{cdef.key}` lists an item twice: `{value}`", None)
    return None


def check_value(key: str, value: str) -> Problem | None:
    """Type, range and enum check of a known key's value (Kafka strings, as in the IR)."""
    cdef = CONFIG_DEFS[key]
    if cdef.type in ("int", "long", "double"):
        return _check_number(cdef, value)
    if cdef.type == "boolean":
        if value.strip().lower() in ("true", "false"):
            return None
        return ("E0622", f"`{key}` must be `true` or `false`, got `{value}`", None)
    if cdef.type == "list":
        return _check_list(cdef, value)
    if cdef.choices and value not in cdef.choices:
        allowed = ", ".join(cdef.choices)
        return (
            "E0624",
            f"`{key}` = `{value}` is not one of: {allowed}",
            did_you_mean(value, cdef.choices),
        )
    return None
