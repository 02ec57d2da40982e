"""Fixture pairs per diff rule: old = tests/evolution/base, new = an edited copy.

Each case lists the exact findings as (rule, NEW spec position). Positions count in the
edited file; a deleted item is reported at its context file (line 0).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eventgen.evolution.diff import load_new, load_old
from eventgen.evolution.diff_model import diff_messages, diff_topics
from eventgen.evolution.diff_schemas import diff_subjects
from eventgen.evolution.findings import Finding
from tests.evolution.helpers import findings, run_diff, variant

Edits = dict[str, list[tuple[str, str]]]

CASES: dict[str, tuple[Edits, int, list[tuple[str, str]]]] = {
    "no_change": (
        {},
        0,
        [],
    ),
    "D0101_field_without_default": (
        {"shop.yaml": [("      note: string?\n", "      note: string?\n      extra: string\n")]},
        1,
        [("D0101", "new/shop.yaml:35:7"), ("D0405", "new/shop.yaml:28:3")],
    ),
    "D0408_constraint_tightened": (
        {
            "shop.yaml": [
                ("      customer: string\n", "      customer: {type: string, max_length: 8}\n")
            ]
        },
        1,
        [("D0408", "new/shop.yaml:16:3")],
    ),
    "D0102_field_with_default": (
        {
            "shop.yaml": [
                (
                    "      customer: string\n",
                    "      customer: string\n      channel: {type: string, default: web}\n",
                )
            ]
        },
        0,
        [("D0102", "new/shop.yaml:4:3")],
    ),
    "D0103_new_topic": (
        {
            "shop.yaml": [
                ("  audit:\n    retention", "  returns:\n    key: uuid\n  audit:\n    retention"),
                (
                    "  AuditRecorded:\n",
                    "  ReturnRequested:\n    topic: returns\n    key: return_id\n    fields:\n      return_id: uuid\n  AuditRecorded:\n",
                ),
            ]
        },
        0,
        [
            ("D0103", "new/shop.yaml:11:3"),
            ("D0103", "new/shop.yaml:30:3"),
            ("D0407", "new/shop.yaml:30:3"),
        ],
    ),
    "D0104_topic_and_message_removed": (
        {
            "shop.yaml": [
                (
                    "  audit:\n    retention: 30d\n    key: string\n    compatibility: BACKWARD_TRANSITIVE\n",
                    "",
                ),
                (
                    "  AuditRecorded:\n    topic: audit\n    key: entry\n    fields:\n      entry: string\n      source: string\n      note: string?\n",
                    "",
                ),
            ]
        },
        0,
        [
            ("D0104", "new/shop.yaml:0:0"),
            ("D0104", "new/shop.yaml:0:0"),
            ("D0304", "new/shop.yaml:0:0"),
            ("D0403", "new/shop.yaml:0:0"),
        ],
    ),
    "D0105_format": (
        {"eventgen.yaml": [("serialization: avro", "serialization: json")]},
        1,
        [("D0105", "new/eventgen.yaml:0:0")],
    ),
    "D0106_mode": (
        {
            "shop.yaml": [
                ("    cleanup: delete\n", "    cleanup: delete\n    compatibility: FULL\n")
            ]
        },
        0,
        [("D0106", "new/shop.yaml:4:3"), ("D0106", "new/shop.yaml:4:3")],
    ),
    "D0201_key_path": (
        {"shop.yaml": [("    key: entry\n", "    key: source\n")]},
        1,
        [("D0201", "new/shop.yaml:30:10")],  # the `key:` line the author changed
    ),
    "D0202_key_type": (
        {
            "shop.yaml": [
                ("    key: string\n    compatibility", "    key: long\n    compatibility"),
                ("      entry: string\n", "      entry: long\n"),
            ]
        },
        1,
        [
            ("D0101", "new/shop.yaml:32:7"),
            ("D0202", "new/shop.yaml:11:3"),
            ("D0405", "new/shop.yaml:28:3"),
        ],
    ),
    "D0301_partitions": (
        {"shop.yaml": [("    partitions: 6\n", "    partitions: 12\n")]},
        1,
        [("D0301", "new/shop.yaml:5:17")],  # at `partitions:`, not the topic
    ),
    "D0302_cleanup": (
        {"shop.yaml": [("    cleanup: delete\n", "    cleanup: compact\n")]},
        1,
        [("D0302", "new/shop.yaml:7:14")],
    ),
    "D0303_retention": (
        {"shop.yaml": [("    retention: 30d\n", "    retention: 1d\n")]},
        1,
        [("D0303", "new/shop.yaml:12:16")],
    ),
    "D0401_moved": (
        {
            "shop.yaml": [
                (
                    "  CartClosed:\n    topic: cart-events\n",
                    "  CartClosed:\n    topic: cart-archive\n",
                ),
                ("    subscribe: [cart-events]\n", "    subscribe: [cart-events, cart-archive]\n"),
            ]
        },
        1,
        [
            # two incompatibilities of the old CartClosed records with the new reader, as
            # Avro-Java reports them: the record name and the reader's `customer` field
            ("D0101", "new/shop.yaml:22:3"),
            ("D0101", "new/shop.yaml:22:3"),
            ("D0103", "new/shop.yaml:22:3"),
            ("D0401", "new/shop.yaml:23:12"),  # the `topic:` line
        ],
    ),
    "D0402_removed_handled": (
        {
            "shop.yaml": [
                (
                    "  CartClosed:\n    topic: cart-events\n    key: cart_id\n    fields:\n      cart_id: uuid\n      total: long\n",
                    "",
                ),
                ("    handles: [CartOpened, CartClosed]\n", "    handles: [CartOpened]\n"),
            ]
        },
        1,
        [
            # as in D0401_moved: the record name and the reader's `customer` field
            ("D0101", "new/shop.yaml:16:3"),
            ("D0101", "new/shop.yaml:16:3"),
            ("D0402", "new/shop.yaml:30:3"),
        ],
    ),
    "D0404_upcaster_does_not_reproduce": (
        {
            "shop.yaml": [
                (
                    "      customer: string\n",
                    "      customer: string\n      channel: string\n    version: 2\n    upcast:\n      - from: 1\n        ops: []\n",
                )
            ]
        },
        1,
        [("D0101", "new/shop.yaml:22:7"), ("D0404", "new/shop.yaml:16:3")],
    ),
    "D0404_ok_with_upcaster": (
        {
            "shop.yaml": [
                (
                    "      customer: string\n",
                    "      customer: string\n      channel: string\n    version: 2\n    upcast:\n      - from: 1\n        ops:\n          - add: {channel: web}\n",
                )
            ]
        },
        1,
        [("D0101", "new/shop.yaml:22:7")],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_fixture(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edits, code, expected = CASES[name]
    monkeypatch.chdir(tmp_path)
    variant(tmp_path, "old")
    variant(tmp_path, "new", edits)
    got_code, out = run_diff("new", "--against", "old", "--format", "json")
    full: list[dict[str, Any]] = json.loads(out)["findings"]
    got = sorted((f["rule"], f"{f['file']}:{f['line']}:{f['col']}") for f in full)
    # Sorted lists, not sets: a finding reported twice must fail, not collapse into one.
    assert (got_code, got) == (code, sorted(expected))
    # The report drops identical findings; the rules themselves must not make any.
    raw = _rule_findings(Path("new"), "old")
    assert [f for f, n in Counter(raw).items() if n > 1] == []
    assert len(raw) == len(full)


def _rule_findings(specs: Path, against: str) -> list[Finding]:
    """What the diff rules report, before the report sorts and de-duplicates it."""
    new, old = load_new(specs, None, "topic"), load_old(specs, against, None, "topic")
    return diff_subjects(old, new) + diff_messages(old, new) + diff_topics(old, new)


def test_json_union_branch_is_explained_at_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON Schema reports a changed `oneOf` as a whole; the finding still names the field."""
    monkeypatch.chdir(tmp_path)
    json_format = ("serialization: avro", "serialization: json")
    added = ("      customer: string\n", "      customer: string\n      extra: string\n")
    variant(tmp_path, "old", {"eventgen.yaml": [json_format]})
    variant(tmp_path, "new", {"eventgen.yaml": [json_format], "shop.yaml": [added]})
    assert findings("new", "--against", "old") == (
        1,
        [("D0101", "new/shop.yaml:22:7"), ("D0405", "new/shop.yaml:16:3")],
    )
