"""Wire-form regexes shared by the models and the emitted JSON Schemas (one source of truth).

Each pattern exists in two spellings of one meaning. The `JSON_*` forms (and spec patterns as
the user wrote them) go into published JSON Schemas: plain `^...$`, which ECMA-262, the dialect
JSON Schema names, reads as "the whole string", and which RE2-based validators can compile.
The Python forms (`UUID`, `DATE`, ... and `python(pattern)`) are what the models run with
`re.search`: each `$` is followed by `(?!\\n)`, because Python's `$` also matches before a
final newline. A lookahead would make RE2 validators reject the schema, and a spec's pattern
is the user's contract, so the lookahead stays on the Python side only.
Dates are matched with their calendar rules (month lengths, leap years), so a string matches
exactly when Python can build the value: the JSON Schema and the model then agree.
"""

from __future__ import annotations

_NO_NEWLINE = r"(?!\n)"
_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
_OFFSET = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"


def python(pattern: str) -> str:
    """A JSON Schema (ECMA-262) regex made to mean the same under Python `re.search`.

    Each unescaped `$` outside a character class gets `(?!\\n)`, so it matches only at the very
    end, as in ECMA-262 and Rust `regex`. Only the models use this form.
    """
    out, escaped, in_class = [], False, False
    for i, ch in enumerate(pattern):
        out.append(ch)
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "$" and not in_class and not pattern.startswith(_NO_NEWLINE, i + 1):
            out.append(_NO_NEWLINE)
    return "".join(out)


JSON_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
JSON_DATE = rf"^{_DATE}$"
JSON_TIME = rf"^{_TIME}$"
JSON_TIMESTAMP = rf"^{_DATE}T{_TIME}{_OFFSET}$"
# Standard alphabet, padded: exactly what base64.b64decode(validate=True) accepts.
JSON_BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"

UUID = python(JSON_UUID)
DATE = python(JSON_DATE)
TIME = python(JSON_TIME)
TIMESTAMP = python(JSON_TIMESTAMP)
BASE64 = python(JSON_BASE64)


def json_decimal(precision: int, scale: int, signed: bool = True) -> str:
    """Plain decimal notation with at most `precision - scale` integer and `scale` fraction digits."""
    whole = precision - scale
    integer = "0" if whole == 0 else f"(?:0|[1-9][0-9]{{0,{whole - 1}}})"
    fraction = rf"(?:\.[0-9]{{1,{scale}}})?" if scale > 0 else ""
    sign = "-?" if signed else ""
    return f"^{sign}{integer}{fraction}$"


def decimal(precision: int, scale: int, signed: bool = True) -> str:
    """`json_decimal` in its Python form (what DecimalSpec runs)."""
    return python(json_decimal(precision, scale, signed))
