"""Every complete YAML example in docs/ validates with the outcome the docs state.

A fenced ```yaml block is a complete example when the line before it (blank lines aside) is

    <!-- example: GROUP/FILE.yaml -->
    <!-- example: GROUP/FILE.yaml expect: E0803 -->

Blocks with the same GROUP form one specs directory (FILE is the file name in it); a group
without an `eventgen.yaml` gets a minimal project file. One block of a group may state
`expect:`: `clean` (the default) or the codes `eventgen validate` must report, repeated as often
as each must occur. Unmarked blocks are fragments and are not run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
MARKER = re.compile(
    r"^<!-- example: (?P<group>[a-z0-9_-]+)/(?P<file>[\w.-]+\.ya?ml)"
    r"(?: expect: (?P<expect>[A-Za-z0-9, ]+?))? -->$"
)
PROJECT = "eventgen: 1\nproject: docs\npackage: docs_example\n"
MIN_GROUPS = 15  # the docs carry at least this many complete examples; fewer means a lost marker


@dataclass
class Group:
    where: str  # doc file and line of the first block, for failure messages
    files: dict[str, str] = field(default_factory=dict)
    expect: list[str] | None = None


def _fence(lines: list[str], start: int, where: str) -> tuple[str, int]:
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or lines[i].strip() != "```yaml":
        raise AssertionError(f"{where}: an example marker must precede a ```yaml block")
    end = lines.index("```", i + 1)
    return "\n".join(lines[i + 1 : end]) + "\n", end


def collect() -> dict[str, Group]:
    groups: dict[str, Group] = {}
    for doc in sorted(DOCS.glob("*.md")):
        lines = doc.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if not line.startswith("<!-- example:"):
                continue
            where = f"{doc.name}:{n + 1}"
            match = MARKER.match(line.strip())
            assert match, f"{where}: malformed example marker {line!r}"
            text, _ = _fence(lines, n + 1, where)
            group = groups.setdefault(match["group"], Group(where))
            assert match["file"] not in group.files, f"{where}: {match['file']} given twice"
            group.files[match["file"]] = text
            if match["expect"]:
                assert group.expect is None, f"{where}: group {match['group']} has two expects"
                words = match["expect"].replace(",", " ").split()
                group.expect = [] if words == ["clean"] else sorted(words)
    return groups


GROUPS = collect()


def test_docs_carry_examples() -> None:
    assert len(GROUPS) >= MIN_GROUPS, sorted(GROUPS)


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_example_validates_as_documented(name: str, tmp_path: Path) -> None:
    group = GROUPS[name]
    specs = tmp_path / "specs"
    specs.mkdir()
    if "eventgen.yaml" not in group.files:
        (specs / "eventgen.yaml").write_text(PROJECT, encoding="utf-8")
    for file, text in group.files.items():
        (specs / file).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "eventgen", "validate", str(specs), "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), f"{group.where}: {result.stderr}"
    found = json.loads(result.stdout)
    codes = sorted(d["code"] for d in found)
    expected = group.expect or []
    assert codes == expected, f"{group.where}: {json.dumps(found, indent=1)}"
    errors = [c for c in expected if c.startswith("E")]
    assert result.returncode == (1 if errors else 0), f"{group.where}: {result.stderr}"


def test_marker_parser_rejects_a_marker_without_a_block(tmp_path: Path) -> None:
    lines = ["<!-- example: g/a.yaml -->", "", "some prose", "```yaml", "x: 1", "```"]
    with pytest.raises(AssertionError, match="must precede"):
        _fence(lines, 1, "doc.md:1")
    assert _fence(lines[:1] + lines[3:], 1, "doc.md:1") == ("x: 1\n", 3)


def test_groups_by_code() -> None:
    """Each documented diagnostic outcome names a registered-looking code."""
    by_code: dict[str, int] = defaultdict(int)
    for group in GROUPS.values():
        for code in group.expect or []:
            assert re.fullmatch(r"[EW][0-9]{4}", code), code
            by_code[code] += 1
    assert sum(by_code.values()) >= 5, dict(by_code)


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ("string", "MUG-001", bytes.fromhex("0e") + b"MUG-001"),
        (
            {"type": "string", "logicalType": "uuid"},
            "6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11",
            bytes.fromhex("48") + b"6f1c1c38-2d5e-4d47-9d0a-0c6f8f1b2a11",
        ),
        ("long", 5, bytes.fromhex("0a")),
        ("int", -1, bytes.fromhex("01")),
        ("long", 300, bytes.fromhex("d804")),
        ("bytes", b"ab", bytes.fromhex("046162")),
    ],
)
def test_key_bytes_as_documented(schema: object, value: object, expected: bytes) -> None:
    """docs/wire-format.md's key table: bare Avro binary, no magic byte, no schema id."""
    from eventgen.runtime import decode_key, encode_key

    assert encode_key(schema, value) == expected  # type: ignore[arg-type]
    assert str(decode_key(schema, expected)) == str(value)  # type: ignore[arg-type]
