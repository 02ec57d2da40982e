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
