"""`eventgen topics` without a broker: help, unreachable cluster, spec errors; exit codes.

The same outcomes through the installed console script: tests/integration/test_cli_exit_codes.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventgen.kafka.cli import main, topics

REPO = Path(__file__).resolve().parents[2]


def test_help_lists_both_commands() -> None:
    result = CliRunner().invoke(topics, ["--help"])
    assert result.exit_code == 0 and "plan" in result.output and "apply" in result.output


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_unreachable_cluster_times_out_cleanly(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.monotonic()
    code = main([command, str(REPO / "specs"), "--env", "local",
                 "--bootstrap-servers", "127.0.0.1:1", "--timeout", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot reach Kafka at 127.0.0.1:1 within 1 s" in err
    assert "Traceback" not in err
    assert time.monotonic() - start < 15


def test_spec_errors_stop_before_any_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "eventgen.yaml").write_text(
        "eventgen: 1\nproject: mini\npackage: mini_events\noutput: ../generated\n"
        "defaults:\n  topic: {partitions: 2, replication_factor: 1}\n"
    )
    (tmp_path / "ctx.yaml").write_text(
        "eventgen: 1\ncontext: ctx\ntopics:\n  t:\n    config: {message.format.version: 3.0}\n"
    )
    code = main(["plan", str(tmp_path), "--bootstrap-servers", "127.0.0.1:1", "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == 1  # findings, as in `eventgen validate`; 2 is for the cluster and usage
    assert "ctx.yaml:5:14: error E0621" in err and "removed in Kafka 4.0" in err
    assert "cannot reach" not in err


def test_missing_bootstrap_servers_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert main(["plan", str(REPO / "specs")]) == 2
