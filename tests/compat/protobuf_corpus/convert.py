"""Rebuild the protobuf conformance corpus from a fetched bufbuild/buf git directory.

    python -m tests.compat.protobuf_corpus.convert /path/to/buf/.git [commit]

Copies the `.proto` files of every breaking test directory whose rules include a WIRE_JSON
rule (private/bufpkg/bufcheck/testdata/breaking/{previous,current}/<dir>/) and writes
pairs.json: one pair per current file of a directory, with buf's expected annotations for
that file (from breaking_test.go), restricted to the WIRE_JSON rules buf ran there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from eventgen.compat.protobuf.rules import CODES

HERE = Path(__file__).parent
TESTDATA = "private/bufpkg/bufcheck/testdata/breaking"
TEST_FILE = "private/bufpkg/bufcheck/breaking_test.go"

# WIRE_JSON rules that v1 configs also put in the FILE and PACKAGE categories (buf's V1Spec):
# what a buf.yaml without `use:` (or `use: [FILE]`) runs.
V1_FILE_WIRE_JSON = (
    "ENUM_SAME_JSON_FORMAT",
    "ENUM_VALUE_SAME_NAME",
    "FIELD_SAME_JSON_NAME",
    "FIELD_SAME_NAME",
    "MESSAGE_SAME_JSON_FORMAT",
    "FIELD_SAME_ONEOF",
    "FILE_SAME_PACKAGE",
    "MESSAGE_SAME_REQUIRED_FIELDS",
    "RESERVED_ENUM_NO_DELETE",
    "RESERVED_MESSAGE_NO_DELETE",
    "RPC_SAME_CLIENT_STREAMING",
    "RPC_SAME_IDEMPOTENCY_LEVEL",
    "RPC_SAME_REQUEST_TYPE",
    "RPC_SAME_RESPONSE_TYPE",
    "RPC_SAME_SERVER_STREAMING",
)

# Directories left out, and why. (The two ignore_unstable_packages directories are kept: they
# only delete a file, which no WIRE_JSON rule reports, so the filtering cannot matter.)
LEFT_OUT = {
    "breaking_custom_plugins": "runs a Wasm plugin's rules, not buf's built-in ones",
    "breaking_file_same_syntax": "v1beta1 build roots",
    "breaking_policy_disablebuiltin": "policy files, no built-in rules",
    "breaking_policy_empty": "policy files, no built-in rules",
    "breaking_policy_local": "policy files",
}

_TEST = re.compile(r'testBreaking\(\s*t,\s*"([a-z0-9_]+)",(.*?)\n\t\)', re.DOTALL)
_ANNOT = re.compile(
    r'NewFileAnnotation\(t, "([^"]+)", (\d+), (\d+), (\d+), (\d+), "([A-Z0-9_]+)"\)'
    r'|NewFileAnnotationNoLocation\(t, "([^"]+)", "([A-Z0-9_]+)"\)'
)


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", git_dir, *args], check=True, capture_output=True, text=True
    ).stdout


def _rules_run(config: str) -> list[str]:
    """The WIRE_JSON rules a test directory's buf.yaml makes buf run."""
    use = re.findall(r"^\s+- ([A-Z0-9_]+)\s*$", config.split("except:")[0], re.MULTILINE)
    if "use:" not in config or any(u in ("FILE", "PACKAGE") for u in use):
        return list(V1_FILE_WIRE_JSON)
    return [u for u in use if u in CODES]


def _roots(git_dir: str, sha: str, directory: str, side: str, rels: list[str]) -> list[str]:
    """v1beta1 `build.roots` of one side: file paths are relative to them."""
    if "buf.yaml" not in rels:
        return []
    config = _git(git_dir, "show", f"{sha}:{TESTDATA}/{side}/{directory}/buf.yaml")
    if "roots:" not in config:
        return []
    return re.findall(
        r"^\s+- ([\w./-]+)\s*$", config.split("roots:", 1)[1].split("breaking:")[0], re.MULTILINE
    )


def _strip_root(rel: str, roots: list[str]) -> str:
    for root in roots:
        if rel.startswith(root + "/"):
            return rel[len(root) + 1 :]
    return rel


def main(git_dir: str, commit: str = "HEAD") -> int:
    sha = _git(git_dir, "rev-parse", commit).strip()
    tests = {
        m.group(1): m.group(2) for m in _TEST.finditer(_git(git_dir, "show", f"{sha}:{TEST_FILE}"))
    }
    names = _git(git_dir, "ls-tree", "-r", "--name-only", sha, TESTDATA).split()
    pairs: list[dict[str, object]] = []
    for directory in sorted(tests):
        if directory in LEFT_OUT:
            continue
        files = {
            side: sorted(
                n.split(f"{TESTDATA}/{side}/{directory}/", 1)[1]
                for n in names
                if n.startswith(f"{TESTDATA}/{side}/{directory}/")
            )
            for side in ("previous", "current")
        }
        config = next(
            (
                _git(git_dir, "show", f"{sha}:{TESTDATA}/current/{directory}/{c}")
                for c in files["current"]
                if c == "buf.yaml"
            ),
            "",
        )
        rules = _rules_run(config)
        if not rules:
            continue
        for side, rels in files.items():
            roots = _roots(git_dir, sha, directory, side, rels)
            for rel in rels:
                if rel.endswith(".proto"):
                    target = HERE / directory / side / _strip_root(rel, roots)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(
                        _git(git_dir, "show", f"{sha}:{TESTDATA}/{side}/{directory}/{rel}")
                    )
        expected: dict[str, list[dict[str, object]]] = {}
        for m in _ANNOT.finditer(tests[directory]):
            path = m.group(1) or m.group(7)
            rule = m.group(6) or m.group(8)
            if rule not in rules:
                continue
            span = [int(m.group(i)) for i in range(2, 6)] if m.group(1) else None
            expected.setdefault(path, []).append({"rule": rule, "span": span})
        for rel in files["current"]:
            if rel.endswith(".proto"):
                pairs.append(
                    {
                        "id": f"{directory}/{rel}",
                        "directory": directory,
                        "file": rel,
                        "rules": rules,
                        "expected": sorted(
                            expected.get(rel, []), key=lambda e: (str(e["span"]), str(e["rule"]))
                        ),
                    }
                )
    out = {"buf_commit": sha, "pairs": pairs}
    (HERE / "pairs.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"{len(pairs)} pairs from {len({p['directory'] for p in pairs})} directories")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
