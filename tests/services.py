"""Pytest fixtures for the real services of scripts/services (Kafka KRaft, PostgreSQL).

Each fixture reuses a running service named by its environment variable
(`KAFKA_BOOTSTRAP_SERVERS`, `EVENTGEN_POSTGRES_DSN`, as printed by `scripts/services start`).
If the variable is unset, it starts a private instance for the test session with the script and
stops it at the end. Register the fixtures in a conftest.py:

    from tests.services import kafka_bootstrap_servers, postgres_dsn  # noqa: F401
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent
SERVICES_SCRIPT = REPO_DIR / "scripts" / "services"
# Bounds for the script itself; its readiness waits have their own timeouts (120 s, 60 s),
# a cold start adds the jar download.
START_TIMEOUT_S = 600
STOP_TIMEOUT_S = 120


def _run_script(state_dir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    # sys.executable: the script is stdlib-only, and with the test interpreter its optional
    # readiness checks can use the client libraries of this environment.
    return subprocess.run(
        [sys.executable, str(SERVICES_SCRIPT), "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def started_services(name: str, *start_args: str) -> Iterator[dict[str, str]]:
    """Start services in their own state dir, yield the exported variables, always stop.

    `name` keeps the state dir apart from other instances, e.g. a developer's own
    `scripts/services start` (which uses .services/ itself).
    """
    state_dir = REPO_DIR / ".services" / f"pytest-{os.getpid()}-{name}"
    try:
        result = _run_script(state_dir, "start", *start_args, timeout=START_TIMEOUT_S)
        if result.returncode != 0:
            pytest.fail(
                f"scripts/services start {' '.join(start_args)} failed "
                f"(exit {result.returncode}):\n{result.stderr[-4000:]}",
                pytrace=False,
            )
        exports = {}
        for line in result.stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            exports[key] = shlex.split(value)[0]
        yield exports
    finally:
        _run_script(state_dir, "stop", timeout=STOP_TIMEOUT_S)
        if state_dir.is_dir() and not any(state_dir.iterdir()):
            state_dir.rmdir()


@pytest.fixture(scope="session")
def kafka_bootstrap_servers() -> Iterator[str]:
    """Bootstrap servers of a real Kafka: $KAFKA_BOOTSTRAP_SERVERS, or a session broker."""
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
        return
    with started_services("kafka", "--no-postgres") as exports:
        yield exports["KAFKA_BOOTSTRAP_SERVERS"]


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a real PostgreSQL database: $EVENTGEN_POSTGRES_DSN, or a session cluster."""
    if dsn := os.environ.get("EVENTGEN_POSTGRES_DSN"):
        yield dsn
        return
    with started_services("postgres", "--no-kafka") as exports:
        yield exports["EVENTGEN_POSTGRES_DSN"]


REGISTRY_SCRIPT = REPO_DIR / "scripts" / "registry"
REGISTRY_START_TIMEOUT_S = 600  # a cold start downloads ~140 MB from Maven Central
REGISTRY_STOP_TIMEOUT_S = 60


def run_registry_script(
    state_dir: Path, *args: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REGISTRY_SCRIPT), "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def registry_url() -> Iterator[str]:
    """Base URL of a real Confluent-compatible registry (Apicurio, scripts/registry):
    $EVENTGEN_REGISTRY_URL, or one registry for the whole session.

    Registered once, in tests/conftest.py: a session fixture imported into several modules
    would be several fixtures, each starting a registry in the same state dir.
    """
    if url := os.environ.get("EVENTGEN_REGISTRY_URL"):
        yield url.rstrip("/")
        return
    state_dir = REPO_DIR / ".services" / f"pytest-{os.getpid()}-registry"
    try:
        result = run_registry_script(state_dir, "start", timeout=REGISTRY_START_TIMEOUT_S)
        if result.returncode != 0:
            pytest.fail(
                f"scripts/registry start failed (exit {result.returncode}):\n"
                f"{result.stderr[-4000:]}",
                pytrace=False,
            )
        line = result.stdout.strip().splitlines()[-1]
        key, _, value = line.removeprefix("export ").partition("=")
        assert key == "EVENTGEN_REGISTRY_URL", result.stdout
        yield shlex.split(value)[0]
    finally:
        run_registry_script(state_dir, "stop", timeout=REGISTRY_STOP_TIMEOUT_S)
        if state_dir.is_dir() and not any(state_dir.iterdir()):
            state_dir.rmdir()
