"""`eventgen dlq replay` (eventgen/dlq_cli.py): the runtime's command behind a click group."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from eventgen.dlq_cli import dlq
from tests.runtime.test_replay import T_EARLY, dead_letter, end_offsets, produce, topics, unique


def test_help_is_the_runtime_parsers() -> None:
    result = CliRunner().invoke(dlq, ["replay", "--help"])
    assert result.exit_code == 0, result.output
    assert "usage: eventgen dlq replay" in result.output
    for flag in ("--bootstrap-servers", "--reason", "--key", "--since", "--until",
                 "--from-offset", "--to-offset", "--dry-run", "--format"):  # fmt: skip
        assert flag in result.output
    group_help = CliRunner().invoke(dlq, ["--help"])
    assert group_help.exit_code == 0 and "replay" in group_help.output


def test_usage_error_is_exit_2() -> None:
    result = CliRunner().invoke(dlq, ["replay", "--topic", "t", "--from-offset", "-3"])
    assert result.exit_code == 2
    assert "--from-offset must be >= 0" in result.output


@pytest.mark.kafka
def test_dry_run_and_nothing_matched(kafka_bootstrap_servers: str) -> None:
    bootstrap = kafka_bootstrap_servers
    dlq_topic, orders = unique("dlq"), unique("orders")
    with topics(bootstrap, {dlq_topic: 1, orders: 1}):
        headers = dead_letter([], reason="handler", topic=orders, partition=0, offset=9,
                              failed_at=T_EARLY)  # fmt: skip
        produce(bootstrap, dlq_topic, [(0, b"k", b"v", headers)])
        base = ["replay", "--bootstrap-servers", bootstrap, "--topic", dlq_topic]
        listed = CliRunner().invoke(dlq, [*base, "--dry-run"])
        assert listed.exit_code == 0, listed.output
        line = "would send @0:0 reason=handler key=k failed_at=2026-01-01T10:00:00.000Z"
        assert f"{line} -> {orders}[0] (replay 1)" in listed.output
        assert end_offsets(bootstrap, orders, 1) == [0]
        none = CliRunner().invoke(dlq, [*base, "--reason", "decode"])
        assert none.exit_code == 1, none.output
        assert end_offsets(bootstrap, orders, 1) == [0]
