"""Wire-form regexes shared by the models and the emitted JSON Schemas (one source of truth).

Every pattern is written for both Python `re.search` (what jsonschema uses) and ECMA-262: it is
anchored with `^` and with `$(?!\\n)`, because Python's `$` also matches before a final newline.
Dates are matched with their calendar rules (month lengths, leap years), so a string matches
exactly when Python can build the value: the JSON Schema and the model then agree.
"""

from __future__ import annotations

END = r"$(?!\n)"
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

UUID = (
    rf"^[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}{END}"
)
DATE = rf"^{_DATE}{END}"
TIME = rf"^{_TIME}{END}"
TIMESTAMP = rf"^{_DATE}T{_TIME}{_OFFSET}{END}"
# Standard alphabet, padded: exactly what base64.b64decode(validate=True) accepts.
BASE64 = rf"^(?:[A-Za-z0-9+/]{{4}})*(?:[A-Za-z0-9+/]{{2}}==|[A-Za-z0-9+/]{{3}}=)?{END}"


def decimal(precision: int, scale: int, signed: bool = True) -> str:
    """Plain decimal notation with at most `precision - scale` integer and `scale` fraction digits."""
    whole = precision - scale
    integer = "0" if whole == 0 else f"(?:0|[1-9][0-9]{{0,{whole - 1}}})"
    fraction = rf"(?:\.[0-9]{{1,{scale}}})?" if scale > 0 else ""
    sign = "-?" if signed else ""
    return f"^{sign}{integer}{fraction}{END}"


def portable(pattern: str) -> str:
    """A spec regex made to mean the same in ECMA-262, Python `re` and Rust `regex`.

    Python's `$` also matches before a final newline; ECMA-262 (the JSON Schema dialect) does
    not. Each unescaped `$` outside a character class gets `(?!\\n)`, which is a no-op in ECMA.
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
        elif ch == "$" and not in_class and not pattern.startswith(r"(?!\n)", i + 1):
            out.append(r"(?!\n)")
    return "".join(out)
