"""Canonical JSON bytes for every data file eventgen writes: sorted keys, 2-space indent, UTF-8.

orjson produces exactly the bytes of `json.dumps(indent=2, sort_keys=True, ensure_ascii=False)`
about twenty times faster (the stdlib's C encoder is not used when indenting); values orjson
refuses (integers beyond 64 bits, non-string keys) fall back to the stdlib.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def dumps(data: Any) -> bytes:
    """Serialize `data` canonically, with a trailing newline."""
    try:
        return orjson.dumps(data, option=_OPTIONS) + b"\n"
    except TypeError:
        return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
