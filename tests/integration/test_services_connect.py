"""scripts/services and its Kafka Connect worker: start, readiness, the Debezium plugin, the
logical-decoding PostgreSQL it pairs with, --no-connect, and stop cleaning up.

Each test starts its own instance in a state dir of its own (the shared services of other
tests are never touched).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
SCRIPT = REPO_DIR / "scripts" / "services"
START_TIMEOUT_S = 600  # includes a cold Maven resolution of the Connect jars
STOP_TIMEOUT_S = 120


def services(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S if args[0] == "start" else STOP_TIMEOUT_S,
        check=False,
    )


def exports(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        found[key] = shlex.split(value)[0]
    return found


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_start_runs_connect_with_debezium_and_stop_removes_it() -> None:
    state_dir = REPO_DIR / ".services" / f"pytest-{os.getpid()}-connect-svc"
    try:
        started = services(state_dir, "start")
        assert started.returncode == 0, started.stderr[-4000:]
        env = exports(started.stdout)
        assert set(env) == {
            "KAFKA_BOOTSTRAP_SERVERS",
            "EVENTGEN_POSTGRES_DSN",
            "EVENTGEN_CONNECT_URL",
        }
        url = env["EVENTGEN_CONNECT_URL"]
        assert url.startswith("http://127.0.0.1:")
        assert get_json(f"{url}/health")["status"] == "healthy"
        root = get_json(f"{url}/")
        assert root["version"] == "4.3.1"
        plugins = {p["class"]: p["version"] for p in get_json(f"{url}/connector-plugins")}
        assert plugins["io.debezium.connector.postgresql.PostgresConnector"] == "3.6.1.Final"
        everything = get_json(f"{url}/connector-plugins?connectorsOnly=false")
        classes = {p["class"] for p in everything}
        assert "io.debezium.transforms.outbox.EventRouter" in classes
        assert "org.apache.kafka.connect.converters.ByteArrayConverter" in classes
        assert "org.apache.kafka.connect.transforms.DropHeaders" in classes

        with psycopg.connect(env["EVENTGEN_POSTGRES_DSN"], connect_timeout=10) as conn:
            settings: dict[str, str] = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN"
                    " ('wal_level', 'max_replication_slots', 'max_wal_senders')"
                ).fetchall()
            )
            replication = conn.execute(
                "SELECT rolreplication FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        assert settings["wal_level"] == "logical"
        assert int(settings["max_replication_slots"]) >= 10
        assert int(settings["max_wal_senders"]) >= 10
        assert replication == (True,)

        state = json.loads((state_dir / "state.json").read_text())
        connect = state["connect"]
        assert connect["url"] == url
        pid = connect["pid"]
        assert alive(pid)
        status = services(state_dir, "status")
        assert status.returncode == 0 and "kafka connect: pid" in status.stdout
        assert f"EVENTGEN_CONNECT_URL={url}" in status.stdout
    finally:
        stopped = services(state_dir, "stop")
        if state_dir.is_dir() and not any(state_dir.iterdir()):
            state_dir.rmdir()
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert not alive(pid)
    assert not Path(connect["dir"]).exists()
    assert not (state_dir / "state.json").exists()


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("flags", "exported"),
    [
        (("--no-connect",), {"KAFKA_BOOTSTRAP_SERVERS", "EVENTGEN_POSTGRES_DSN"}),
        # The session fixtures of tests/services.py start this way: no worker for them.
        (("--no-postgres",), {"KAFKA_BOOTSTRAP_SERVERS"}),
    ],
)
def test_no_worker_with_no_connect_or_without_postgres(
    flags: tuple[str, ...], exported: set[str]
) -> None:
    state_dir = REPO_DIR / ".services" / f"pytest-{os.getpid()}-connect-none"
    try:
        started = services(state_dir, "start", *flags)
        assert started.returncode == 0, started.stderr[-4000:]
        assert set(exports(started.stdout)) == exported
        assert "started Kafka Connect" not in started.stderr
        assert "connect" not in json.loads((state_dir / "state.json").read_text())
    finally:
        stopped = services(state_dir, "stop")
        if state_dir.is_dir() and not any(state_dir.iterdir()):
            state_dir.rmdir()
    assert stopped.returncode == 0, stopped.stderr[-2000:]
