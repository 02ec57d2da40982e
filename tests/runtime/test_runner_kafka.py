"""The runner as an operator uses it: a real process, a real broker, SIGTERM to stop.

An app (the stand-in generated module of tests/runtime/apps) consumes from Kafka until SIGTERM;
the runner must stop it gracefully: the handled records' offsets committed, exit 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runtime.apps import kit
from tests.runtime.apps.shop import Placed

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 60

SERVICE = """
import os
from tests.runtime.apps.shop import Placed, make_app

app = make_app(os.environ["TOPIC"], os.environ["GROUP"], idempotency="none")


@app.on(Placed)
def handle(event, ctx):
    with open(os.environ["HANDLED"], "a") as out:
        out.write(f"{event.seq}\\n")
"""


@pytest.mark.kafka
def test_sigterm_commits_what_was_handled_and_exits_0(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    topic, group = kit.unique("runner"), kit.unique("runner-group")
    (tmp_path / "service.py").write_text(SERVICE)
    handled = tmp_path / "handled.txt"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TOPIC": topic,
        "GROUP": group,
        "HANDLED": str(handled),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "EVENTGEN_CLIENT_AUTO_OFFSET_RESET": "earliest",
    }
    with kit.topics(kafka_bootstrap_servers, {topic: 2}):
        records = [kit.encoded(topic, Placed(order=f"o{i}", seq=i)) for i in range(6)]
        kit.produce(kafka_bootstrap_servers, topic, records)
        child = subprocess.Popen(
            [sys.executable, "-m", "eventgen.runtime", "run", "service:app"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and child.poll() is None:
                if handled.exists() and len(handled.read_text().splitlines()) >= 6:
                    break
                time.sleep(0.1)
            assert child.poll() is None, child.communicate(timeout=WAIT_S)[1]
            assert sorted(map(int, handled.read_text().split())) == list(range(6))
            child.send_signal(signal.SIGTERM)
            _, err = child.communicate(timeout=WAIT_S)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate(timeout=WAIT_S)
        assert child.returncode == 0, err
        assert "SIGTERM: stopping" in err and "stopped (stop requested)" in err, err
        ends = [0, 0]
        for record in kit.read_all(kafka_bootstrap_servers, topic, expect=6):
            ends[record.partition()] = record.offset() + 1
        # Every handled record's offset was committed before the process left the group (an
        # untouched partition has no committed offset: -1001).
        committed = kit.committed(kafka_bootstrap_servers, group, topic, 2)
        assert [max(c, 0) for c in committed] == ends, (committed, ends)


BAD_STORE = """
import os
from tests.runtime.apps.shop import Placed, make_app

app = make_app(os.environ["TOPIC"], os.environ["GROUP"], idempotency="postgres")
app.on(Placed)(lambda event, ctx: None)
"""


@pytest.mark.kafka
@pytest.mark.postgres
def test_a_wrong_postgres_dsn_is_one_line_and_exit_2(
    kafka_bootstrap_servers: str, postgres_dsn: str, tmp_path: Path
) -> None:
    topic, group = kit.unique("runner-dsn"), kit.unique("runner-dsn-group")
    (tmp_path / "service.py").write_text(BAD_STORE)
    # The real server, a database that does not exist on it.
    wrong = postgres_dsn.rsplit("/", 1)[0] + "/no_such_database_" + topic.replace("-", "_")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOPIC": topic, "GROUP": group}
    with kit.topics(kafka_bootstrap_servers, {topic: 1}):
        result = subprocess.run(
            [
                sys.executable, "-m", "eventgen.runtime", "run", "service:app",
                "--bootstrap-servers", kafka_bootstrap_servers, "--postgres-dsn", wrong,
                "--connect-timeout", "5",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=WAIT_S,
            check=False,
        )  # fmt: skip
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert errors[0].startswith("error: service:app: StartupError: "), errors
    assert "no_such_database" in errors[0], errors
