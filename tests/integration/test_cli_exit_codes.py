"""Exit codes through the installed console script, as a CI job sees them.

Every command runs as `eventgen ...` (the script next to this interpreter), in a subprocess, so
the code that reaches the shell is the one asserted: `eventgen.cli.main` once dropped the code of
every `ctx.exit`, and `topics apply` exited 0 on rejections, refusals and an unreachable cluster.
The promises tested are those of docs/topics.md and the docstring of eventgen/cli.py:
0 ok / in sync, 1 findings or pending changes (`--detailed-exitcode`), 2 refusals, broker
rejections, an unreachable cluster, bad usage.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kafka.cluster import delete_prefixed, unique_prefix

REPO = Path(__file__).resolve().parents[2]
EVENTGEN = Path(sys.executable).parent / "eventgen"
# A hang guard, not a timing assertion: an unreachable cluster must give up within --timeout.
RUN_TIMEOUT_S = 180

PROJECT = (
    "eventgen: 1\nproject: mini\npackage: mini_events\noutput: ../generated\n"
    "defaults:\n  topic: {partitions: 2, replication_factor: 1}\n"
)


def eventgen(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert EVENTGEN.is_file(), f"no console script at {EVENTGEN}: install eventgen first"
    return subprocess.run(
        [str(EVENTGEN), *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=cwd,
        check=False,
    )


def write_specs(root: Path, topics: str) -> Path:
    """A one-context project whose `topics:` block is `topics` (YAML, indented two spaces)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "eventgen.yaml").write_text(PROJECT)
    (root / "ctx.yaml").write_text(f"eventgen: 1\ncontext: ctx\ntopics:\n{topics}")
    return root


@pytest.fixture
def prefix(kafka_bootstrap_servers: str, request: pytest.FixtureRequest) -> Iterator[str]:
    name = unique_prefix("exit-" + request.node.name[5:20].replace("_", "-"))
    yield name
    delete_prefixed(kafka_bootstrap_servers, name)


def _topics(cmd: str, specs: Path, servers: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return eventgen("topics", cmd, str(specs), "--bootstrap-servers", servers, *extra)


@pytest.mark.kafka
def test_plan_pending_then_apply_then_clean(
    kafka_bootstrap_servers: str, prefix: str, tmp_path: Path
) -> None:
    specs = write_specs(tmp_path / "specs", f"  t: {{name: {prefix}.t, retention: 7d}}\n")

    pending = _topics("plan", specs, kafka_bootstrap_servers)
    assert pending.returncode == 0, pending.stderr  # pending, but no --detailed-exitcode
    assert f"+ create {prefix}.t" in pending.stdout

    detailed = _topics("plan", specs, kafka_bootstrap_servers, "--detailed-exitcode")
    assert detailed.returncode == 1, detailed.stderr
    assert "Plan: 1 to create" in detailed.stdout

    applied = _topics("apply", specs, kafka_bootstrap_servers, "--format", "json")
    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert json.loads(applied.stdout)["apply"]["ok"] is True

    clean = _topics("plan", specs, kafka_bootstrap_servers, "--detailed-exitcode")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "No changes: 1 topic(s) match the specs." in clean.stdout


@pytest.mark.kafka
def test_apply_refused_destructive_change(
    kafka_bootstrap_servers: str, prefix: str, tmp_path: Path
) -> None:
    specs = write_specs(tmp_path / "specs", f"  t: {{name: {prefix}.t, retention: 7d}}\n")
    assert _topics("apply", specs, kafka_bootstrap_servers).returncode == 0
    # Shrinking retention on a delete topic deletes records: refused without the flag.
    write_specs(specs, f"  t: {{name: {prefix}.t, retention: 1d}}\n")

    plan = _topics("plan", specs, kafka_bootstrap_servers)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert f"! refuse {prefix}.t" in plan.stdout

    refused = _topics("apply", specs, kafka_bootstrap_servers)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Nothing applied: the plan has refused changes" in refused.stdout
    still = _topics(
        "plan", specs, kafka_bootstrap_servers, "--allow-destructive", "--format", "json"
    )
    assert still.returncode == 0, still.stderr
    (update,) = json.loads(still.stdout)["update"]  # nothing was applied: still pending
    assert [c["key"] for c in update["configs"]] == ["retention.ms"]


@pytest.mark.kafka
def test_apply_rejected_by_the_broker(
    kafka_bootstrap_servers: str, prefix: str, tmp_path: Path
) -> None:
    # The specs cannot know the broker count; the broker refuses RF 3 on a one-node cluster
    # in validation, so nothing at all is created (the good topic neither).
    specs = write_specs(
        tmp_path / "specs",
        f"  good: {{name: {prefix}.good}}\n  bad: {{name: {prefix}.bad, replication_factor: 3}}\n",
    )
    rejected = _topics("apply", specs, kafka_bootstrap_servers)
    assert rejected.returncode == 2, rejected.stdout + rejected.stderr
    assert "the brokers rejected the plan in validation" in rejected.stdout
    assert f"create {prefix}.bad: FAILED: INVALID_REPLICATION_FACTOR" in rejected.stdout
    after = _topics("plan", specs, kafka_bootstrap_servers, "--detailed-exitcode")
    assert after.returncode == 1 and "Plan: 2 to create" in after.stdout, after.stdout


@pytest.mark.kafka
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_spec_errors_are_findings(
    command: str, kafka_bootstrap_servers: str, prefix: str, tmp_path: Path
) -> None:
    specs = write_specs(tmp_path / "specs", f"  t:\n    name: {prefix}.t\n    config: {{segment.bytes: 1000}}\n")  # fmt: skip
    result = _topics(command, specs, kafka_bootstrap_servers)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ctx.yaml:6:14: error E0623" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_unreachable_cluster(command: str, tmp_path: Path) -> None:
    specs = write_specs(tmp_path / "specs", "  t: {name: unreachable.t}\n")
    result = _topics(command, specs, "127.0.0.1:1", "--timeout", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()], (
        "one line, no traceback or client log"
    )
    assert result.stderr.startswith("error: cannot reach Kafka at 127.0.0.1:1 within 1 s")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["topics", "plan"], "Missing argument 'SPECS'"),
        (["topics", "plan", "specs", "--bootstrap-servers", "x:1", "--timeout", "0"], "--timeout"),
        (["topics", "apply", "specs", "--bootstrap-servers", "x:1", "--detailed-exitcode"], "No such option"),
        (["topics", "frobnicate"], "No such command"),
        (["nosuchcommand"], "No such command"),
        (["build", "no/such/dir"], "does not exist"),
    ],
)  # fmt: skip
def test_bad_usage(args: list[str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    result = eventgen(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_missing_bootstrap_servers_is_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    result = eventgen("topics", "plan", "specs")
    assert result.returncode == 2 and "--bootstrap-servers" in result.stderr, result.stderr


# Other commands propagate their codes through `eventgen.cli.main` too.


def test_validate_codes(tmp_path: Path) -> None:
    assert eventgen("validate", "specs").returncode == 0
    bad = write_specs(tmp_path / "bad", "  t:\n    config: {segment.bytes: 1000}\n")
    result = eventgen("validate", str(bad))
    assert result.returncode == 1 and "error E0623" in result.stderr, result.stderr


def test_build_check_drift_codes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert eventgen("build", "specs", "-o", str(out)).returncode == 0
    assert eventgen("build", "specs", "-o", str(out), "--check", "--no-cache").returncode == 0
    victim = next(p for p in sorted(out.rglob("*.avsc")))
    victim.write_text(victim.read_text() + " ")
    drift = eventgen("build", "specs", "-o", str(out), "--check", "--no-cache")
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert str(victim) in drift.stdout


def test_diff_codes(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(REPO / "specs", old)
    assert eventgen("diff", "specs", "--against", str(old)).returncode == 0
    new = tmp_path / "new"
    shutil.copytree(REPO / "specs", new)
    orders = new / "orders.yaml"
    text = orders.read_text()
    assert text.count("    partitions: 12\n") == 1
    orders.write_text(text.replace("    partitions: 12\n", "    partitions: 6\n"))
    breaking = eventgen("diff", str(new), "--against", str(old))
    assert breaking.returncode == 1, breaking.stdout + breaking.stderr
    missing = eventgen("diff", "specs", "--against", "no-such-ref-anywhere")
    assert missing.returncode == 2 and missing.stderr.startswith("Error: "), missing.stderr
    assert "Traceback" not in missing.stderr


def test_registry_unreachable_is_2() -> None:
    result = eventgen("registry", "check", "specs", "--url", "http://127.0.0.1:1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "registry at http://127.0.0.1:1 unavailable" in result.stderr
    assert "Traceback" not in result.stderr
