"""`python -m eventgen.runtime run MODULE:ATTR`: imports, configuration, exit codes, signals.

The runner is run as a real process (the signals are real signals) on small user modules
written into a temporary working directory, which the runner puts on sys.path as `python -m`
does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from eventgen.runtime import runner
from eventgen.runtime.config import RuntimeConfig

WAIT_S = 60  # upper bound of every wait for the child process; never reached when it works
# The signal tests' bound on each wait (a line, the exit): generous for a loaded machine (the
# runner's imports alone can take many seconds there); each wait ends at the event it awaits.
SIGNAL_WAIT_S = 240.0

RECORDER = """
import json, os, threading

class Recorder:
    def run(self, config=None, *, transport=None, max_messages=None, idle_exit_s=None, stop=None):
        with open(os.environ["RECORD_TO"], "w") as out:
            json.dump({
                "bootstrap": config.bootstrap_servers, "dsn": config.postgres_dsn,
                "sqlite": config.sqlite_path, "registry": config.schema_registry_url,
                "instance": config.instance_id, "client": dict(config.client),
                "timeout": config.connect_timeout_s, "interval": config.log_interval_s,
                "max": max_messages, "idle": idle_exit_s,
                "stop_is_event": isinstance(stop, threading.Event), "transport": transport,
            }, out)
        return "stats"

app = Recorder()
holder = type("Holder", (), {"app": app})
not_runnable = object()
Cls = Recorder

class NoKeywords:
    def run(self):
        pass

no_keywords = NoKeywords()
"""

WAITER = """
import os, pathlib, time

class Waiter:
    def run(self, config=None, *, transport=None, max_messages=None, idle_exit_s=None, stop=None):
        pathlib.Path(os.environ["READY"]).write_text("ready")
        print("waiter ready", flush=True)  # the test waits for this line (the handlers are set)
        ignore = os.environ.get("IGNORE_STOP") == "1"
        deadline = time.monotonic() + float(os.environ.get("GIVE_UP_S", "60"))
        while time.monotonic() < deadline:
            if stop.wait(0.05) and not ignore:
                pathlib.Path(os.environ["READY"]).write_text("stopped")
                return None
        raise SystemExit(99)  # never stopped: the test sees exit 99, not a hang

app = Waiter()
"""

FAILING = """
from eventgen.runtime.config import ConfigError

class StartupError(Exception):  # the user's own class: not the runtime's
    pass

class Fails:
    def __init__(self, exc):
        self.exc = exc
    def run(self, config=None, *, transport=None, max_messages=None, idle_exit_s=None, stop=None):
        raise self.exc

config_error = Fails(ConfigError("bad dsn\\nsecond line"))
users_startup = Fails(StartupError("mine"))
crash = Fails(RuntimeError("boom"))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EVENTGEN_", "KAFKA_")) and k != "PYTHONPATH"
    }
    return {**env, **extra}


def _runner(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventgen.runtime", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or _env(),
        timeout=WAIT_S,
        check=False,
    )


def _error_line(stderr: str) -> str:
    """The one `error:` line (log lines may precede it), and no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert stderr.rstrip().endswith(errors[0]), stderr
    return errors[0]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "recorder.py").write_text(RECORDER)
    (tmp_path / "waiter.py").write_text(WAITER)
    (tmp_path / "failing.py").write_text(FAILING)
    (tmp_path / "broken.py").write_text("import no_such_module_here\n")
    return tmp_path


def test_flags_override_environment_and_reach_run(work: Path) -> None:
    record = work / "record.json"
    env = _env(
        RECORD_TO=str(record),
        KAFKA_BOOTSTRAP_SERVERS="env:9092",
        EVENTGEN_POSTGRES_DSN="postgresql://env",
        EVENTGEN_SQLITE_PATH="env.sqlite3",
        EVENTGEN_CLIENT_SECURITY_PROTOCOL="SSL",
        EVENTGEN_CLIENT_LINGER_MS="7",
    )
    result = _runner(
        work,
        "run",
        "recorder:app",
        "--bootstrap-servers",
        "flag:9092",
        "--instance-id",
        "i-3",
        "--client",
        "linger.ms=5",
        "--client",
        "client.id=x=y",
        "--max-messages",
        "10",
        "--idle-exit",
        "2.5",
        "--connect-timeout",
        "4",
        "--log-interval",
        "0.5",
        "--schema-registry-url",
        "http://sr:8081",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(record.read_text())
    assert seen == {
        "bootstrap": "flag:9092",
        "dsn": "postgresql://env",
        "sqlite": "env.sqlite3",
        "registry": "http://sr:8081",
        "instance": "i-3",
        "client": {"security.protocol": "SSL", "linger.ms": "5", "client.id": "x=y"},
        "timeout": 4.0,
        "interval": 0.5,
        "max": 10,
        "idle": 2.5,
        "stop_is_event": True,
        "transport": None,
    }
    assert "stopped (run ended): stats" in result.stderr


def test_dotted_attribute_path(work: Path) -> None:
    result = _runner(work, "run", "recorder:holder.app", env=_env(RECORD_TO=str(work / "r.json")))
    assert result.returncode == 0, result.stderr
    assert json.loads((work / "r.json").read_text())["bootstrap"] == "127.0.0.1:9092"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("recorder", "error: 'recorder': expected MODULE:ATTR"),
        ("no_such_mod:app", "error: cannot import no_such_mod: ModuleNotFoundError: No module"),
        ("broken:app", "error: cannot import broken: ModuleNotFoundError: No module named 'no_"),
        ("recorder:missing", "error: recorder has no attribute 'missing'"),
        ("recorder:not_runnable", "error: recorder:not_runnable is not runnable: object has no"),
        ("recorder:Cls", "error: recorder:Cls is a class; name a ready object"),
        ("recorder:no_keywords", "error: recorder:no_keywords is not runnable: its run() lacks"),
        ("failing:config_error", "error: failing:config_error: ConfigError: bad dsn"),
    ],
)
def test_operator_errors_are_one_line_and_exit_2(work: Path, target: str, message: str) -> None:
    result = _runner(work, "run", target)
    assert result.returncode == 2, result.stderr
    assert _error_line(result.stderr).startswith(message), result.stderr


def test_bad_flags_exit_2(work: Path) -> None:
    for args in (["--max-messages", "0"], ["--idle-exit", "-1"], ["--client", "novalue"]):
        result = _runner(work, "run", "recorder:app", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "expected" in result.stderr, result.stderr
    env = _env(RECORD_TO=str(work / "r.json"), EVENTGEN_CONNECT_TIMEOUT="soon")
    result = _runner(work, "run", "recorder:app", env=env)
    assert result.returncode == 2
    assert _error_line(result.stderr).startswith(
        "error: configuration: EVENTGEN_CONNECT_TIMEOUT='soon'"
    )


def test_unexpected_exception_exits_1_with_traceback(work: Path) -> None:
    # A class the user named StartupError is not the runtime's: an ordinary crash.
    for target, text in (("failing:crash", "RuntimeError: boom"), ("failing:users_startup", "")):
        result = _runner(work, "run", target)
        assert result.returncode == 1, result.stderr
        assert "Traceback" in result.stderr and text in result.stderr


class _Child:
    """A runner process whose stdout and stderr lines are read as they come (two threads), so
    a test waits for a line or for the exit, each bounded, instead of polling."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream, into), daemon=True)
            for name, stream, into in (
                ("out", self.process.stdout, self.out),
                ("err", self.process.stderr, self.err),
            )
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)
            self.lines.put((name, line))

    def wait_for(self, text: str, timeout: float = SIGNAL_WAIT_S) -> str:
        """The first output line containing `text`; fails when the process ends first or
        after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no line with {text!r} within {timeout} s: {self.transcript()}")
            try:
                _, line = self.lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                ended = self.process.poll() is not None
                if ended and not any(r.is_alive() for r in self._readers) and self.lines.empty():
                    pytest.fail(
                        f"exited {self.process.returncode} before {text!r}: {self.transcript()}"
                    )
                continue
            if text in line:
                return line

    def finish(self, timeout: float = SIGNAL_WAIT_S) -> tuple[int, str]:
        """(exit code, stderr) once the process ended (killed after `timeout` seconds)."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            pytest.fail(f"still running after {timeout} s: {self.transcript()}")
        for reader in self._readers:
            reader.join(timeout=30)
        return code, "".join(self.err)

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def transcript(self) -> str:
        return f"stdout={''.join(self.out)!r} stderr={''.join(self.err)!r}"


# `python -m eventgen.runtime ...` with SIGINT and SIGTERM as an interactive shell gives them.
# A background job of a non-interactive shell (`pytest ... &` in a CI script) inherits SIGINT
# ignored, and the runner then rightly leaves it ignored (as `nohup` asks): the SIGINT case of
# the signal test waited out the waiter's 60 s there and hit the test's 60 s bound.
def _launch(sigint: str = "signal.default_int_handler") -> str:
    return (
        "import runpy, signal, sys; "
        f"signal.signal(signal.SIGINT, {sigint}); "
        "signal.signal(signal.SIGTERM, signal.SIG_DFL); "
        "sys.argv[0] = 'eventgen.runtime'; "
        "runpy.run_module('eventgen.runtime', run_name='__main__', alter_sys=True)"
    )


def _start_waiter(
    work: Path, *, ignore_stop: bool, sigint: str = "signal.default_int_handler"
) -> tuple[_Child, Path]:
    ready = work / "ready"
    env = _env(
        READY=str(ready),
        IGNORE_STOP="1" if ignore_stop else "0",
        GIVE_UP_S=str(SIGNAL_WAIT_S / 2),  # the child gives up (exit 99) before the test
    )
    child = _Child([sys.executable, "-c", _launch(sigint), "run", "waiter:app"], work, env)
    child.wait_for("waiter ready")
    assert ready.read_text() == "ready"
    return child, ready


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_gracefully_with_exit_0(work: Path, signum: signal.Signals) -> None:
    child, ready = _start_waiter(work, ignore_stop=False)
    child.send_signal(signum)
    code, err = child.finish()
    assert code == 0, err
    assert ready.read_text() == "stopped"
    assert f"{signum.name}: stopping" in err
    assert "stopped (stop requested)" in err


def test_an_ignored_sigint_stays_ignored(work: Path) -> None:
    # What `nohup` or `cmd &` in a script asks for: SIGINT does nothing, SIGTERM still stops.
    child, ready = _start_waiter(work, ignore_stop=False, sigint="signal.SIG_IGN")
    child.send_signal(signal.SIGINT)
    child.send_signal(signal.SIGTERM)
    code, err = child.finish()
    assert code == 0, err
    assert "SIGINT" not in err and "SIGTERM: stopping" in err
    assert ready.read_text() == "stopped"


def test_second_signal_exits_at_once_with_128_plus_signal(work: Path) -> None:
    child, ready = _start_waiter(work, ignore_stop=True)
    child.send_signal(signal.SIGTERM)
    # The first signal's line says the handler ran; only then does a second one count.
    child.wait_for("SIGTERM: stopping")
    child.send_signal(signal.SIGTERM)
    code, err = child.finish()
    assert code == 128 + signal.SIGTERM, err
    assert "SIGTERM again: exiting now" in err
    assert ready.read_text() == "ready"


class _Inline:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def run(
        self,
        config: RuntimeConfig | None = None,
        *,
        transport: Any = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.calls.append(
            {"config": config, "transport": transport, "max": max_messages, "stop": stop}
        )


def test_run_from_python_with_an_object() -> None:
    target, stop, transport = _Inline(), threading.Event(), object()
    code = runner.run(
        target,
        transport=transport,
        max_messages=3,
        stop=stop,
        environ={"KAFKA_BOOTSTRAP_SERVERS": "env:1"},
        postgres_dsn="postgresql://flag",
        client={"acks": "all"},
    )
    assert code == 0
    (call,) = target.calls
    assert call["transport"] is transport and call["stop"] is stop and call["max"] == 3
    config = call["config"]
    assert (config.bootstrap_servers, config.postgres_dsn) == ("env:1", "postgresql://flag")
    assert dict(config.client) == {"acks": "all"}
    assert runner.run(target, environ={}, no_such_flag="x") == 2
    assert runner.run(object(), environ={}) == 2
    assert len(target.calls) == 1


def test_signal_handlers_are_restored_after_run() -> None:
    before = signal.getsignal(signal.SIGTERM)
    assert runner.run(_Inline(), environ={}) == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_startup_error_from_the_runtime_is_exit_2_in_one_line(work: Path) -> None:
    """A real app that cannot reach its broker raises the runtime's StartupError."""
    pytest.importorskip("eventgen.runtime.app.consumer")
    (work / "unreachable.py").write_text(
        textwrap.dedent(
            """
            from eventgen.runtime.app.consumer import ConsumerApp
            from eventgen.runtime.registry import TopicBinding
            from eventgen.runtime.spec import ConsumerSpec, Route

            spec = ConsumerSpec(
                name="c", context="x", group="g", handles=(), idempotency="none",
                topics=(Route(TopicBinding("t", {}, None), dlq="t.dlq"),),
            )
            app = ConsumerApp(spec, [])
            """
        )
    )
    result = _runner(
        work,
        "run",
        "unreachable:app",
        "--bootstrap-servers",
        "127.0.0.1:1",
        "--connect-timeout",
        "1",
    )
    assert result.returncode == 2, result.stderr
    line = _error_line(result.stderr)
    assert line.startswith("error: unreachable:app: StartupError: "), result.stderr
    assert "127.0.0.1:1" in line or "reach" in line, line


def test_dlq_replay_forwards_its_arguments(work: Path) -> None:
    replay = pytest.importorskip("eventgen.runtime.failures.replay")
    assert callable(replay.main)
    result = _runner(work, "dlq", "replay", "--help")
    assert result.returncode == 0, result.stderr
    assert "--dry-run" in result.stdout
    assert "python -m eventgen.runtime dlq replay" in result.stdout
    bad = _runner(work, "dlq", "replay", "--no-such-option")
    assert bad.returncode == 2, bad.stderr


def test_saga_and_flows_commands_are_delegated(work: Path) -> None:
    helped = _runner(work, "saga", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: python -m eventgen.runtime saga")
    for action in ("list", "show", "resume", "retry-step", "skip-step", "abort"):
        assert action in helped.stdout
    listed = _runner(work, "saga", "list", "recorder:app")
    assert listed.returncode == 2
    assert "recorder:app is not a saga worker: Recorder has no definition" in listed.stderr
    assert _runner(work, "saga").returncode == 2  # no action: usage
    flows = _runner(work, "flows", "--help")
    if importlib.util.find_spec("eventgen.runtime.saga.flows_cli") is None:  # not written yet
        assert flows.returncode == 2
        assert flows.stderr.startswith("error: flows is not available"), flows.stderr
    else:
        assert flows.returncode == 0, flows.stderr
        assert "python -m eventgen.runtime flows" in flows.stdout
    top = _runner(work, "--help")
    assert "saga" in top.stdout and "flows" in top.stdout
