"""Shared fixtures of the compatibility tests: the Avro-Java oracle, one JVM per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.compat.avro_java import AvroJava, OracleUnavailable


@pytest.fixture(scope="session")
def avro_java() -> Iterator[AvroJava]:
    """The running oracle; in CI a missing Java or Maven fails the tests instead of skipping."""
    try:
        oracle = AvroJava()
    except OracleUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Avro-Java oracle unavailable in CI: {exc}")
        pytest.skip(f"Avro-Java oracle unavailable: {exc}")
    try:
        yield oracle
    finally:
        oracle.close()
