"""Bad input to the runner and to a running app: one clear line and exit 2, or a dead letter.

Issue 9 "Bad input": a handler module that does not import, a MODULE:ATTR that is not an app,
a broker that is not there, a wrong PostgreSQL DSN, a missing DLQ topic, records with no
headers or headers of the wrong type. Every case runs the real runner process
(`python -m eventgen.runtime run ...`) against the shared Kafka and PostgreSQL (unique topics
and groups), bounded by a subprocess timeout: a hang fails the test. Cases already covered
elsewhere (a module with a missing import, objects without run(), 127.0.0.1:1 as the broker in
tests/runtime/test_runner.py; a missing database in test_runner_kafka.py) are not repeated.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.runtime.apps import kit
from tests.runtime.apps.shop import Placed

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 90  # bound of every runner process; never reached when it works
SERVICE = """
import os
from tests.runtime.apps.shop import Placed, make_app

app = make_app(
    os.environ["TOPIC"], os.environ["GROUP"], dlq=os.environ.get("DLQ") or None,
    idempotency=os.environ.get("IDEMPOTENCY", "sqlite"),
)


@app.on(Placed)
def handle(event, ctx):
    with open(os.environ["HANDLED"], "a") as out:
        out.write(f"{event.seq}\\n")
"""


def run_runner(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EVENTGEN_", "KAFKA_")) and k != "PYTHONPATH"
    }
    return subprocess.run(
        [sys.executable, "-m", "eventgen.runtime", "run", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(REPO), **(env or {})},
        timeout=WAIT_S,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 2, no traceback, exactly one `error:` line and it is the last one.

    librdkafka's own log lines (`%3|...|FAIL|...`, written by its threads straight to stderr)
    may land anywhere, after the error line too: they are left out of the "last" check.
    """
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("%")]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0], result.stderr
    return errors[0]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "service.py").write_text(SERVICE)
    return tmp_path


def names(label: str) -> dict[str, str]:
    base = kit.unique(label)
    return {"TOPIC": f"{base}.in", "DLQ": f"{base}.in.dlq", "GROUP": f"{base}-g"}


def env_for(work: Path, made: dict[str, str], **extra: str) -> dict[str, str]:
    return {**made, "HANDLED": str(work / "handled.txt"), **extra}


# -- the handler module and the target ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def broken(:\n", "error: cannot import handlers: SyntaxError: "),
        ("raise RuntimeError('no config here')\n", "error: cannot import handlers: RuntimeError: "),
        # A handler for a message the consumer does not handle: the registration itself fails.
        (
            (
                "from tests.runtime.apps.shop import Shipped, make_app\n"
                "app = make_app('t', 'g')\n"
                "app.on(Shipped)(lambda event, ctx: None)\n"
            ),
            (
                "error: cannot import handlers: StartupError: consumer test-consumer does not "
                "handle Shipped (it handles shop.Placed)"
            ),
        ),
    ],
    ids=["syntax-error", "raises-at-import", "handler-for-a-foreign-message"],
)
def test_a_handler_module_that_does_not_import(work: Path, source: str, expected: str) -> None:
    (work / "handlers.py").write_text(source)
    line = one_error_line(run_runner(work, "handlers:app"))
    assert line.startswith(expected), line


@pytest.mark.parametrize(
    ("attr", "expected"),
    [
        ("Placed", "error: handlers:Placed is a class; name a ready object"),
        ("make_app", "error: handlers:make_app is not runnable: function has no run() method"),
        ("publisher", "error: handlers:publisher is not runnable: Publisher has no run() method"),
        ("app.spec", "error: handlers:app.spec is not runnable: ConsumerSpec has no run()"),
        ("", "error: 'handlers:': expected MODULE:ATTR"),
    ],
)
def test_a_target_that_is_not_an_app(work: Path, attr: str, expected: str) -> None:
    (work / "handlers.py").write_text(
        "from eventgen.runtime.publisher import Publisher\n"
        "from eventgen.runtime.spec import PublisherSpec\n"
        "from tests.runtime.apps.shop import Placed, make_app\n"
        "app = make_app('t', 'g')\n"
        "publisher = Publisher(PublisherSpec('shop', ()))\n"
    )
    line = one_error_line(run_runner(work, f"handlers:{attr}"))
    assert line.startswith(expected), line


def test_a_startup_error_subclass_of_the_runtime_is_caught_by_class(work: Path) -> None:
    (work / "handlers.py").write_text(
        textwrap.dedent(
            """
            from eventgen.runtime.errors import StartupError

            class NoLicence(StartupError):  # a user's own class, a runtime StartupError
                pass

            class App:
                def run(self, config=None, *, transport=None, max_messages=None,
                        idle_exit_s=None, stop=None):
                    raise NoLicence("licence file missing\\nsecond line")

            app = App()
            """
        )
    )
    line = one_error_line(run_runner(work, "handlers:app"))
    assert line == "error: handlers:app: NoLicence: licence file missing", line


# -- services that are not there --------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose connections the kernel accepts (the listen backlog) and nobody ever answers:
    a hung server, the case where only a timeout ends the wait."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


@pytest.mark.parametrize("bootstrap", ["silent", "127.0.0.1:1", "no-such-broker.invalid:9092"])
def test_a_broker_that_is_not_there_is_a_bounded_wait_then_one_line(
    work: Path, bootstrap: str, silent_port: int
) -> None:
    if bootstrap == "silent":
        bootstrap = f"127.0.0.1:{silent_port}"
    made = names("nobroker")
    result = run_runner(
        work, "service:app", "--bootstrap-servers", bootstrap, "--connect-timeout", "3",
        "--sqlite-path", str(work / "store.sqlite3"), env=env_for(work, made),
    )  # fmt: skip
    line = one_error_line(result)
    assert line.startswith("error: service:app: StartupError: consumer test-consumer: "), line
    assert "Kafka not reachable within 3 s" in line, line
    assert not (work / "handled.txt").exists()


def test_a_relay_without_a_broker_is_one_line(work: Path, silent_port: int) -> None:
    (work / "relay.py").write_text(
        textwrap.dedent(
            """
            from eventgen.runtime.relay import PollingRelay
            from eventgen.runtime.spec import OutboxSpec

            relay = PollingRelay(OutboxSpec(context="shop", table="bad_input_outbox", relay="polling"))
            """
        )
    )
    result = run_runner(
        work, "relay:relay", "--bootstrap-servers", f"127.0.0.1:{silent_port}",
        "--connect-timeout", "3",
        "--sqlite-path", str(work / "outbox.sqlite3"),
    )  # fmt: skip
    line = one_error_line(result)
    assert line.startswith("error: relay:relay: StartupError: outbox bad_input_outbox: Kafka"), line
    assert "not reachable within 3 s" in line, line


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://postgres:s3cret@127.0.0.1:1/eventgen", "Connection refused"),
        ("postgresql://postgres:s3cret@127.0.0.1:SILENT/eventgen", "timeout"),
        (
            "postgresql://postgres:s3cret@127.0.0.1:notaport/eventgen",
            'invalid integer value "notaport"',
        ),
        ("mysql://root:s3cret@127.0.0.1/eventgen", "unparsable DSN"),
        (
            "postgresql://no_such_role_x:s3cret@HOSTPORT/eventgen",
            'role "no_such_role_x" does not exist',
        ),
        ("postgresql://postgres:s3cret@HOSTPORT/eventgen?sslmode=bogus", "invalid sslmode value"),
    ],
    ids=["refused", "silent", "malformed-port", "wrong-scheme", "unknown-role", "bad-option"],
)
def test_a_wrong_postgres_dsn_is_one_line_without_the_password(
    kafka_bootstrap_servers: str,
    postgres_dsn: str,
    work: Path,
    silent_port: int,
    dsn: str,
    expected: str,
) -> None:
    hostport = postgres_dsn.split("@", 1)[1].split("/", 1)[0]
    dsn = dsn.replace("SILENT", str(silent_port)).replace("HOSTPORT", hostport)
    made = names("baddsn")
    with kit.topics(kafka_bootstrap_servers, {made["TOPIC"]: 1, made["DLQ"]: 1}):
        result = run_runner(
            work, "service:app", "--bootstrap-servers", kafka_bootstrap_servers,
            "--postgres-dsn", dsn, "--connect-timeout", "3",
            env=env_for(work, made, IDEMPOTENCY="postgres"),
        )  # fmt: skip
    line = one_error_line(result)
    assert line.startswith("error: service:app: StartupError: consumer test-consumer: "), line
    assert "PostgreSQL store" in line and expected in line, line
    assert "s3cret" not in result.stderr, result.stderr


@pytest.mark.kafka
def test_a_dlq_topic_that_does_not_exist_is_one_line(
    kafka_bootstrap_servers: str, work: Path
) -> None:
    made = names("nodlq")
    with kit.topics(kafka_bootstrap_servers, {made["TOPIC"]: 1}):  # no DLQ topic
        result = run_runner(
            work, "service:app", "--bootstrap-servers", kafka_bootstrap_servers,
            "--sqlite-path", str(work / "store.sqlite3"), "--connect-timeout", "10",
            env=env_for(work, made),
        )  # fmt: skip
    line = one_error_line(result)
    assert line == (
        f"error: service:app: StartupError: consumer test-consumer: DLQ topics missing: "
        f"{made['DLQ']}"
    ), line


@pytest.mark.kafka
def test_a_subscribed_topic_that_does_not_exist_is_one_line(
    kafka_bootstrap_servers: str, work: Path
) -> None:
    made = names("notopic")
    result = run_runner(
        work, "service:app", "--bootstrap-servers", kafka_bootstrap_servers,
        "--sqlite-path", str(work / "store.sqlite3"), "--connect-timeout", "10",
        env=env_for(work, made),
    )  # fmt: skip
    line = one_error_line(result)
    assert line.startswith("error: service:app: StartupError: consumer test-consumer: "), line
    assert made["TOPIC"] in line, line


# -- records the app cannot read --------------------------------------------------------------

Headers = Sequence[tuple[str, bytes]]


def replaced(headers: Headers, **changes: bytes | None) -> list[tuple[str, bytes]]:
    """The envelope headers with some values changed (None: the header removed)."""
    out = [(name, value) for name, value in headers if name not in changes]
    return out + [(name, value) for name, value in changes.items() if value is not None]


@pytest.mark.kafka
def test_records_with_no_or_wrong_headers_are_dead_letters_and_the_rest_flows(
    kafka_bootstrap_servers: str, work: Path
) -> None:
    made = names("badhdr")
    topic, dlq = made["TOPIC"], made["DLQ"]
    # (value bytes that decode as Placed v1, headers, what the DLQ error message starts with)
    good = [kit.encoded(topic, Placed(order="k", seq=i)) for i in range(100, 106)]
    _, key, value, headers = kit.encoded(topic, Placed(order="k", seq=1))
    bad: list[tuple[list[tuple[str, bytes]], str]] = [
        ([], "no_type: "),
        (replaced(headers, type=None), "no_type: "),
        (replaced(headers, schema_version=b"abc"), "bad_envelope: `schema_version` header 'abc'"),
        (replaced(headers, schema_version=None), "bad_envelope: `schema_version` header None"),
        (replaced(headers, schema_version=b"7"), "unsupported_version: v7 is newer"),
        (replaced(headers, event_id=b"x"), "bad_envelope: "),
        (replaced(headers, occurred_at=b"yesterday"), "bad_envelope: "),
        (replaced(headers, type=b"not a type!"), "bad_envelope: `type` header 'not a type!'"),
        (replaced(headers, type=b"\xff\xfe"), "bad_envelope: header 'type' is not UTF-8 text"),
        (replaced(headers, event_id=b"\xc3"), "bad_envelope: header 'event_id' is not UTF-8"),
    ]
    # A well-formed type that no message of the topic has: skipped, not a dead letter (the
    # contract: "unknown type with no handler is *not* a dead letter").
    foreign = replaced(headers, type=b"shop.NoSuchEvent")
    records: list[kit.Raw] = [good[0]]
    records += [(0, key, value, h) for h, _ in bad]
    records += [(0, key, value, foreign), *good[1:]]
    with kit.topics(kafka_bootstrap_servers, {topic: 1, dlq: 1}):
        kit.produce(kafka_bootstrap_servers, topic, records)
        result = run_runner(
            work, "service:app", "--bootstrap-servers", kafka_bootstrap_servers,
            "--sqlite-path", str(work / "store.sqlite3"), "--idle-exit", "5",
            env=env_for(work, made),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        # Nothing lost: every good record handled, in order, around the bad ones.
        handled = (work / "handled.txt").read_text().split()
        assert handled == [str(i) for i in range(100, 106)], handled
        assert f"consumed={len(records)} handled=6 skipped=1 duplicates=0 retried=0 " in (
            result.stderr
        ), result.stderr
        assert f"dead_lettered={len(bad)}" in result.stderr, result.stderr
        letters = kit.read_all(kafka_bootstrap_servers, dlq, expect=len(bad))
        for letter, (sent_headers, message) in zip(letters, bad, strict=True):
            assert (letter.key(), letter.value()) == (key, value)
            got = letter.headers() or []
            assert got[: len(sent_headers)] == sent_headers  # the original headers unchanged
            info = dict(got[len(sent_headers) :])
            assert info["eventgen-dlq-reason"] == b"decode", info
            assert info["eventgen-dlq-error-class"] == b"eventgen.runtime.errors.DecodeError"
            assert info["eventgen-dlq-error-message"].decode().startswith(message), info
            assert info["eventgen-dlq-original-topic"] == topic.encode()
        offsets = [int(dict(r.headers() or [])["eventgen-dlq-original-offset"]) for r in letters]
        assert offsets == list(range(1, len(bad) + 1))
        # Every record's offset committed, the dead letters' and the skipped one's too.
        assert kit.committed(kafka_bootstrap_servers, made["GROUP"], topic, 1) == [len(records)]
